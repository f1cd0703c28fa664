"""Test metrics of a trained model: at the end of training and again later (``zoo evaluate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.core.registry import Registry, resolve
from zoo.core.specs import ArchitectureSpec
from zoo.runs.run_folder import MODEL_FILE, Run
from zoo.training import data, models, pipeline

EVALUATION_BATCH = 256


def test_metrics(
    model: Any, spec: ArchitectureSpec, arrays: data.Arrays, batch_size: int
) -> dict[str, float]:
    """The compiled loss and metrics over the whole test split, as ``test_<name>``."""
    from zoo.training.train import targets

    batches = pipeline.evaluation_dataset(
        arrays.x_test, targets(spec, arrays.x_test, arrays.y_test), max(batch_size, EVALUATION_BATCH)
    )
    evaluated = model.evaluate(batches, verbose=0, return_dict=True)
    return {f"test_{name}": float(value) for name, value in evaluated.items()}


def evaluate_run(registry: Registry, run_dir: str | Path, data_dir: str | None = None) -> dict[str, Any]:
    """Re-compute a run's test metrics from its saved model and its dataset's test split, next
    to what training recorded."""
    from zoo.training.train import load_arrays

    run = Run.open(run_dir)
    spec = registry.architecture(run.architecture)
    if data_dir is not None:
        data.data_dir(data_dir)  # a bad --data-dir is refused before the model loads
    from zoo.training.keras_env import import_keras

    import_keras()
    resolve(spec.builder, owner=f"architecture {spec.name!r}")  # registers custom layers, if any
    model = run.load_model(compile=True)
    models.check_loaded(spec, model, run.path / MODEL_FILE)
    directory = data_dir if data_dir is not None else run.config.get("data_dir")
    arrays = load_arrays(registry, spec, str(run.setting("dataset")), directory)
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
