"""Quality on the real MNIST: train each built-in architecture over one or more seeds and report
what its evaluations found, mean ± standard deviation over the seeds, with the paper's figure
beside ours where there is one. Prints a Markdown table; writes results/quality.json and copies
the first seed's evaluation figures into results/ (``ROW-FIGURE.png``).

    ZOO_DATA_DIR=DIR_WITH_MNIST_NPZ python benchmarks/quality.py [--only lenet5,dense-ae] \\
        [--seeds 3] [--epochs-scale 1] [--out RUNS_DIR]

The figures are the ones every run records (metrics.json): Keras' test metrics, zoo's task
evaluation and the architecture's evaluator (``zoo.training.evaluators``), so this script
measures nothing of its own: one implementation of each figure.

Targets (issue 3): lenet5 test error <= 1.0%; dense-ae (code 32) test MSE <= 0.012; conv-ae
<= 0.005; denoising-ae (Gaussian sigma 0.5, clipped) PSNR gain >= 8 dB; sparse-ae mean code
activation within 20% of rho; fcn mean IoU over the 11 classes >= 0.75; unet (the recipe of fcn)
beside fcn; vae reconstruction and KL terms reported. Issue 18: lenet5 over 3 seeds, mean <=
0.95% without distortions (each <= 1.0%) and <= 0.80% with ``--augment affine``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.bench.machine import machine  # noqa: E402
from zoo.core.host import load_registry  # noqa: E402
from zoo.runs.atomic import write_json  # noqa: E402
from zoo.runs.run_folder import Run  # noqa: E402
from zoo.training.train import TrainRequest, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ERROR = "test_error_%"  # 100 x (1 - test_accuracy), as the papers give it


def row(architecture: str, epochs: int, measures: tuple[str, ...], **settings: Any) -> dict[str, Any]:
    """One catalogue row: an architecture trained for ``epochs`` with ``settings`` (hyper-parameters
    under ``hyperparameters``, or TrainRequest fields such as ``augment``), judged by ``measures``."""
    return {"architecture": architecture, "epochs": epochs, "measures": measures, "settings": settings}


ROWS = {
    "lenet5": row("lenet5", 20, (ERROR,)),
    "lenet5+affine": row("lenet5", 20, (ERROR,), augment="affine"),
    "dense-ae": row("dense-ae", 20, ("test_mse", "worst_class_mse")),
    "conv-ae": row("conv-ae", 12, ("test_mse", "worst_class_mse")),
    "stacked-ae": row("stacked-ae", 20, ("test_mse",)),
    "stacked-ae+pretrain": row("stacked-ae", 20, ("test_mse",), hyperparameters={"pretrain_epochs": 5}),
    "denoising-ae": row("denoising-ae", 20, ("psnr_noisy_db", "psnr_output_db", "psnr_gain_db")),
    "sparse-ae": row("sparse-ae", 15, ("test_mse", "mean_code_activation", "activation_over_rho")),
    "fcn": row("fcn", 5, ("mean_iou", "test_accuracy")),
    "unet": row("unet", 5, ("mean_iou", "test_accuracy")),
    "vae": row("vae", 30, ("reconstruction_nats", "kl_nats", "negative_elbo_nats", "active_latent_dims")),
}
# The paper's figure for a row's measure, where the paper measured the same thing the same way.
PAPER = {
    ("lenet5", ERROR): "0.95 (LeCun et al. 1998)",
    ("lenet5+affine", ERROR): "0.8 (LeCun et al. 1998, distortions)",
}


def measured(run_path: Path) -> dict[str, Any]:
    """What the run recorded, with the test error where there is an accuracy."""
    metrics = Run.open(run_path).metrics
    if "test_accuracy" in metrics:
        metrics[ERROR] = round(100 * (1 - metrics["test_accuracy"]), 3)
    return metrics


def spread(values: list[float]) -> dict[str, Any]:
    """Mean and sample standard deviation (0 for one value), None where a value is missing."""
    if not values or any(v is None or not math.isfinite(v) for v in values):
        return {"mean": None, "std": None}
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def copy_figures(name: str, run_path: Path, results: Path) -> list[str]:
    """The first seed's evaluation figures, as RESULTS/ROW-FIGURE.png."""
    copied = []
    for section in Run.open(run_path).evaluation:
        for figure in section.get("figures") or []:
            target = results / f"{name}-{figure}"
            shutil.copyfile(run_path / figure, target)
            copied.append(target.name)
    return copied


