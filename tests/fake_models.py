"""A builder and loader for the fake plugins (imported only when a test builds them)."""

from __future__ import annotations

import numpy as np


def build_tiny(input_shape=(8, 8, 1)):
    import keras
    from keras import layers

    image = keras.Input(input_shape)
    features = keras.Model(image, layers.Flatten()(image), name="features")
    code = keras.Input((int(np.prod(input_shape)),))
    head = keras.Model(code, layers.Dense(2, activation="softmax")(code), name="head")
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, head(features(inputs)))


def load(data_dir, input_shape):
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 2, 16)
    return x, y, x, y


def export_npz(job):
    """A second export format, to show that exporters are plugins: the weights as .npz."""
    weights = {f"w{i}": np.asarray(w) for i, w in enumerate(job.model.get_weights())}
    np.savez(job.out_dir / "weights.npz", **weights)
    passed = job.options.get("fail") is None
    return {
        "format": "npz",
        "files": [
            {
                "part": "full",
                "file": "weights.npz",
                "passed": passed,
                "reason": None if passed else "asked to fail",
            }
        ],
    }


def build_tiny_unet(input_shape=(8, 8, 1)):
    """A U-Net in miniature: the encoder hands the decoder ``[code, skip1, skip2]`` and keeps
    a fourth output, ``aux``, that no part takes (an extra, like a VAE's ``log_var``)."""
    import keras
    from keras import layers

    image = keras.Input(input_shape, name="image")
    skip1 = layers.Conv2D(2, 3, padding="same", activation="relu", name="skip1")(image)
    skip2 = layers.Conv2D(3, 3, padding="same", activation="relu", name="skip2")(
        layers.MaxPooling2D(2, name="pool1")(skip1)
    )
    code = layers.Conv2D(4, 3, padding="same", activation="relu", name="bottom")(
        layers.MaxPooling2D(2, name="pool2")(skip2)
    )
    aux = layers.GlobalAveragePooling2D(name="aux")(code)
    encoder = keras.Model(image, [code, skip1, skip2, aux], name="encoder")

    code_in = keras.Input(code.shape[1:], name="code")
    skip1_in = keras.Input(skip1.shape[1:], name="skip1")
    skip2_in = keras.Input(skip2.shape[1:], name="skip2")
    y = layers.Conv2DTranspose(3, 2, strides=2, name="up2")(code_in)
    y = layers.Concatenate(name="concat2")([y, skip2_in])
    y = layers.Conv2DTranspose(2, 2, strides=2, name="up1")(y)
    y = layers.Concatenate(name="concat1")([y, skip1_in])
    y = layers.Conv2D(input_shape[-1], 3, padding="same", activation="sigmoid", name="output")(y)
    decoder = keras.Model([code_in, skip1_in, skip2_in], y, name="decoder")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, decoder(encoder(inputs)[:3]), name="tiny-unet")
