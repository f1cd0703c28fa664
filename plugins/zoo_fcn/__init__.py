"""A fully convolutional encoder-decoder for per-pixel labels: specs only (model.py builds it)."""

from __future__ import annotations

from zoo.api import ArchitectureSpec, HyperParameter, hookimpl


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="fcn",
            builder="zoo_fcn.model:build",
            family="segmentation",
            task="segmentation",
            input_shape=(None, None, 1),
            parts=("encoder", "decoder"),
            summary="fully convolutional encoder-decoder: a class per pixel (background + 10 digits)",
            default_dataset="mnist",
            hyperparameters=(
                HyperParameter(
                    "filters",
                    16,
                    "filters of the first convolution; doubled at each stage",
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
                "J. Long, E. Shelhamer, T. Darrell. Fully convolutional networks for semantic "
                "segmentation. CVPR 2015"
            ),
            epochs=5,
            batch_size=64,
            parameters=95_067,
        )
    )