def measure_row(
    registry: Any, name: str, seeds: int, scale: float, out: Path, results: Path
) -> dict[str, Any]:
    spec = ROWS[name]
    settings = dict(spec["settings"])
    epochs = max(1, round(spec["epochs"] * scale))
    per_seed: dict[str, list[Any]] = {m: [] for m in spec["measures"]}
    walls, trains, figures = [], [], []
    for seed in range(seeds):
        started = time.perf_counter()
        request = TrainRequest(
            spec["architecture"], dataset="mnist", epochs=epochs, out=out, seed=seed, **settings
        )
        path = train(registry, request, verbose=0, log=lambda message: None).path
        walls.append(round(time.perf_counter() - started, 1))
        metrics = measured(path)
        trains.append(metrics.get("train_seconds"))
        for measure in spec["measures"]:
            per_seed[measure].append(metrics.get(measure))
        if seed == 0:
            figures = copy_figures(name, path, results)
        print(name, f"seed {seed}", json.dumps({m: per_seed[m][-1] for m in per_seed}), flush=True)
    return {
        "architecture": spec["architecture"],
        "epochs": epochs,
        "seeds": list(range(seeds)),
        **({"settings": settings} if settings else {}),
        "wall_s": walls,
        "train_s": trains,
        "per_seed": per_seed,
        "summary": {m: spread(v) for m, v in per_seed.items()},
        "figures": figures,
    }


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.1f}"


def table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| row | epochs | seeds | wall time per run (s) | measure | mean ± std | paper |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, found in report["architectures"].items():
        if "summary" not in found:
            continue  # a row from before --seeds
        wall = f"{min(found['wall_s']):.0f}-{max(found['wall_s']):.0f}"
        for measure, summary in found["summary"].items():
            figure = f"{_shown(summary['mean'])} ± {_shown(summary['std'])}"
            seeds = len(found["seeds"])
            paper = PAPER.get((name, measure), "")
            lines.append(
                f"| {name} | {found['epochs']} | {seeds} | {wall} | `{measure}` | {figure} | {paper} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(ROWS), help=f"rows, of: {', '.join(ROWS)}")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per row (default 3)")
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every epoch count")
    parser.add_argument("--out", default=None, help="where the run folders go (default: a temporary one)")
    parser.add_argument("--results", default=str(RESULTS), help="where quality.json and the figures go")
    options = parser.parse_args()
    unknown = [n for n in options.only.split(",") if n not in ROWS]
    if unknown or options.seeds < 1:
        parser.error(
            f"unknown rows {unknown}; rows: {', '.join(ROWS)}" if unknown else "--seeds must be >= 1"
        )
    registry = load_registry()
    out = Path(options.out or tempfile.mkdtemp(prefix="zoo-quality-"))
    results = Path(options.results)
    results.mkdir(parents=True, exist_ok=True)
    report_path = results / "quality.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["machine"] = machine()
    for name in options.only.split(","):
        report.setdefault("architectures", {})[name] = measure_row(
            registry, name, options.seeds, options.epochs_scale, out, results
        )
        write_json(report_path, report)
    print(f"\nmachine: {report['machine']['cpu']}, {report['machine']['cores']} cores; full MNIST\n")
    print("\n".join(table(report)))


if __name__ == "__main__":
    main()
