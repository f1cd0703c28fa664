"""The autoencoder plugin's evaluators: what the denoising, sparse and variational autoencoders
are for, measured on a test split (``zoo_autoencoders.evaluate``)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from zoo_autoencoders import evaluate as ev

from tests.conftest import invoke, make_registry
from zoo.api import Evaluation, TestSplit
from zoo.core.evaluation import problems
from zoo.core.hparams import validate
from zoo.training import data, models


@pytest.fixture(scope="module")
def reg():
    return make_registry()


@pytest.fixture(scope="module")
def split(reg) -> TestSplit:
    """300 real digits of the shipped MNIST sample."""
    arrays = data.load_arrays(reg, reg.architecture("dense-ae"), "mnist-sample", None, for_training=False)
    return TestSplit(arrays.x_test[:300], arrays.y_test[:300], tuple(arrays.class_names))


def _model_and_settings(reg, name: str, seed: int = 0, **params):
    spec = reg.architecture(name)
    hyperparameters = validate(spec, {k: str(v) for k, v in params.items()})
    return models.build(spec, hyperparameters), {"seed": seed, "hyperparameters": hyperparameters}


def _recordable(evaluation: Evaluation, figures: set[str]) -> None:
    """What zoo checks of an evaluation passes, and every figure draws as a PNG."""
    assert problems(evaluation) == []
    assert set(evaluation.figures) == figures
    for fig in evaluation.figures.values():
        png = io.BytesIO()
        fig.savefig(png, format="png")
        assert png.getvalue().startswith(b"\x89PNG")
    assert evaluation.lines and evaluation.title and evaluation.headline in evaluation.metrics


class _Scaled:
    """The model's weights times ``factor`` inside the block, restored after it."""

    def __init__(self, model, factor: float):
        self.model, self.factor = model, factor

    def __enter__(self):
        self.saved = self.model.get_weights()
        self.model.set_weights([w * self.factor for w in self.saved])

    def __exit__(self, *exc):
        self.model.set_weights(self.saved)


class _Identity:
    """A 'denoiser' that returns its input."""

    def predict(self, x, batch_size=None, verbose=0):
        return x


# -- denoising autoencoder ---------------------------------------------------------------------


def test_psnr_of_known_errors():
    clean = np.zeros((4, 28, 28, 1), np.float32)
    assert ev.psnr(clean, clean + 0.1) == pytest.approx(20.0)
    assert ev.psnr(clean, clean + 0.01) == pytest.approx(40.0)
    assert ev.psnr(clean, clean) == float("inf")


@pytest.mark.parametrize("noise", ["gaussian", "masking"])
def test_the_corruption_is_the_one_the_model_trains_with(reg, noise):
    """NumPy draws what the model's Corruption layer draws while training: same distribution."""
    model, _ = _model_and_settings(reg, "denoising-ae", noise=noise, amount=0.3)
    x = np.full((200, 28, 28, 1), 0.5, np.float32)
    ours = ev.corrupt(x, noise, 0.3, seed=1)
    theirs = np.asarray(model.get_layer("corruption")(x, training=True))
    for noisy in (ours, theirs):
        assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.mean(ours == 0) == pytest.approx(np.mean(theirs == 0), abs=0.01)
    assert np.std(ours) == pytest.approx(np.std(theirs), rel=0.02)
    if noise == "masking":
        assert np.mean(ours == 0) == pytest.approx(0.3, abs=0.01)
    np.testing.assert_array_equal(ev.corrupt(x, noise, 0.3, seed=1), ours)
    assert not np.array_equal(ev.corrupt(x, noise, 0.3, seed=2), ours)


def test_an_identity_denoiser_gains_nothing(split):
    settings = {"seed": 3, "hyperparameters": {"noise": "gaussian", "amount": 0.5}}
    found = ev.evaluate_denoising(_Identity(), split, settings)
    _recordable(found, {"denoising.png"})
    noisy = ev.corrupt(split.x, "gaussian", 0.5, seed=3)
    assert found.metrics["psnr_noisy_db"] == pytest.approx(ev.psnr(split.x, noisy))
    assert found.metrics["psnr_output_db"] == found.metrics["psnr_noisy_db"]
    assert found.metrics["psnr_gain_db"] == 0
    assert found.headline == "psnr_gain_db"
    assert "sigma 0.5" in found.lines[0] and "+0.0 dB" in found.lines[0]


def test_no_corruption_has_no_gain_to_measure(split):
    found = ev.evaluate_denoising(
        _Identity(), split, {"hyperparameters": {"noise": "masking", "amount": 0.0}}
    )
    _recordable(found, {"denoising.png"})
    assert found.metrics == {"psnr_noisy_db": None, "psnr_output_db": None, "psnr_gain_db": None}
    assert "unchanged" in found.lines[0]


def test_denoising_follows_the_seed_and_the_weights(reg, split):
    model, settings = _model_and_settings(reg, "denoising-ae", noise="masking", amount=0.25)
    found = ev.evaluate_denoising(model, split, settings)
    _recordable(found, {"denoising.png"})
    assert "masking noise, 25% of the pixels" in found.lines[0]
    assert found.metrics["psnr_gain_db"] == pytest.approx(
        found.metrics["psnr_output_db"] - found.metrics["psnr_noisy_db"]
    )
    assert ev.evaluate_denoising(model, split, settings).metrics == found.metrics
    other_seed = ev.evaluate_denoising(model, split, {**settings, "seed": 1}).metrics
    assert other_seed["psnr_noisy_db"] != found.metrics["psnr_noisy_db"]
    with _Scaled(model, 1.5):
        scaled = ev.evaluate_denoising(model, split, settings).metrics
    assert scaled["psnr_noisy_db"] == found.metrics["psnr_noisy_db"]
    assert scaled["psnr_output_db"] != found.metrics["psnr_output_db"]


