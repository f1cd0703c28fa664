"""Keras builder of the example plugin."""

from __future__ import annotations

import keras
from keras import layers


def build(input_shape: tuple[int, int, int] = (28, 28, 1), hidden: int = 128) -> keras.Model:
    """A one-hidden-layer perceptron.

    Parts: ``features`` (image -> ``hidden`` relu units) and ``head`` (-> 10 softmax units).

    Reference:
        D. E. Rumelhart, G. E. Hinton, R. J. Williams. Learning representations by
        back-propagating errors. Nature 323:533-536, 1986.
    """
    image = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    features = keras.Model(image, x, name="features")

    code = keras.Input((hidden,), name="hidden_activations")
    head = keras.Model(code, layers.Dense(10, activation="softmax", name="output")(code), name="head")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, head(features(inputs)), name="mlp")
