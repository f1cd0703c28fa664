"""The lecture's autoencoders as a zoo plugin: specs only, the Keras code is in model.py."""

from __future__ import annotations

from zoo import hookimpl
from zoo.specs import ArchitectureSpec, HyperParameter


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="conv-ae",
            builder="zoo_autoencoders.model:build_conv_ae",
            family="autoencoder",
            task="reconstruction",
            input_shape=(28, 28, 1),
            parts=("encoder", "decoder"),
            summary="convolutional autoencoder: Conv16-Pool-Conv32-Pool-Conv64-Pool, mirrored",
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
                    "activation",
                    "relu",
                    "activation of the hidden convolutions",
                    type=str,
                    choices=("relu", "elu", "tanh", "sigmoid"),
                ),
            ),
            reference=(
                "J. Masci, U. Meier, D. Ciresan, J. Schmidhuber. Stacked convolutional "
                "auto-encoders for hierarchical feature extraction. ICANN 2011"
            ),
            epochs=5,
            batch_size=128,
        )
    )
