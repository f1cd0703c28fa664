"""Builders and loaders that break the plugin contract, each in one way (tests/bad_plugins.py
registers them)."""

from __future__ import annotations

import numpy as np


def build_ae(input_shape=(8, 8, 1), drop_decoder=False):
    """A dense autoencoder of 8x8 images: encoder (64 -> 4) and decoder (4 -> 64); 580
    trainable parameters."""
    import keras
    from keras import layers

    image = keras.Input(input_shape)
    encoder = keras.Model(image, layers.Dense(4, name="c")(layers.Flatten()(image)), name="encoder")
    code = keras.Input((4,))
    flat = layers.Dense(int(np.prod(input_shape)), activation="sigmoid", name="d")(code)
    name = "dec" if drop_decoder else "decoder"
    decoder = keras.Model(code, layers.Reshape(input_shape)(flat), name=name)
    inputs = keras.Input(input_shape, name="pixels")
    return keras.Model(inputs, decoder(encoder(inputs)), name="ae")


def build_ae_without_decoder(input_shape=(8, 8, 1)):
    return build_ae(input_shape, drop_decoder=True)


def build_raises(input_shape=(8, 8, 1)):
    raise ValueError("width must divide 8")


def load_wrong_shape(data_dir, input_shape):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 8, 8, 3), dtype=np.uint8)  # three channels; the spec says one
    y = rng.integers(0, 2, 16)
    return x, y, x, y


def load_raises(data_dir, input_shape):
    raise ConnectionError("download of https://example.org/data.npz failed")


def build_ae_scaled_after_decoder(input_shape=(8, 8, 1)):
    """The full model doubles the decoder's output: the parts do not compose to it."""
    import keras
    from keras import layers

    model = build_ae(input_shape)
    inputs = keras.Input(input_shape, name="pixels")
    parts = model.get_layer("decoder")(model.get_layer("encoder")(inputs))
    return keras.Model(inputs, layers.Rescaling(2.0, name="twice")(parts), name="ae")


def build_frozen_ae(input_shape=(8, 8, 1)):
    """Nothing trains: a step cannot lower the loss."""
    model = build_ae(input_shape)
    for layer in model.layers:
        layer.trainable = False
    return model


def export_without_passed(job):
    (job.out_dir / "weights.bin").write_bytes(b"")
    return {"files": [{"part": "full", "file": "weights.bin"}]}


def load_chatty(data_dir, input_shape):
    """A loader that talks on stdout, as Keras' downloads do."""
    print("Downloading data from https://example.org/data.npz")
    x, y, _, _ = load_wrong_shape(data_dir, input_shape)
    return x[..., :1], y, x[..., :1], y


def build_even_ae(input_shape=(8, 8, 1), width=4, bias=True):
    """Takes only an even ``width``, a rule no declared range can say: refused the documented way."""
    from zoo.api import InvalidHyperParameter

    if width % 2:
        raise InvalidHyperParameter(f"width must be even, got {width}")
    return build_ae(input_shape)


def build_odd_fails_ae(input_shape=(8, 8, 1), width=4):
    """The same rule, but a ValueError: a user passing width=5 meets a bug of the plugin."""
    if width % 2:
        raise ValueError("odd width")
    return build_ae(input_shape)


def build_crossed_unet(input_shape=(8, 8, 1)):
    """A U-Net in miniature whose decoder takes its skips in the other order than the encoder
    hands them on: [code, skip2, skip1] for [code, skip1, skip2]."""
    import keras
    from keras import layers

    image = keras.Input(input_shape, name="image")
    skip1 = layers.Conv2D(2, 3, padding="same", name="skip1")(image)
    skip2 = layers.Conv2D(3, 3, padding="same", name="skip2")(layers.MaxPooling2D(2)(skip1))
    code = layers.Conv2D(4, 3, padding="same", name="bottom")(layers.MaxPooling2D(2)(skip2))
    encoder = keras.Model(image, [code, skip1, skip2], name="encoder")
    code_in = keras.Input(code.shape[1:], name="code_in")
    skip2_in = keras.Input(skip2.shape[1:], name="skip2_in")
    skip1_in = keras.Input(skip1.shape[1:], name="skip1_in")
    y = layers.Concatenate()([layers.UpSampling2D(2)(code_in), skip2_in])
    y = layers.Concatenate()([layers.UpSampling2D(2)(y), skip1_in])
    decoder = keras.Model([code_in, skip2_in, skip1_in], layers.Conv2D(1, 1, name="out")(y), name="decoder")
    inputs = keras.Input(input_shape, name="pixels")
    code_out, s1, s2 = encoder(inputs)
    return keras.Model(inputs, decoder([code_out, s2, s1]), name="crossed")


def build_dict(input_shape=(8, 8, 1)):
    return {"encoder": None, "decoder": None}


def build_dropping_decoder(input_shape=(8, 8, 1), width=4):
    """Keeps the contract with the default width only: other widths lose the decoder's name."""
    return build_ae(input_shape, drop_decoder=width != 4)


def load_dict(data_dir, input_shape):
    x, y, _, _ = load_wrong_shape(data_dir, input_shape)
    return {"x": x, "y": y}
