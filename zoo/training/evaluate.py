"""Test metrics of a trained model: at the end of training and again later (``zoo evaluate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.core.registry import Registry
from zoo.core.specs import ArchitectureSpec
from zoo.runs.run_folder import Run
from zoo.training import data, models, pipeline

EVALUATION_BATCH = 256


def test_metrics(
    model: Any, spec: ArchitectureSpec, arrays: data.Arrays, batch_size: int
) -> dict[str, float]:
    """The compiled loss and metrics over the whole test split, as ``test_<name>``."""
    batches = pipeline.evaluation_dataset(
        arrays.x_test, data.targets(spec, arrays.x_test, arrays.y_test), max(batch_size, EVALUATION_BATCH)
    )
    evaluated = model.evaluate(batches, verbose=0, return_dict=True)
    return {f"test_{name}": float(value) for name, value in evaluated.items()}


def evaluate_run(registry: Registry, run_dir: str | Path, data_dir: str | None = None) -> dict[str, Any]:
    """Re-compute a run's test metrics from its saved model and its dataset's test split, next
    to what training recorded."""
    run = Run.open(run_dir)
    spec = registry.architecture(run.architecture)
    if data_dir is not None:
        data.data_dir(data_dir)  # a bad --data-dir is refused before the model loads
    data.run_dataset(registry, run)  # and so is a dataset path recorded relative
    model = models.load_run_model(registry, run, compile=True)
    directory = data_dir if data_dir is not None else run.config.get("data_dir")
    arrays = data.run_arrays(registry, spec, run, directory)
    metrics = test_metrics(model, spec, arrays, int(run.config.get("batch_size", EVALUATION_BATCH)))
    recorded = run.metrics
    return {
        "run": str(run.path),
        "architecture": spec.name,
        "dataset": run.config["dataset"],
        "status": run.state.get("status"),
        "epochs_completed": run.state.get("epochs_completed"),
        "test_samples": len(arrays.x_test),
        "metrics": metrics,
        "recorded": {name: recorded.get(name) for name in metrics},
    }
