"""LeNet-5 (LeCun et al., 1998) as a zoo plugin: specs only, the Keras code is in model.py."""

from __future__ import annotations

from zoo.api import ArchitectureSpec, HyperParameter, hookimpl


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="lenet5",
            builder="zoo_lenet.model:build",
            family="classifier",
            task="classification",
            input_shape=(32, 32, 1),
            parts=("features", "head"),
            summary="LeNet-5: C1-S2-C3-S4-C5-F6-output, tanh and average pooling, 32x32 grey",
            default_dataset="mnist",
            hyperparameters=(
                HyperParameter(
                    "activation",
                    "tanh",
                    "hidden activation (tanh as in 1998, relu: modern)",
                    type=str,
                    choices=("tanh", "relu"),
                ),
                HyperParameter(
                    "pooling",
                    "average",
                    "subsampling layers S2 and S4",
                    type=str,
                    choices=("average", "max"),
                ),
                HyperParameter("num_classes", 10, "output units", type=int, minimum=2, maximum=100_000),
            ),
            reference=(
                "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to "
                "document recognition. Proc. IEEE 86(11):2278-2324, 1998"
            ),
            # 20 passes, as LeCun et al. trained; a cosine schedule did best of those measured
            # over 3 seeds (benchmarks/RESULTS.md: 0.97% plain, 0.66% with --augment affine)
            epochs=20,
            batch_size=32,
            lr_schedule="cosine",
            parameters=61_706,
        )
    )