# -- sparse autoencoder ------------------------------------------------------------------------


def test_sparsity_of_known_activations():
    # 4 units of means 0.05, 0.004 and 0.0005 (near zero: below rho / 10) and 0.5; the one of mean
    # 0.0005 is below rho / 10 on every image (dead), the one of mean 0.004 is not.
    activations = np.array([[0.1, 0.002, 1.0, 0.0], [0.0, 0.006, 0.0, 0.001]])
    found = ev.sparsity(activations, rho=0.05)
    assert found["mean_code_activation"] == pytest.approx(activations.mean())
    assert found["activation_over_rho"] == pytest.approx(activations.mean() / 0.05)
    assert found["near_zero_threshold"] == 0.005
    assert found["units_near_zero_share"] == 0.5 and found["dead_units_share"] == 0.25
    l1 = ev.sparsity(activations, rho=None)
    assert l1["rho"] is None and l1["activation_over_rho"] is None
    assert l1["near_zero_threshold"] == ev.NEAR_ZERO_L1


@pytest.mark.parametrize("penalty", ["kl", "l1"])
def test_sparse_follows_the_weights(reg, split, penalty):
    model, settings = _model_and_settings(reg, "sparse-ae", hidden=64, penalty=penalty, rho=0.1)
    found = ev.evaluate_sparse(model, split, settings)
    _recordable(found, {"code-activations.png"})
    codes = np.asarray(model.get_layer("encoder").predict(split.x, verbose=0))
    assert found.metrics["mean_code_activation"] == pytest.approx(codes.mean(), rel=1e-5)
    assert found.metrics["code_units"] == 64 and found.headline == "mean_code_activation"
    assert 0 <= found.metrics["units_near_zero_share"] <= 1 and 0 <= found.metrics["dead_units_share"] <= 1
    if penalty == "kl":
        assert found.metrics["rho"] == 0.1 and "rho = 0.1" in found.lines[0]
    else:
        assert found.metrics["rho"] is None and "L1 penalty has no target rho" in found.lines[0]
    with _Scaled(model, 3.0):
        scaled = ev.evaluate_sparse(model, split, settings).metrics
    assert scaled["mean_code_activation"] != found.metrics["mean_code_activation"]


# -- variational autoencoder -------------------------------------------------------------------


def test_interpolation_pairs_are_of_different_classes():
    assert ev.interpolation_pairs([1, 1, 4, 5, 5, 6, 7, 9, 2]) == [(0, 2), (3, 5), (6, 7)]
    assert ev.interpolation_pairs([3, 3, 3, 3]) == [(0, 1), (2, 3)]
    assert ev.interpolation_pairs([7, 2, 7]) == [(0, 1)]


def test_vae_negative_elbo_is_reconstruction_plus_kl(reg, split):
    model, settings = _model_and_settings(reg, "vae", latent_dim=4, hidden=32)
    found = ev.evaluate_vae(model, split, settings)
    _recordable(found, {"prior-samples.png", "latent-interpolation.png"})
    m = found.metrics
    assert m["negative_elbo_nats"] == pytest.approx(m["reconstruction_nats"] + m["kl_nats"])
    assert m["kl_nats"] >= 0 and m["reconstruction_nats"] > 0 and 0 <= m["active_latent_dims"] <= 4
    assert m["latent_dims"] == 4 and found.headline == "negative_elbo_nats"
    assert ev.vae_terms(model, split.x) == pytest.approx(m)
    assert ev.evaluate_vae(model, split, settings).metrics == m
    with _Scaled(model, 2.0):
        assert ev.evaluate_vae(model, split, settings).metrics["negative_elbo_nats"] != pytest.approx(
            m["negative_elbo_nats"]
        )


def test_a_collapsed_posterior_has_no_active_dimension(reg, split):
    """An encoder whose mean is the prior's for every image: no dimension carries anything."""
    model, settings = _model_and_settings(reg, "vae", latent_dim=4, hidden=32)
    mean = model.get_layer("encoder").get_layer("mean")
    mean.set_weights([np.zeros_like(w) for w in mean.get_weights()])
    found = ev.evaluate_vae(model, split, settings).metrics
    assert found["active_latent_dims"] == 0


def test_prior_samples_follow_the_seed(reg, split):
    model, settings = _model_and_settings(reg, "vae", latent_dim=4, hidden=32)

    def drawn(seed):
        fig = ev.evaluate_vae(model, split, {**settings, "seed": seed}).figures["prior-samples.png"]
        return np.asarray(fig.axes[0].images[0].get_array())

    assert drawn(0).shape == (280, 280)
    np.testing.assert_array_equal(drawn(0), drawn(0))
    assert not np.array_equal(drawn(0), drawn(1))


# -- in a run ----------------------------------------------------------------------------------


def test_a_denoising_run_shows_its_evaluation(registry, tmp_path):
    result = invoke(
        registry,
        "train",
        "denoising-ae",
        "--dataset",
        "mnist-sample",
        "--epochs",
        "1",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    (run,) = tmp_path.iterdir()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["psnr_gain_db"] == pytest.approx(metrics["psnr_output_db"] - metrics["psnr_noisy_db"])
    assert (run / "denoising.png").is_file()
    (section,) = [
        s
        for s in json.loads((run / "evaluation.json").read_text())["sections"]
        if s["evaluator"] == "zoo_autoencoders.evaluate:evaluate_denoising"
    ]
    assert section["error"] is None and section["headline"] == "psnr_gain_db"
    assert section["figures"] == ["denoising.png"] and "dB" in section["lines"][0]
