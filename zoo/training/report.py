"""What a finished (or interrupted) run folder shows people: plots and a model card.

Loss and metric curves for every run; originals above reconstructions for autoencoders; a
confusion matrix for classifiers; true and predicted classes per pixel for segmentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.core.specs import ArchitectureSpec
from zoo.core.tasks import task
from zoo.runs import modelcard, plots, run_folder
from zoo.training import data

HISTORY_PNG = "history.png"
PREDICTION_SAMPLES = 2000  # enough for a confusion matrix that means something, quick to predict


def write(
    run_dir: Path, spec: ArchitectureSpec, model: Any, arrays: data.Arrays, metrics: dict[str, Any]
) -> None:
    run = run_folder.Run.open(run_dir)
    history = run.history
    written: list[str] = []
    if history:
        plots.history_png(history, run_dir / HISTORY_PNG, f"{spec.name}: training history")
        written.append(HISTORY_PNG)
    written.append(_predictions(run_dir, spec, model, arrays))
    modelcard.write(run_dir, run.config, metrics, history, written)


def _predictions(run_dir: Path, spec: ArchitectureSpec, model: Any, arrays: data.Arrays) -> str:
    name = task(spec.task).figure
    x, y = arrays.x_test[:PREDICTION_SAMPLES], arrays.y_test[:PREDICTION_SAMPLES]
    if spec.task == "reconstruction":
        predicted = np.asarray(model.predict(x[:10], verbose=0))
        plots.reconstructions_png(
            x[:10], predicted, run_dir / name, f"{spec.name}: originals and reconstructions"
        )
    elif spec.task == "classification":
        classes = int(model.output.shape[-1])
        predicted = np.asarray(model.predict(x, batch_size=256, verbose=0)).argmax(axis=-1)
        matrix = plots.confusion_matrix(y, predicted, classes)
        known = list(arrays.class_names)[:classes]
        names = known + [str(i) for i in range(len(known), classes)]  # outputs the dataset never uses
        plots.confusion_png(matrix, names, run_dir / name, f"{spec.name}: {len(x)} test images")
    else:
        masks = data.segmentation_masks(x[:8], y[:8])
        predicted = np.asarray(model.predict(x[:8], verbose=0)).argmax(axis=-1)
        plots.segmentation_png(x[:8], masks, predicted, run_dir / name, f"{spec.name}: classes per pixel")
    return name
