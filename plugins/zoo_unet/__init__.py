"""A small U-Net for per-pixel labels: specs only (model.py builds it).

Its encoder hands the decoder three tensors, ``[code, skip1, skip2]``: the parts are joined by
several named tensors, not one.
"""

from __future__ import annotations

from zoo.api import ArchitectureSpec, HyperParameter, hookimpl


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="unet",
            builder="zoo_unet.model:build",
            family="segmentation",
            task="segmentation",
            input_shape=(None, None, 1),
            parts=("encoder", "decoder"),
            summary="small U-Net: encoder-decoder with skip connections, a class per pixel "
            "(background + 10 digits)",
            default_dataset="mnist",
            hyperparameters=(
                HyperParameter(
                    "filters",
                    16,
                    "filters of the first convolution; doubled at each downsampling",
                    type=int,
                    minimum=1,
                    maximum=1024,
                ),
                HyperParameter(
                    "num_classes",
                    11,
                    "classes per pixel, background included",
                    type=int,
                    minimum=2,
                    maximum=1000,
                ),
            ),
            reference=(
                "O. Ronneberger, P. Fischer, T. Brox. U-Net: convolutional networks for biomedical "
                "image segmentation. MICCAI 2015"
            ),
            epochs=5,
            batch_size=64,
            parameters=116_923,
        )
    )
