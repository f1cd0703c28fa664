"""Keras builders for the autoencoders."""

from __future__ import annotations

import keras
from keras import layers


def build_conv_ae(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 16,
    activation: str = "relu",
) -> keras.Model:
    """Convolutional autoencoder for 28x28x1 images.

    Encoder: Conv2D(16, 3)-MaxPool-Conv2D(32, 3)-MaxPool-Conv2D(64, 3)-MaxPool, "same" padding,
    so 28x28x1 -> 14 -> 7 -> a 4x4x64 code. Decoder, mirrored: Conv2DTranspose(64, 3, stride 2)
    -> 8x8, cropped to 7x7 -> Conv2DTranspose(32) -> 14 -> Conv2DTranspose(16) -> 28 ->
    Conv2D(1, 3) with a sigmoid, so the reconstruction lies in [0, 1] like the input.

    Parts: ``encoder`` (image -> code) and ``decoder`` (code -> reconstruction).

    Reference:
        J. Masci, U. Meier, D. Ciresan, J. Schmidhuber. Stacked convolutional auto-encoders for
        hierarchical feature extraction. ICANN 2011.
    """
    widths = (filters, filters * 2, filters * 4)
    image = keras.Input(input_shape, name="image")
    x = image
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, padding="same", activation=activation, name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
    encoder = keras.Model(image, x, name="encoder")

    code = keras.Input(encoder.output.shape[1:], name="code")
    y = code
    for i, width in enumerate(reversed(widths), start=1):
        y = layers.Conv2DTranspose(
            width, 3, strides=2, padding="same", activation=activation, name=f"deconv{i}"
        )(y)
        if i == 1:
            # 4x4 -> 8x8 overshoots the encoder's 7x7 (28 / 2 / 2): drop the last row and column.
            y = layers.Cropping2D(((0, 1), (0, 1)), name="crop")(y)
    y = layers.Conv2D(input_shape[-1], 3, padding="same", activation="sigmoid", name="output")(y)
    decoder = keras.Model(code, y, name="decoder")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="conv_ae")
