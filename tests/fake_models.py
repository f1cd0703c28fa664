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
