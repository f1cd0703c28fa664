"""What a finished (or interrupted) run folder shows people besides its evaluations: the training
curves and the model card (which shows the evaluations' figures, ``zoo.training.evaluators``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.core.specs import ArchitectureSpec
from zoo.runs import modelcard, plots, run_folder

HISTORY_PNG = "history.png"


def write(run_dir: Path, spec: ArchitectureSpec, metrics: dict[str, Any]) -> None:
    run = run_folder.Run.open(run_dir)
    history = run.history
    written: list[str] = []
    if history:
        plots.history_png(history, run_dir / HISTORY_PNG, f"{spec.name}: training history")
        written.append(HISTORY_PNG)
    modelcard.write(run_dir, run.config, metrics, history, written)
