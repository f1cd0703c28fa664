"""What the denoising, sparse and variational autoencoders are for, measured on the test split.

zoo calls each evaluator after training and from ``zoo evaluate`` (``ArchitectureSpec.evaluator``)
as ``evaluate(model, test, settings)``; it returns a ``zoo.api.Evaluation``. The measures are
public (``psnr``, ``corrupt``, ``sparsity``, ``vae_terms``...) so that a benchmark script can use
the same ones. Each evaluator makes one batched pass over the test split: zoo runs them after
every training, the test suite's hundreds included.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from zoo.api import Evaluation, TestSplit, figure, image_grid

BATCH = 512
# A unit whose mean activation over the test split is below a tenth of the target rho has gone
# quiet: the KL penalty pulls every unit towards rho, so such a unit is one it failed to keep.
NEAR_ZERO_RHO_DIVISOR = 10
# L1 has no target: its threshold is a tenth of the default rho (0.05), so that runs of the two
# penalties compare.
NEAR_ZERO_L1 = 0.005
# A latent dimension is active when its posterior mean varies over the test images by more than
# this (Burda, Grosse, Salakhutdinov, Importance weighted autoencoders, ICLR 2016): a collapsed
# one encodes every image as the prior's mean.
ACTIVE_VARIANCE = 0.01
PRIOR_SIDE = 10
INTERPOLATION_STEPS = 10
INTERPOLATION_PAIRS = 3


def _seed(settings: Mapping[str, Any]) -> int:
    return int(settings.get("seed") or 0)


def _hyperparameters(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    return settings.get("hyperparameters") or {}


def _predict(model: Any, x: np.ndarray) -> Any:
    return model.predict(x, batch_size=BATCH, verbose=0)


# -- denoising autoencoder ---------------------------------------------------------------------


def psnr(clean: np.ndarray, other: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of ``other`` against ``clean`` (images in [0, 1]), from
    the mean squared error over all their pixels; ``inf`` where they are equal."""
    mse = float(np.mean((np.asarray(clean, np.float64) - np.asarray(other, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def corrupt(x: np.ndarray, kind: str, amount: float, seed: int) -> np.ndarray:
    """The denoising autoencoder's training corruption (``model.Corruption``), drawn with NumPy:
    ``gaussian`` adds N(0, amount^2) and clips to [0, 1]; ``masking`` sets a fraction ``amount``
    of the pixels to 0. The same ``seed`` gives the same corruption."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    if kind == "gaussian":
        return np.clip(x + rng.normal(0.0, amount, x.shape), 0.0, 1.0).astype(np.float32)
    if kind == "masking":
        return np.where(rng.random(x.shape) >= amount, x, 0.0).astype(np.float32)
    raise ValueError(f"unknown corruption {kind!r}: gaussian or masking")


def describe_corruption(kind: str, amount: float) -> str:
    if kind == "gaussian":
        return f"Gaussian noise of sigma {amount:g}, clipped to [0, 1]"
    return f"masking noise, {amount:.0%} of the pixels set to 0"


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None


def evaluate_denoising(model: Any, test: TestSplit, settings: Mapping[str, Any]) -> Evaluation:
    """PSNR of the corrupted test images and of the model's output, at the corruption it was
    trained with, and noisy / denoised / clean images side by side."""
    params = _hyperparameters(settings)
    kind, amount = str(params.get("noise", "gaussian")), float(params.get("amount", 0.5))
    clean = np.asarray(test.x, np.float32)
    noisy = corrupt(clean, kind, amount, _seed(settings))
    denoised = np.asarray(_predict(model, noisy), np.float32)
    before, after = psnr(clean, noisy), psnr(clean, denoised)
    gain = after - before
    what = describe_corruption(kind, amount)
    metrics = {
        "psnr_noisy_db": _finite_or_none(before),
        "psnr_output_db": _finite_or_none(after),
        "psnr_gain_db": _finite_or_none(gain),
    }
    if np.isfinite(gain):
        line = (
            f"At its training corruption ({what}), the test images' PSNR goes from {before:.1f} dB "
            f"noisy to {after:.1f} dB denoised: a gain of {gain:+.1f} dB."
        )
    else:  # amount 0: nothing to remove, the noisy images are the clean ones
        line = f"At its training corruption ({what}) the test images are unchanged: no PSNR gain to measure."
    grid = image_grid(
        [("noisy", noisy), ("denoised", denoised), ("clean", clean)],
        f"Denoising the test images: {what}",
    )
    return Evaluation(
        metrics=metrics,
        figures={"denoising.png": grid},
        lines=[line],
        title="Denoising",
        headline="psnr_gain_db",
    )


# -- sparse autoencoder ------------------------------------------------------------------------


def code_activations(model: Any, x: np.ndarray) -> np.ndarray:
    """The encoder's output for each image, flattened: (N, units)."""
    codes = np.asarray(_predict(model.get_layer("encoder"), x), np.float64)
    return codes.reshape(len(codes), -1)


def sparsity(activations: np.ndarray, rho: float | None) -> dict[str, Any]:
    """Sparsity of codes (N, units): their mean, against the target ``rho`` (``None``: an L1
    penalty, which has none), and the shares of units that are near zero on average
    (``units_near_zero_share``) and on every image (``dead_units_share``)."""
    per_unit = activations.mean(axis=0)
    threshold = rho / NEAR_ZERO_RHO_DIVISOR if rho is not None else NEAR_ZERO_L1
    mean = float(activations.mean())
    return {
        "mean_code_activation": mean,
        "rho": rho,
        "activation_over_rho": mean / rho if rho is not None else None,
        "near_zero_threshold": threshold,
        "units_near_zero_share": float(np.mean(per_unit < threshold)),
        "dead_units_share": float(np.mean(activations.max(axis=0) < threshold)),
        "code_units": int(activations.shape[1]),
    }


def _activation_histogram(per_unit: np.ndarray, found: Mapping[str, Any], title: str) -> Any:
    fig = figure(7, 4)
    ax = fig.subplots()
    rho, threshold = found["rho"], found["near_zero_threshold"]
    top = max(float(per_unit.max()), rho or 0.0, threshold) * 1.05
    ax.axvspan(0, threshold, color="0.9", label=f"near zero (< {threshold:g})")
    ax.hist(per_unit, bins=60, range=(0, top), color="tab:blue")
    ax.axvline(found["mean_code_activation"], color="tab:orange", label="mean activation")
    if rho is not None:
        ax.axvline(rho, color="tab:red", linestyle="--", label=f"target rho = {rho:g}")
    ax.set_yscale("log")
    ax.set_xlim(0, top)
    ax.set_xlabel("mean activation of a code unit over the test images")
    ax.set_ylabel("units")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def evaluate_sparse(model: Any, test: TestSplit, settings: Mapping[str, Any]) -> Evaluation:
    """The code's mean activation against rho, and a histogram of the units' mean activations."""
    params = _hyperparameters(settings)
    penalty = str(params.get("penalty", "kl"))
    rho = float(params.get("rho", 0.05)) if penalty == "kl" else None
    activations = code_activations(model, np.asarray(test.x, np.float32))
    found = sparsity(activations, rho)
    mean, units = found["mean_code_activation"], found["code_units"]
    near = (
        f"{found['units_near_zero_share']:.1%} of the units are near zero on average "
        f"(below {found['near_zero_threshold']:g}), {found['dead_units_share']:.1%} on every test image."
    )
    if rho is not None:
        line = (
            f"The {units} code units' mean activation over the test images is {mean:.4f} against the "
            f"KL penalty's target rho = {rho:g} ({found['activation_over_rho']:.2f} x rho). {near}"
        )
        title = f"Code activations: mean {mean:.4f}, target rho {rho:g} (KL penalty)"
    else:
        line = (
            f"The {units} code units' mean activation over the test images is {mean:.4f}; the L1 "
            f"penalty has no target rho. {near}"
        )
        title = f"Code activations: mean {mean:.4f} (L1 penalty, no target rho)"
    return Evaluation(
        metrics=found,
        figures={"code-activations.png": _activation_histogram(activations.mean(axis=0), found, title)},
        lines=[line],
        title="Sparsity",
        headline="mean_code_activation",
    )


# -- variational autoencoder -------------------------------------------------------------------


def posterior(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's q(z|x) for each image: its mean and log-variance, (N, latent) each."""
    outputs = _predict(model.get_layer("encoder"), x)
    return np.asarray(outputs[0], np.float64), np.asarray(outputs[1], np.float64)


def elbo_terms(x: np.ndarray, reconstruction: np.ndarray, mean: np.ndarray, log_var: np.ndarray) -> dict:
    """In nats per image: the reconstruction term (binary cross-entropy summed over the pixels),
    the analytic KL(q(z|x) || N(0, I)), and their sum, the negative ELBO (beta = 1, whatever
    beta the model was trained with); and the number of active latent dimensions."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    p = np.clip(np.asarray(reconstruction, np.float64).reshape(len(x), -1), 1e-7, 1 - 1e-7)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=1)
    kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    return {
        "reconstruction_nats": float(bce.mean()),
        "kl_nats": float(kl.mean()),
        "negative_elbo_nats": float((bce + kl).mean()),
        "active_latent_dims": int(np.sum(mean.var(axis=0) > ACTIVE_VARIANCE)),
        "latent_dims": int(mean.shape[1]),
    }


def vae_terms(model: Any, x: np.ndarray) -> dict:
    """``elbo_terms`` of a VAE on images ``x``, decoding the posterior mean."""
    mean, log_var = posterior(model, x)
    reconstruction = _predict(model.get_layer("decoder"), mean.astype(np.float32))
    return elbo_terms(x, reconstruction, mean, log_var)


def interpolation_pairs(labels: Any, pairs: int = INTERPOLATION_PAIRS) -> list[tuple[int, int]]:
    """Indices of up to ``pairs`` pairs of test images of different classes: the first image of
    each class in order of appearance, taken two by two (consecutive images if there are not
    two classes)."""
    firsts: dict[int, int] = {}
    for index, label in enumerate(np.asarray(labels).ravel().tolist()):
        firsts.setdefault(int(label), index)
        if len(firsts) == 2 * pairs:
            break
    starts = list(firsts.values())
    if len(starts) < 2:
        starts = list(range(min(len(np.asarray(labels)), 2 * pairs)))
    return [(starts[i], starts[i + 1]) for i in range(0, len(starts) - 1, 2)]


def _tiled(images: np.ndarray, side: int) -> np.ndarray:
    """side * side images (N, H, W, C) as one (side * H, side * W, C) canvas."""
    h, w, c = images.shape[1:]
    return (
        images[: side * side]
        .reshape(side, side, h, w, c)
        .transpose(0, 2, 1, 3, 4)
        .reshape(side * h, side * w, c)
    )


def _prior_figure(samples: np.ndarray, latent_dims: int, seed: int) -> Any:
    fig = figure(6, 6.4)
    ax = fig.subplots()
    canvas = np.clip(_tiled(samples, PRIOR_SIDE), 0, 1)
    if canvas.shape[-1] == 1:
        ax.imshow(canvas[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"decoder(z), z ~ N(0, I) in {latent_dims} dimensions (seed {seed})", fontsize=10)
    return fig


def evaluate_vae(model: Any, test: TestSplit, settings: Mapping[str, Any]) -> Evaluation:
    """The negative ELBO split into reconstruction and KL, samples from the prior, and walks in
    latent space between test digits of different classes."""
    x = np.asarray(test.x, np.float32)
    seed = _seed(settings)
    mean, log_var = posterior(model, x)
    dims = mean.shape[1]
    pairs = interpolation_pairs(test.y)
    steps = np.linspace(0.0, 1.0, INTERPOLATION_STEPS)[:, None]
    walks = [(1 - steps) * mean[a] + steps * mean[b] for a, b in pairs]
    prior = np.random.default_rng(seed).standard_normal((PRIOR_SIDE * PRIOR_SIDE, dims))
    # One pass of the decoder for everything it draws: test means, prior samples, walks.
    z = np.concatenate([mean, prior, *walks]).astype(np.float32)
    decoded = np.asarray(_predict(model.get_layer("decoder"), z), np.float32)
    reconstruction, samples = decoded[: len(x)], decoded[len(x) : len(x) + len(prior)]
    walked = decoded[len(x) + len(prior) :].reshape(len(pairs), INTERPOLATION_STEPS, *decoded.shape[1:])
    found = elbo_terms(x, reconstruction, mean, log_var)
    labels = np.asarray(test.y).ravel()
    # Each walk between the two test images it starts and ends at.
    rows = [
        (
            f"{test.class_name(int(labels[a]))} to {test.class_name(int(labels[b]))}",
            np.concatenate([x[a : a + 1], walk, x[b : b + 1]]),
        )
        for (a, b), walk in zip(pairs, walked, strict=True)
    ]
    line = (
        f"Negative ELBO {found['negative_elbo_nats']:.1f} nats per test image: reconstruction "
        f"{found['reconstruction_nats']:.1f} (binary cross-entropy over the pixels, decoding the "
        f"posterior mean) + KL {found['kl_nats']:.1f} to the prior; {found['active_latent_dims']} of "
        f"{dims} latent dimensions active (their posterior mean varies over the test images by more "
        f"than {ACTIVE_VARIANCE:g})."
    )
    figures = {"prior-samples.png": _prior_figure(samples, dims, seed)}
    if rows:
        figures["latent-interpolation.png"] = image_grid(
            rows,
            f"Two test images, and between them the decoder's images of {INTERPOLATION_STEPS} "
            "steps from one's posterior mean to the other's",
            count=INTERPOLATION_STEPS + 2,
        )
    return Evaluation(
        metrics=found, figures=figures, lines=[line], title="Variational bound", headline="negative_elbo_nats"
    )
