"""What makes each autoencoder what it is: compression, sparsity, corruption, depth."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from zoo.core.errors import InvalidHyperParameter
from zoo.training import models


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


def test_greedy_pretraining_trains_each_layer_pair_in_the_full_model(registry):
    import keras

    keras.utils.set_random_seed(0)
    spec = registry.architecture("stacked-ae")
    params = {"units": "32,8", "pretrain_epochs": 2}
    model = models.build(spec, params)
    before = [np.array(w) for w in model.weights]
    pretrain = __import__("zoo_autoencoders.model", fromlist=["x"]).pretrain_stacked_ae
    notes = []
    figures = pretrain(
        model, _images(64), hyperparameters=params, batch_size=16, learning_rate=1e-3, log=notes.append
    )
    assert list(figures) == ["pretrain_hidden1_binary_crossentropy", "pretrain_code_mse"]
    assert len(notes) == 2 and "hidden1 + output" in notes[0] and "code + hidden1" in notes[1]
    changed = [not np.array_equal(b, np.array(w)) for b, w in zip(before, model.weights, strict=True)]
    assert all(changed), "every encoder and decoder weight was pre-trained"
    assert (
        pretrain(model, _images(8), hyperparameters={"pretrain_epochs": 0}, batch_size=8, learning_rate=1e-3)
        == {}
    )


def test_training_a_stacked_ae_with_pretraining_records_it(registry, tmp_path):
    from zoo.training.train import TrainRequest, train

    notes = []
    request = TrainRequest(
        "stacked-ae",
        dataset="synthetic",
        epochs=1,
        out=tmp_path,
        hyperparameters={"units": "32,8", "pretrain_epochs": "1"},
    )
    run = train(registry, request, verbose=0, log=notes.append).path
    metrics = __import__("json").loads((run / "metrics.json").read_text())
    assert {"pretrain_hidden1_binary_crossentropy", "pretrain_code_mse", "pretrain_seconds"} <= set(metrics)
    assert any(n.startswith("pre-training hidden1") for n in notes)


def test_vae_samples_while_training_and_passes_the_mean_otherwise(registry):
    model = models.build(registry.architecture("vae"), {"latent_dim": "4", "hidden": "32"})
    mean, log_var = (np.array(t) for t in model.get_layer("encoder")(_images(8)))
    assert mean.shape == log_var.shape == (8, 4)
    sample = model.get_layer("sample")
    np.testing.assert_array_equal(np.array(sample([mean, log_var], training=False)), mean)
    assert not np.allclose(np.array(sample([mean, log_var], training=True)), mean)
    kl = -0.5 * np.mean(np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1))
    model(_images(8))
    assert float(model.losses[0]) == pytest.approx(kl / 784, rel=1e-4)


def test_vae_decoder_generates_images_from_the_prior(registry):
    model = models.build(registry.architecture("vae"), {"latent_dim": "3"})
    z = np.random.default_rng(0).standard_normal((5, 3)).astype("float32")
    images = np.array(model.get_layer("decoder")(z))
    assert images.shape == (5, 28, 28, 1) and images.min() >= 0 and images.max() <= 1


def test_vae_export_keeps_both_encoder_outputs_and_links_the_mean(runs):
    import json

    folder = runs.export("vae")
    manifest = json.loads((folder / "manifest.json").read_text())
    encoder = next(f for f in manifest["files"] if f["part"] == "encoder")
    assert [o["shape"][1:] for o in encoder["outputs"]] == [[16], [16]]
    assert manifest["links"][0]["output"] == encoder["outputs"][0]
    ops = {
        n.op_type for name in ("model.onnx", "encoder.onnx") for n in onnx.load(str(folder / name)).graph.node
    }
    assert not {op for op in ops if "Random" in op}
