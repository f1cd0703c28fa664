"""The evaluation every model of a task gets (zoo's own, before its architecture's evaluator):
how it does per class, which its single test metric averages away.

- classification: each class's accuracy beside the confusion matrix (``confusion_matrix.png``);
- reconstruction: each class's reconstruction MSE (``mse-per-class.png``) and the first test
  images above their reconstructions (``reconstructions.png``);
- segmentation: each class's IoU (``iou-per-class.png``), true and predicted classes per pixel
  (``segmentations.png``) and the predictions laid over the images with the wrong pixels marked
  (``overlays.png``).

The numbers are measured on the first ``MAX_IMAGES`` test images (the whole of MNIST's), so that
an evaluation after every training stays a few seconds on a large test split; the model predicts
them in batches, a chunk of ``CHUNK`` images at a time so that a segmenter's per-pixel scores
never fill the memory. The figures show the first few images, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from zoo.core.evaluation import MAX_VALUES_PER_METRIC, Evaluation, TestSplit
from zoo.core.specs import ArchitectureSpec
from zoo.runs import plots
from zoo.training import data

MAX_IMAGES = 10_000  # all of MNIST's test split; a larger one is measured on its first 10,000
BATCH_SIZE = 256
CHUNK = 2048  # images per predict call: (CHUNK, H, W, classes) float32 scores at most at once
RECONSTRUCTIONS_SHOWN = 10
SEGMENTATIONS_SHOWN = 8
NAMED_IN_LINES = 3  # the weakest classes a card line names
BACKGROUND = "background"


def evaluate(spec: ArchitectureSpec, model: Any, split: TestSplit, settings: Mapping[str, Any]) -> Evaluation:
    """The per-class evaluation of ``spec``'s task for ``model`` on ``split``. ``settings`` (the
    run's config) is taken as every evaluator takes it; a task's evaluation needs none of it.
    ``model`` needs only ``predict(x, batch_size=, verbose=)``."""
    measure = _BY_TASK.get(spec.task)
    if measure is None:
        return Evaluation()
    x = np.asarray(split.x[:MAX_IMAGES], dtype=np.float32)
    y = np.asarray(split.y[:MAX_IMAGES]).astype(np.int64).ravel()
    if not len(x):
        return Evaluation(lines=["No test images to measure on."], title=_TITLES[spec.task])
    evaluation = measure(spec, model, x, y, split)
    evaluation.title = _TITLES[spec.task]
    if len(split.x) > len(x):
        evaluation.lines.append(f"Measured on the first {len(x):,} of the {len(split.x):,} test images.")
    return evaluation


def _predict(model: Any, x: np.ndarray, keep: Callable[[np.ndarray, slice], Any]) -> list[Any]:
    """``keep(outputs, rows)`` of each chunk ``x[rows]``, in order: what is needed of the model's
    outputs, so that they are never all held at once."""
    found = []
    for start in range(0, len(x), CHUNK):
        rows = slice(start, min(start + CHUNK, len(x)))
        found.append(keep(np.asarray(model.predict(x[rows], batch_size=BATCH_SIZE, verbose=0)), rows))
    return found


def _unique(names: list[str]) -> list[str]:
    """Names usable as the keys of one mapping: a repeated one gets its index."""
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    return [f"{name} ({k})" if seen[name] > 1 else name for k, name in enumerate(names)]


def _per_class(names: list[str], values: np.ndarray) -> dict[str, float | None]:
    """{name: value}, None where the value is NaN (a class without samples); at most as many
    classes as an evaluation may record."""
    return {
        name: (float(value) if np.isfinite(value) else None)
        for name, value in list(zip(names, values, strict=True))[:MAX_VALUES_PER_METRIC]
    }


def _markdown(name: str) -> str:
    """A class name as literal Markdown text (a folder may be called ``*new*``)."""
    return "".join("\\" + c if c in "\\`*_{}[]()<>#+-.!|" else c for c in name)


def _ranking(values: Mapping[str, float | None], worse: str, show: Callable[[float], str]) -> str:
    """The weakest classes, then the best: ``**7** 95.1%, **9** 96.0%; best **1** 99.5%``."""
    measured = [(name, value) for name, value in values.items() if value is not None]
    measured.sort(key=lambda item: item[1], reverse=worse == "higher")
    weakest = ", ".join(f"**{_markdown(n)}** {show(v)}" for n, v in measured[:NAMED_IN_LINES])
    if len(measured) <= NAMED_IN_LINES:
        return weakest
    best, value = measured[-1]
    return f"{weakest}; best **{_markdown(best)}** {show(value)}"


def _absent(values: Mapping[str, float | None], named: int, why: str) -> list[str]:
    """A line naming the dataset's classes (the first ``named``) without a value, ``why`` said."""
    absent = [name for name, value in list(values.items())[:named] if value is None]
    if not absent:
        return []
    shown = ", ".join(_markdown(n) for n in absent[:10]) + (", ..." if len(absent) > 10 else "")
    return [f"{why}: {shown}."]


def _class_names(split: TestSplit, count: int) -> list[str]:
    """A name per label 0..count-1: the dataset's, else the label (outputs it never uses)."""
    return _unique([split.class_name(label) for label in range(count)])


