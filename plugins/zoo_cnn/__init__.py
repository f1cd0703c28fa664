"""The lecture's small CNN for 32x32 colour images: specs only, the Keras code is in model.py."""

from __future__ import annotations

from zoo.api import ArchitectureSpec, HyperParameter, hookimpl


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="cnn-small",
            builder="zoo_cnn.model:build",
            family="classifier",
            task="classification",
            input_shape=(32, 32, 3),
            parts=("features", "head"),
            summary="small CNN: Conv32-Pool-Conv64-Pool-Conv64-Dense64-Dense10 on 32x32x3",
            default_dataset="cifar10",
            hyperparameters=(
                HyperParameter("num_classes", 10, "output units", type=int, minimum=2, maximum=100_000),
            ),
            reference=(
                "TensorFlow tutorial 'Convolutional Neural Network (CNN)' on CIFAR-10; "
                "A. Krizhevsky. Learning multiple layers of features from tiny images. 2009"
            ),
            epochs=10,
            batch_size=64,
            parameters=122_570,
        )
    )
