"""Keras builder for the small U-Net."""

from __future__ import annotations

import keras
from keras import layers

STRIDE = 4  # two 2x2 poolings: height and width must be multiples of this


def _convs(x, width: int, first: str, second: str):
    """Two 3x3 convolutions ("same", relu), the U-Net's unit."""
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name=first)(x)
    return layers.Conv2D(width, 3, padding="same", activation="relu", name=second)(x)


def build(
    input_shape: tuple[int | None, int | None, int] = (None, None, 1),
    filters: int = 16,
    num_classes: int = 11,
) -> keras.Model:
    """A small U-Net: a contracting path, an expanding path, and skip connections between them.

    Encoder: two 3x3 convolutions (``filters``, "same", relu) -> ``skip1``; 2x2 max pooling; two
    3x3 convolutions (2 x ``filters``) -> ``skip2``; 2x2 max pooling; two 3x3 convolutions
    (4 x ``filters``) -> the code at 1/4 resolution. Decoder: a 2x2 transposed convolution with
    stride 2 (2 x ``filters``), concatenated with ``skip2``, two 3x3 convolutions; again to full
    resolution (``filters``) with ``skip1``; then a 1x1 convolution to ``num_classes`` with a
    softmax over classes at every pixel. No dense layer, so it takes any height and width that
    are multiples of 4 (28x28 MNIST digits included). Two downsamplings rather than the paper's
    four, and "same" padding, so that the output has the image's size and no crop is needed.

    Parts: ``encoder`` (image -> ``[code, skip1, skip2]``: the code at 1/4 resolution and the
    feature maps at full and 1/2 resolution) and ``decoder`` (``[code, skip1, skip2]`` -> per-pixel
    class probabilities, same height and width as the image). The encoder hands the decoder all
    three tensors (the decoder takes three inputs), named ``code``, ``skip1`` and ``skip2`` in the
    exported files.

    Reference:
        O. Ronneberger, P. Fischer, T. Brox. U-Net: convolutional networks for biomedical image
        segmentation. MICCAI 2015.
    """
    image = keras.Input(input_shape, name="image")
    skip1 = _convs(image, filters, "enc1", "skip1")
    x = layers.MaxPooling2D(2, name="pool1")(skip1)
    skip2 = _convs(x, filters * 2, "enc2", "skip2")
    x = layers.MaxPooling2D(2, name="pool2")(skip2)
    code = _convs(x, filters * 4, "enc3a", "enc3b")
    encoder = keras.Model(image, [code, skip1, skip2], name="encoder")

    code_in = keras.Input((None, None, filters * 4), name="code")
    skip1_in = keras.Input((None, None, filters), name="skip1")
    skip2_in = keras.Input((None, None, filters * 2), name="skip2")
    y = layers.Conv2DTranspose(filters * 2, 2, strides=2, padding="same", name="up2")(code_in)
    y = layers.Concatenate(name="concat2")([y, skip2_in])
    y = _convs(y, filters * 2, "dec2a", "dec2b")
    y = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name="up1")(y)
    y = layers.Concatenate(name="concat1")([y, skip1_in])
    y = _convs(y, filters, "dec1a", "dec1b")
    y = layers.Conv2D(num_classes, 1, activation="softmax", name="classes")(y)
    decoder = keras.Model([code_in, skip1_in, skip2_in], y, name="decoder")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="unet")
