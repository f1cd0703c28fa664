"""Keras builder for the small CNN."""

from __future__ import annotations

import keras
from keras import layers


def build(input_shape: tuple[int, int, int] = (32, 32, 3), num_classes: int = 10) -> keras.Model:
    """Small convolutional network for 32x32 colour images.

    Conv2D(32, 3) -> MaxPool -> Conv2D(64, 3) -> MaxPool -> Conv2D(64, 3) -> Flatten ->
    Dense(64) -> Dense(``num_classes``, softmax); "valid" convolutions with ReLU, so
    32 -> 30 -> 15 -> 13 -> 6 -> 4: 4x4x64 features before the dense layers.

    Parts: ``features`` (image -> the 64 units of the hidden dense layer) and ``head``
    (-> class probabilities).

    Reference:
        A. Krizhevsky. Learning multiple layers of features from tiny images. Technical report,
        University of Toronto, 2009 (CIFAR-10).
    """
    image = keras.Input(input_shape, name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(image)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="hidden")(x)
    features = keras.Model(image, x, name="features")

    code = keras.Input((64,), name="hidden_activations")
    head = keras.Model(
        code, layers.Dense(num_classes, activation="softmax", name="output")(code), name="head"
    )

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, head(features(inputs)), name="cnn_small")
