"""What makes each autoencoder what it is: compression, sparsity, corruption, depth."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from zoo import models
from zoo.errors import InvalidHyperParameter


def _images(n=16, seed=0):
    return np.random.default_rng(seed).random((n, 28, 28, 1)).astype("float32")


def test_dense_ae_compresses_784_to_the_code_size(registry):
    model = models.build(registry.architecture("dense-ae"), {"code_size": "16"})
    assert model.get_layer("encoder").output.shape == (None, 16)
    assert model.get_layer("decoder").output.shape == (None, 28, 28, 1)


def test_stacked_ae_mirrors_its_encoder(registry):
    model = models.build(registry.architecture("stacked-ae"), {"units": "128,64,16"})
    widths = [layer.units for layer in model.get_layer("encoder").layers if hasattr(layer, "units")]
    back = [layer.units for layer in model.get_layer("decoder").layers if hasattr(layer, "units")]
    assert widths == [128, 64, 16] and back == [64, 128, 784]
    with pytest.raises(InvalidHyperParameter, match="'units' must be comma-separated layer widths"):
        models.build(registry.architecture("stacked-ae"), {"units": "256,,64"})


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_corruption_acts_only_while_training(registry, noise):
    model = models.build(registry.architecture("denoising-ae"), {"noise": noise, "amount": "0.5"})
    corrupt = model.get_layer("corruption")
    x = _images(64)
    np.testing.assert_array_equal(np.array(corrupt(x, training=False)), x)
    noisy = np.array(corrupt(x, training=True))
    assert noisy.min() >= 0 and noisy.max() <= 1 and not np.allclose(noisy, x)
    if noise == "masking":
        assert 0.45 < np.mean(noisy == 0) < 0.55


def test_the_corruption_is_absent_from_the_exported_graph(runs):
    ops = set()
    for name in ("model.onnx", "encoder.onnx"):
        ops |= {node.op_type for node in onnx.load(str(runs.export("denoising-ae") / name)).graph.node}
    assert not {op for op in ops if "Random" in op or "Dropout" in op}


@pytest.mark.parametrize("penalty", ["kl", "l1"])
def test_sparse_ae_adds_its_penalty(registry, penalty):
    model = models.build(
        registry.architecture("sparse-ae"), {"hidden": "64", "penalty": penalty, "rho": "0.1", "weight": "2"}
    )
    x = _images()
    h = np.array(model.get_layer("encoder").get_layer("code")(x.reshape(len(x), -1)), dtype=np.float64)
    model(x)
    if penalty == "kl":
        rho, rho_hat = 0.1, h.mean(axis=0)
        expected = 2 * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    else:
        expected = 2 * np.mean(np.abs(h).sum(axis=1))
    assert float(model.losses[0]) == pytest.approx(expected, rel=1e-4)
