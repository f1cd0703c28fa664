"""Quality on the real MNIST: train each built-in architecture and measure what the lecture
promises of it. Prints a Markdown table; writes results/quality.json and a PNG per autoencoder
(originals above reconstructions) into results/.

    ZOO_DATA_DIR=DIR_WITH_MNIST_NPZ python benchmarks/quality.py [--only lenet5,dense-ae] [--epochs-scale 1]

Targets (issue 3): lenet5 test error <= 1.0%; dense-ae (code 32) test MSE <= 0.012; conv-ae
<= 0.005; denoising-ae (Gaussian sigma 0.5, clipped) output PSNR >= noisy PSNR + 8 dB;
sparse-ae mean hidden activation within 20% of rho; fcn mean IoU over the 11 classes >= 0.75;
unet (the same recipe as fcn) mean IoU reported beside fcn's; vae reconstruction and KL terms
reported, with a grid of samples from the prior.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.bench.machine import machine  # noqa: E402
from zoo.core.host import load_registry  # noqa: E402
from zoo.runs.atomic import write_json  # noqa: E402
from zoo.runs.run_folder import Run  # noqa: E402
from zoo.training import data  # noqa: E402
from zoo.training.models import load_run_model  # noqa: E402
from zoo.training.train import TrainRequest, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
EPOCHS = {
    "lenet5": 12,
    "dense-ae": 20,
    "conv-ae": 12,
    "stacked-ae": 20,
    "denoising-ae": 20,
    "sparse-ae": 15,
    "fcn": 5,
    "unet": 5,
    "vae": 30,
    "stacked-ae+pretrain": 20,
}
# Rows that train an architecture with other hyper-parameters: row name -> (architecture, them).
VARIANTS = {"stacked-ae+pretrain": ("stacked-ae", {"pretrain_epochs": 5})}
SIGMA = 0.5


def psnr(clean: np.ndarray, other: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((clean.astype(np.float64) - other.astype(np.float64)) ** 2))
    return 10 * np.log10(1.0 / mse)


def mean_iou(truth: np.ndarray, predicted: np.ndarray, classes: int) -> tuple[float, list[float]]:
    """Intersection over union per class (classes present in either), and their mean."""
    ious = []
    for c in range(classes):
        t, p = truth == c, predicted == c
        union = np.logical_or(t, p).sum()
        ious.append(float(np.logical_and(t, p).sum() / union) if union else float("nan"))
    return float(np.nanmean(ious)), ious


def grid_png(
    rows: list[np.ndarray], labels: list[str], path: Path, cmap: str = "gray", vmax: float = 1
) -> None:
    """Rows of 10 images each, one row per array, labelled on the left."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 10, figsize=(10, 1.1 * len(rows)))
    for r, (images, label) in enumerate(zip(rows, labels, strict=True)):
        for c in range(10):
            ax = axes[r, c]
            ax.imshow(images[c, ..., 0], cmap=cmap if r else "gray", vmin=0, vmax=vmax if r else 1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def prior_samples_png(decoder, latent_dim: int, path: Path, side: int = 10, seed: int = 0) -> None:
    """A side x side grid of images the decoder makes of z ~ N(0, I)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = np.random.default_rng(seed).standard_normal((side * side, latent_dim)).astype(np.float32)
    images = np.asarray(decoder.predict(z, verbose=0))[..., 0]
    h, w = images.shape[1:]
    canvas = images.reshape(side, side, h, w).transpose(0, 2, 1, 3).reshape(side * h, side * w)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(f"vae: decoder(z), z ~ N(0, I), {latent_dim} dimensions", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def vae_terms(model, x: np.ndarray) -> dict:
    """Per test image, in nats: reconstruction (binary cross-entropy summed over the pixels,
    decoding the mean), KL(q(z|x) || N(0, I)), and their sum, the negative ELBO's estimate."""
    mean, log_var = (
        np.asarray(t, dtype=np.float64) for t in model.get_layer("encoder").predict(x, verbose=0)
    )
    recon = np.asarray(
        model.get_layer("decoder").predict(mean.astype(np.float32), verbose=0), dtype=np.float64
    )
    p = np.clip(recon, 1e-7, 1 - 1e-7)
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(len(x), -1).sum(axis=1)
    kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    active = int(np.sum(np.mean(kl_per_dim(mean, log_var), axis=0) > 0.01))
    return {
        "reconstruction_nats": round(float(bce.mean()), 2),
        "kl_nats": round(float(kl.mean()), 2),
        "negative_elbo_nats": round(float((bce + kl).mean()), 2),
        "active_latent_dims": active,
    }


def kl_per_dim(mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    return -0.5 * (1 + log_var - mean**2 - np.exp(log_var))


def measure(
    registry, name: str, run_path: Path, x_test: np.ndarray, y_test: np.ndarray, label: str = ""
) -> dict:
    """The architecture-specific figures, on the whole test set; ``label`` names the PNG."""
    run = Run.open(run_path)
    model = load_run_model(registry, run)
    metrics = run.metrics
    out: dict = {}
    if name == "lenet5":
        out["test_error_%"] = round(100 * (1 - metrics["test_accuracy"]), 2)
        return out
    if registry.architecture(name).task == "segmentation":  # fcn, unet
        masks = data.segmentation_masks(x_test, y_test)
        probabilities = np.asarray(model.predict(x_test, batch_size=256, verbose=0))
        predicted = probabilities.argmax(axis=-1)
        out["mean_iou_11_classes"], ious = mean_iou(masks, predicted, probabilities.shape[-1])
        out["mean_iou_11_classes"] = round(out["mean_iou_11_classes"], 4)
        out["iou_background"] = round(ious[0], 4)
        out["pixel_accuracy"] = round(float(np.mean(masks == predicted)), 4)
        png = RESULTS / f"{name}-segmentations.png"
        grid_png(
            [x_test[:10], masks[:10, ..., None], predicted[:10, ..., None]],
            ["image", "true classes", "predicted"],
            png,
            cmap="tab20",
            vmax=19,
        )
        out["png"] = str(png.relative_to(ROOT))
        return out
    recon = np.asarray(model.predict(x_test, batch_size=512, verbose=0))
    out["test_mse"] = round(float(np.mean((recon - x_test) ** 2)), 5)
    rows, labels = [x_test[:10], recon[:10]], ["original", "reconstruction"]
    if name == "denoising-ae":
        rng = np.random.default_rng(0)
        noisy = np.clip(x_test + rng.normal(0, SIGMA, x_test.shape), 0, 1).astype(np.float32)
        denoised = np.asarray(model.predict(noisy, batch_size=512, verbose=0))
        out["psnr_noisy_db"] = round(psnr(x_test, noisy), 2)
        out["psnr_output_db"] = round(psnr(x_test, denoised), 2)
        out["psnr_gain_db"] = round(out["psnr_output_db"] - out["psnr_noisy_db"], 2)
        rows, labels = [x_test[:10], noisy[:10], denoised[:10]], ["clean", f"noisy s={SIGMA}", "denoised"]
    if name == "sparse-ae":
        hidden = np.asarray(model.get_layer("encoder").predict(x_test, batch_size=512, verbose=0))
        rho = run.config["hyperparameters"]["rho"]
        out["mean_hidden_activation"] = round(float(hidden.mean()), 4)
        out["rho"] = rho
        out["within_20%_of_rho"] = bool(abs(hidden.mean() - rho) <= 0.2 * rho)
    if name == "vae":
        out.update(vae_terms(model, x_test))
        samples = RESULTS / "vae-prior-samples.png"
        prior_samples_png(model.get_layer("decoder"), run.config["hyperparameters"]["latent_dim"], samples)
        out["prior_samples_png"] = str(samples.relative_to(ROOT))
    png = RESULTS / f"{label or name}-reconstructions.png"
    grid_png(rows, labels, png)
    out["png"] = str(png.relative_to(ROOT))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(EPOCHS))
    parser.add_argument(
        "--epochs-scale", type=float, default=1.0, help="multiply every epoch count (quick runs)"
    )
    parser.add_argument("--out", default=None)
    options = parser.parse_args()
    registry = load_registry()
    out = Path(options.out or tempfile.mkdtemp(prefix="zoo-quality-"))
    RESULTS.mkdir(exist_ok=True)
    report_path = RESULTS / "quality.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["machine"] = machine()
    x_test = y_test = None
    for name in options.only.split(","):
        architecture, params = VARIANTS.get(name, (name, {}))
        spec = registry.architecture(architecture)
        epochs = max(1, round(EPOCHS[name] * options.epochs_scale))
        started = time.perf_counter()
        request = TrainRequest(architecture, dataset="mnist", epochs=epochs, out=out, hyperparameters=params)
        run = train(registry, request, verbose=2, log=print).path
        wall = time.perf_counter() - started
        if x_test is None or x_test.shape[1:] != spec.input_shape:
            arrays = data.load(registry.dataset("mnist"), spec, data.data_dir())
            x_test, y_test = arrays.x_test, arrays.y_test
        row = {
            "epochs": epochs,
            "batch_size": spec.batch_size,
            "wall_s": round(wall, 1),
            "train_s": Run.open(run).metrics["train_seconds"],
            **({"hyperparameters": params} if params else {}),
            **measure(registry, architecture, run, x_test, y_test, label=name),
        }
        report.setdefault("architectures", {})[name] = row
        write_json(report_path, report)
        print(name, json.dumps(row), flush=True)
    print(f"\nmachine: {report['machine']['cpu']}, {report['machine']['cores']} cores; full MNIST\n")
    print("| architecture | epochs | wall time (s) | result |")
    print("| --- | --- | --- | --- |")
    for name, row in report["architectures"].items():
        result = {
            k: v for k, v in row.items() if k not in ("epochs", "batch_size", "wall_s", "train_s", "png")
        }
        print(f"| {name} | {row['epochs']} | {row['wall_s']} | {json.dumps(result)} |")


if __name__ == "__main__":
    main()