def _classification(
    spec: ArchitectureSpec, model: Any, x: np.ndarray, y: np.ndarray, split: TestSplit
) -> Evaluation:
    chunks = _predict(model, x, lambda scores, _: (scores.argmax(axis=-1).ravel(), scores.shape[-1]))
    predicted = np.concatenate([labels for labels, _ in chunks])
    classes = max(chunks[0][1], int(y.max()) + 1)  # a label beyond the outputs: counted, never right
    names = _class_names(split, classes)
    matrix = plots.confusion_matrix(y, predicted, classes)
    accuracy = _per_class(names, plots.per_class_accuracy(matrix))
    measured = [v for v in accuracy.values() if v is not None]
    total = float(np.trace(matrix) / matrix.sum())
    figure = plots.confusion_figure(matrix, names, f"{spec.name}: test images by class", per_class=True)
    return Evaluation(
        metrics={"accuracy_per_class": accuracy, "worst_class_accuracy": min(measured)},
        figures={"confusion_matrix.png": figure},
        lines=[
            "Weakest classes by accuracy (the share of a class's test images classified right): "
            f"{_ranking(accuracy, 'lower', lambda v: f'{v:.1%}')}. All classes: {total:.1%}.",
            *_absent(accuracy, len(split.class_names), "No test images of"),
        ],
    )


def _reconstruction(
    spec: ArchitectureSpec, model: Any, x: np.ndarray, y: np.ndarray, split: TestSplit
) -> Evaluation:
    def keep(outputs: np.ndarray, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        inputs = x[rows]
        if outputs.size != inputs.size:
            raise ValueError(f"the model outputs {outputs.shape[1:]} for inputs of {inputs.shape[1:]}")
        outputs = outputs.reshape(inputs.shape)
        errors = np.square(outputs - inputs).reshape(len(inputs), -1).mean(axis=1)
        return errors, outputs[:RECONSTRUCTIONS_SHOWN]

    chunks = _predict(model, x, keep)
    errors = np.concatenate([e for e, _ in chunks]).astype(np.float64)
    classes = max(len(split.class_names), int(y.max()) + 1)
    names = _class_names(split, classes)
    counts = np.bincount(y, minlength=classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.bincount(y, weights=errors, minlength=classes) / counts
    mse = _per_class(names, means)
    measured = [v for v in mse.values() if v is not None]
    title = f"{spec.name}: reconstruction MSE per class\n{len(x):,} test images"
    return Evaluation(
        metrics={"mse_per_class": mse, "worst_class_mse": max(measured)},
        figures={
            "reconstructions.png": plots.reconstructions_figure(
                x[:RECONSTRUCTIONS_SHOWN],
                chunks[0][1],
                f"{spec.name}: originals and reconstructions",
                RECONSTRUCTIONS_SHOWN,
            ),
            "mse-per-class.png": plots.per_class_figure(
                mse, title, "mean squared error", worse="higher", overall=float(errors.mean())
            ),
        },
        lines=[
            "Hardest classes to reconstruct (mean squared error per pixel): "
            f"{_ranking(mse, 'higher', lambda v: f'{v:.4f}')}. All classes: {errors.mean():.4f}.",
            *_absent(mse, len(split.class_names), "No test images of"),
        ],
    )


def _segmentation(
    spec: ArchitectureSpec, model: Any, x: np.ndarray, y: np.ndarray, split: TestSplit
) -> Evaluation:
    labelled = int(y.max()) + 2  # class 0 is the background, class k + 1 the label k (zoo.core.tasks)

    def keep(scores: np.ndarray, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's confusion matrix over pixels, and its first predicted masks."""
        classes = max(scores.shape[-1], labelled)
        predicted = scores.argmax(axis=-1)
        truth = data.segmentation_masks(x[rows], y[rows])
        return plots.confusion_matrix(truth, predicted, classes), predicted[:SEGMENTATIONS_SHOWN]

    chunks = _predict(model, x, keep)
    matrix = sum(counts for counts, _ in chunks)
    classes = len(matrix)
    names = _unique([BACKGROUND] + [split.class_name(label) for label in range(classes - 1)])
    inter = np.diag(matrix).astype(np.float64)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = _per_class(names, inter / union)  # NaN: a class neither in the truth nor predicted
    measured = [v for v in iou.values() if v is not None]
    mean_iou = float(np.mean(measured))  # as Keras' MeanIoU: over the classes present
    shown = min(SEGMENTATIONS_SHOWN, len(x))
    images, truth, predicted = x[:shown], data.segmentation_masks(x[:shown], y[:shown]), chunks[0][1]
    colours = max(plots.CATEGORICAL_COLOURS, classes)  # the same colour per class in both figures
    return Evaluation(
        metrics={"iou_per_class": iou, "mean_iou": mean_iou, "worst_class_iou": min(measured)},
        figures={
            "segmentations.png": plots.segmentation_figure(
                images, truth, predicted, f"{spec.name}: classes per pixel", shown, num_classes=colours
            ),
            "overlays.png": plots.overlays_figure(
                images,
                truth,
                predicted,
                f"{spec.name}: the predicted classes over the images, and the pixels it gets wrong",
                shown,
                num_classes=colours,
                class_names=names,
            ),
            "iou-per-class.png": plots.per_class_figure(
                iou,
                f"{spec.name}: IoU per class\n{len(x):,} test images",
                "intersection over union",
                worse="lower",
                overall=mean_iou,
                overall_label="mean over the classes",
            ),
        },
        lines=[
            "Weakest classes by IoU (the pixels of a class predicted right, over those either true or "
            f"predicted): {_ranking(iou, 'lower', lambda v: f'{v:.3f}')}. "
            f"Mean over the {len(measured)} classes present: {mean_iou:.3f}.",
            *_absent(iou, 1 + len(split.class_names), "Neither in the test images nor predicted"),
        ],
    )


_BY_TASK: dict[str, Callable[[ArchitectureSpec, Any, np.ndarray, np.ndarray, TestSplit], Evaluation]] = {
    "classification": _classification,
    "reconstruction": _reconstruction,
    "segmentation": _segmentation,
}
_TITLES = {
    "classification": "Per class",
    "reconstruction": "Reconstruction per class",
    "segmentation": "Segmentation per class",
}
