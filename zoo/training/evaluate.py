"""Test metrics and evaluations of a trained model: at the end of training and again later
(``zoo evaluate``), from the run's model.keras and its dataset's test split."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from zoo.core.errors import OutputExists, RunFolderError
from zoo.core.registry import Registry
from zoo.core.specs import ArchitectureSpec
from zoo.runs import atomic, locks
from zoo.runs.run_folder import EVALUATION_FILE, Run, evaluation_metrics
from zoo.training import data, evaluators, models, pipeline

EVALUATION_BATCH = 256
# Where ``zoo evaluate`` writes its figures by default: beside the run's own, never over them.
EVALUATION_FOLDER = "evaluation"


def test_metrics(
    model: Any, spec: ArchitectureSpec, arrays: data.Arrays, batch_size: int
) -> dict[str, float]:
    """The compiled loss and metrics over the whole test split, as ``test_<name>``."""
    batches = pipeline.evaluation_dataset(
        arrays.x_test, data.targets(spec, arrays.x_test, arrays.y_test), max(batch_size, EVALUATION_BATCH)
    )
    evaluated = model.evaluate(batches, verbose=0, return_dict=True)
    return {f"test_{name}": float(value) for name, value in evaluated.items()}


def _figures_folder(run: Run, out: str | os.PathLike[str] | None) -> Path:
    """Where the figures go: ``out``, else RUN/evaluation. Replaced whole, so a folder of
    something else is refused rather than emptied."""
    folder = Path(out) if out is not None else run.path / EVALUATION_FOLDER
    if folder.is_dir() and any(folder.iterdir()) and not (folder / EVALUATION_FILE).is_file():
        raise OutputExists(
            f"{str(folder)!r} holds files that are not an evaluation of zoo's; "
            "give --out a new or empty folder (an earlier evaluation's folder is replaced)"
        )
    if folder.exists() and not folder.is_dir():
        raise OutputExists(f"{str(folder)!r} is a file; give --out a folder")
    return folder


def evaluate_run(
    registry: Registry,
    run_dir: str | Path,
    data_dir: str | None = None,
    out: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Re-compute a run's test metrics and its evaluations from its saved model and its dataset's
    test split, next to what training recorded. The evaluations' figures are written to ``out``
    (default RUN/evaluation), never over the run's own. ``errors`` names the evaluations that
    failed (an evaluator's plugin among them)."""
    run = Run.open(run_dir)
    spec = registry.architecture(run.architecture)
    if data_dir is not None:
        data.data_dir(data_dir)  # a bad --data-dir is refused before the model loads
    data.run_dataset(registry, run)  # and so is a dataset path recorded relative
    folder = _figures_folder(run, out)
    with contextlib.ExitStack() as reading:
        reader = locks.read_run(run.path)  # no resume replaces the model while it is measured
        if reader is not None:
            reading.enter_context(reader)
        model = models.load_run_model(registry, run, compile=True)
        directory = data_dir if data_dir is not None else run.config.get("data_dir")
        arrays = data.run_arrays(registry, spec, run, directory)
        metrics = test_metrics(model, spec, arrays, int(run.config.get("batch_size", EVALUATION_BATCH)))
        recorded = run.metrics
        notes: list[str] = []
        try:
            sections = run.evaluation
        except RunFolderError as exc:  # what is recomputed here needs nothing of it
            sections = []
            notes.append(f"{exc}: what training recorded of the evaluations is read from metrics.json")
        earlier = evaluation_metrics(sections)
        errors: list[str] = []
        with atomic.atomic_dir(folder) as tmp:
            outcome = evaluators.run(
                spec,
                model,
                arrays,
                run.config,
                tmp,
                # without a record, metrics.json's names may be an earlier evaluation's own
                taken_metrics=set(recorded) - set(earlier) if sections else evaluators.ZOO_METRICS,
                warn=errors.append,
            )
    return {
        "run": str(run.path),
        "architecture": spec.name,
        "dataset": run.config["dataset"],
        "status": run.state.get("status"),
        "epochs_completed": run.state.get("epochs_completed"),
        "test_samples": len(arrays.x_test),
        "metrics": metrics,
        "recorded": {name: recorded.get(name) for name in metrics},
        "evaluation": outcome.metrics,
        "evaluation_recorded": {name: earlier.get(name, recorded.get(name)) for name in outcome.metrics},
        "figures": str(folder),
        "figure_files": [name for section in outcome.sections for name in section["figures"]],
        "errors": errors,
        "notes": notes,
    }
