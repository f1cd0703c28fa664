"""Keras builder for the fully convolutional encoder-decoder."""

from __future__ import annotations

import keras
from keras import layers

STRIDE = 4  # two 2x2 poolings: height and width must be multiples of this


def build(
    input_shape: tuple[int | None, int | None, int] = (None, None, 1),
    filters: int = 16,
    num_classes: int = 11,
) -> keras.Model:
    """Fully convolutional encoder-decoder with one class distribution per pixel.

    Encoder: Conv2D(16, 3)-Conv2D(16, 3)-MaxPool-Conv2D(32, 3)-Conv2D(32, 3)-MaxPool, then two
    Conv2D(64, 3) with dilation 2 and 4 for context ("same", relu). Decoder:
    Conv2DTranspose(32, 3, stride 2)-Conv2DTranspose(16, 3, stride 2)-Conv2D(``num_classes``, 1)
    with a softmax over classes at every pixel. No dense layer, so it takes any height and width
    that are multiples of 4 (28x28 MNIST digits included).

    Parts: ``encoder`` (image -> feature map at 1/4 resolution) and ``decoder`` (-> per-pixel
    class probabilities, same height and width as the image).

    Reference:
        J. Long, E. Shelhamer, T. Darrell. Fully convolutional networks for semantic
        segmentation. CVPR 2015.
    """
    image = keras.Input(input_shape, name="image")
    x = image
    for i, width in enumerate((filters, filters * 2), start=1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}a")(x)
        x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv{i}b")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    # Which digit a pixel belongs to depends on the whole digit: dilated convolutions widen the
    # receptive field to about 60 pixels without another pooling (28 / 8 is not whole).
    for rate in (2, 4):
        x = layers.Conv2D(
            filters * 4, 3, padding="same", dilation_rate=rate, activation="relu", name=f"context{rate}"
        )(x)
    encoder = keras.Model(image, x, name="encoder")

    code = keras.Input((None, None, filters * 4), name="code")
    y = layers.Conv2DTranspose(filters * 2, 3, strides=2, padding="same", activation="relu", name="up1")(code)
    y = layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu", name="up2")(y)
    y = layers.Conv2D(num_classes, 1, activation="softmax", name="classes")(y)
    decoder = keras.Model(code, y, name="decoder")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="fcn")
