"""PNG plots for a run folder: training curves, a confusion matrix (with each class's accuracy),
reconstructions, segmentations and their overlays, and a bar per class of any per-class measure.

Matplotlib is imported inside the functions, so ``zoo list`` and friends never pay for it. The
figures are made with ``matplotlib.figure.Figure`` rather than pyplot: no global figure list to
leak into, and no backend switch that would break a user's notebook when zoo is used as a library.
Every PNG is written under a temporary name and renamed when complete (``zoo.runs.atomic``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.runs import atomic

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
# History keys that are not a quality measure but a setting that changes per epoch.
SCHEDULE_KEYS = ("learning_rate", "lr")
# Above this many classes the cells of a confusion matrix are too small to hold their counts.
MAX_ANNOTATED_CLASSES = 20
# tab20 gives 20 clearly different colours; more classes fall back to a sampled continuous map.
CATEGORICAL_COLOURS = 20


def figure(width: float, height: float) -> Figure:
    """A matplotlib Figure of ``width`` x ``height`` inches, laid out by itself, outside pyplot
    (nothing global to leak or to switch). For evaluators: ``zoo.api.figure``."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Render ``fig`` as PNG to a temporary name beside ``path``, then rename it into place.

    A pyplot-free ``Figure`` needs no closing: it is freed with its last reference.
    """
    path = Path(path)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def _finite(values: Sequence[float]) -> np.ndarray:
    """As floats, with inf (a diverged loss) turned into gaps that do not wreck the axis limits."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return np.where(np.isfinite(array), array, np.nan)


def _history_panels(history: Mapping[str, Sequence[float]]) -> list[str]:
    """Base metric names in a stable order: loss first, schedules last, each name once."""
    names: list[str] = []
    for key in history:
        base = key.removeprefix("val_")
        if base not in names:
            names.append(base)
    schedules = [n for n in names if n in SCHEDULE_KEYS]
    rest = [n for n in names if n not in SCHEDULE_KEYS]
    rest.sort(key=lambda n: n != "loss")  # stable: only moves "loss" to the front
    return rest + schedules


def history_png(history: Mapping[str, Sequence[float]], path: str | os.PathLike[str], title: str) -> Path:
    """Curves per epoch, one panel per metric with its ``val_`` twin, to see over- and under-fitting.

    Points carry markers so that a one-epoch run still shows something; a learning-rate key gets
    its own panel on a log scale.
    """
    from matplotlib.ticker import MaxNLocator

    panels = _history_panels(history)
    if not panels or not any(len(v) for v in history.values()):
        fig = figure(5, 2.5)
        fig.suptitle(title)
        fig.text(0.5, 0.5, "no completed epochs", ha="center", va="center")
        return save(fig, path)

    epochs_run = max(len(v) for v in history.values())
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = figure(4.2 * cols, 3.2 * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, name in zip(axes.flat, panels, strict=False):
        for key, label, style in ((name, "training", "o-"), (f"val_{name}", "validation", "s--")):
            if key not in history or not len(history[key]):
                continue
            values = _finite(history[key])
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, style, markersize=4, label=label if name not in SCHEDULE_KEYS else key)
        rates = _finite(history.get(name, []))
        rates = rates[np.isfinite(rates)]
        if name in SCHEDULE_KEYS and rates.size and np.all(rates > 0):
            ax.set_yscale("log")  # schedules decay by factors
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, epochs_run + 0.5)  # a single epoch gets a sensible axis too
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    return save(fig, path)


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int) -> np.ndarray:
    """Counts (int64), rows the true class and columns the predicted one.

    Both inputs are flattened, so per-pixel masks of a segmentation work as well as labels.
    """
    true = np.asarray(y_true).ravel()
    pred = np.asarray(y_pred).ravel()
    if true.shape != pred.shape:
        raise ValueError(f"y_true has {true.size} labels but y_pred has {pred.size}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    checked = []
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.dtype.kind not in "biuf" or (
            labels.dtype.kind == "f" and not np.all(labels == np.rint(labels))
        ):
            raise ValueError(f"{name} must hold class indices (whole numbers), not {labels.dtype} scores")
        labels = labels.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"{name} holds labels from {labels.min()} to {labels.max()}, outside 0..{num_classes - 1}"
            )
        checked.append(labels)
    true, pred = checked
    counts = np.bincount(true * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def confusion_png(
    matrix: Any, class_names: Sequence[str] | None, path: str | os.PathLike[str], title: str
) -> Path:
    """A heat map of ``matrix`` (from ``confusion_matrix``): which classes are taken for which."""
    return save(confusion_figure(matrix, class_names, title), path)


def _class_labels(class_names: Sequence[str] | None, n: int) -> list[str]:
    names = [str(c) for c in class_names or []]
    if len(names) > n:
        raise ValueError(f"{len(names)} class names for a {n}x{n} confusion matrix")
    return names + [str(i) for i in range(len(names), n)]  # a model may have more outputs than names


def per_class_accuracy(matrix: Any) -> np.ndarray:
    """Of each true class (a row of ``matrix``), the share predicted right; NaN for a class
    without samples."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / totals, np.nan)


def confusion_figure(
    matrix: Any, class_names: Sequence[str] | None, title: str, *, per_class: bool = False
) -> Figure:
    """``confusion_png``'s figure; with ``per_class``, each true class's accuracy as a bar beside
    its row, the weakest in orange, so the class that drags the total down is seen at once."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or not matrix.size:
        raise ValueError(f"a confusion matrix is square and not empty, got shape {matrix.shape}")
    n = matrix.shape[0]
    names = _class_labels(class_names, n)
    total = int(matrix.sum())
    accuracy = f"accuracy {np.trace(matrix) / total:.2%} ({total:,} samples)" if total else "no samples"

    side = min(max(4.5, 0.4 * n + 2.5), 11)
    annotated = n <= MAX_ANNOTATED_CLASSES
    if per_class:
        fig = figure(side + 2.6, side)
        ax, dots = fig.subplots(1, 2, width_ratios=[side, 2.0])
        aspect = "auto"  # the panel beside has the same rows, so the matrix fills its height
    else:
        fig = figure(side + 1, side)
        ax, dots, aspect = fig.subplots(), None, "equal"
    image = ax.imshow(matrix, cmap="Blues", vmin=0, interpolation="nearest", aspect=aspect)
    if not (per_class and annotated):  # with the counts in the cells, the panel beside says more
        fig.colorbar(image, ax=ax, shrink=0.8, label="count", location="left" if per_class else "right")
    if annotated:
        threshold = matrix.max() / 2 if total else 0
        size = 9 if n <= 12 else 7
        for (row, col), value in np.ndenumerate(matrix):
            colour = "white" if value > threshold else "black"
            text = f"{int(value)}" if float(value).is_integer() else f"{value:.2g}"
            ax.text(col, row, text, ha="center", va="center", color=colour, fontsize=size)
    step = max(1, math.ceil(n / 40))  # tick labels stay legible for many classes
    ticks = np.arange(0, n, step)
    long_names = max(len(s) for s in names) > 3
    ax.set_xticks(
        ticks,
        [names[i] for i in ticks],
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
    )
    ax.set_yticks(ticks, [names[i] for i in ticks])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if dots is None:
        ax.set_title(f"{title}\n{accuracy}")
        return fig
    overall = float(np.trace(matrix) / total) if total else None
    _accuracy_dots(dots, per_class_accuracy(matrix), overall, annotated)
    fig.suptitle(f"{title}\n{accuracy}")
    return fig


def _accuracy_dots(ax: Axes, accuracy: np.ndarray, overall: float | None, annotated: bool) -> None:
    """A dot per row of the matrix beside: that true class's accuracy, its value at the right,
    the weakest in orange, and a dashed line at the accuracy over all classes. The axis starts
    near the weakest class, so that 95% and 99% look apart (dots, not bars: no length to misread)."""
    n = len(accuracy)
    rows = np.arange(n)
    present = np.isfinite(accuracy)
    lowest = min([float(np.nanmin(accuracy))] if present.any() else [1.0])
    if overall is not None:
        lowest = min(lowest, overall)
    lower = max(0.0, math.floor((lowest - 0.01) * 20) / 20)  # a multiple of 5% below them all
    colours = np.full(n, "tab:blue", dtype=object)
    if present.any():
        colours[present & (accuracy == np.nanmin(accuracy))] = "tab:orange"
    ax.hlines(rows[present], lower, accuracy[present], color="lightgrey", linewidth=1)
    ax.scatter(accuracy[present], rows[present], color=list(colours[present]), s=36, zorder=3)
    if overall is not None:
        ax.axvline(overall, color="grey", linestyle="--", linewidth=1)
    pad = (1.0 - lower) * 0.04  # dots at either end stay whole
    ax.set_xlim(lower - pad, 1.0 + pad)
    ax.set_ylim(n - 0.5, -0.5)  # the matrix's rows, top down
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.xaxis.set_major_locator(_percent_locator(lower))
    ax.set_xlabel(
        "accuracy of the class\n(dashed: of all)" if overall is not None else "accuracy of the class"
    )
    ax.grid(axis="x", alpha=0.3)
    ax.yaxis.tick_right()
    step = max(1, math.ceil(n / 40))
    if annotated:
        labels = [f"{v:.1%}" if np.isfinite(v) else "no samples" for v in accuracy]
        ax.set_yticks(rows, labels, fontsize=9 if n <= 12 else 7)
    else:
        ax.set_yticks(rows[::step], [""] * len(rows[::step]))
    ax.tick_params(axis="y", length=0)


def _percent_locator(lower: float) -> Any:
    from matplotlib.ticker import MultipleLocator

    span = 1.0 - lower
    return MultipleLocator(0.25 if span > 0.5 else 0.1 if span > 0.2 else 0.05)


def _as_images(array: Any, what: str) -> np.ndarray:
    """(N, H, W, C) with C 1 or 3, clipped to [0, 1]; (N, H, W) is taken as grey."""
    images = np.asarray(array, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"{what} must be (N, H, W, 1) or (N, H, W, 3), got shape {images.shape}")
    return np.clip(images, 0.0, 1.0)


def _as_masks(array: Any, what: str) -> np.ndarray:
    """(N, H, W) class indices; a trailing axis of 1 is dropped."""
    masks = np.asarray(array)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    if masks.ndim != 3:
        raise ValueError(f"{what} must be (N, H, W) class indices, got shape {masks.shape}")
    return masks


def _show_image(ax: Axes, image: np.ndarray) -> None:
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")


def _grid(rows: list[tuple[str, np.ndarray]], count: int, title: str, show: Any) -> Figure:
    """``count`` columns, one row per (label, array); ``show(ax, array[i])`` draws one cell."""
    fig = figure(1.15 * count + 1.3, 1.2 * len(rows) + 0.5)
    axes = fig.subplots(len(rows), count, squeeze=False)
    for r, (label, array) in enumerate(rows):
        for c in range(count):
            ax = axes[r, c]
            show(ax, array[c], r)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    return fig


def _count(count: int, *arrays: np.ndarray) -> int:
    sizes = {len(a) for a in arrays}
    if len(sizes) != 1:
        raise ValueError(f"the arrays hold different numbers of samples: {sorted(sizes)}")
    shown = min(count, sizes.pop())
    if shown < 1:
        raise ValueError("nothing to show: no samples, or count < 1")
    return shown


def image_grid(rows: Sequence[tuple[str, Any]], title: str, count: int = 10) -> Figure:
    """A figure of images: one row per ``(label, images)``, the first ``count`` of each in
    columns (the same index is the same sample). Images are (N, H, W), (N, H, W, 1) or
    (N, H, W, 3) in [0, 1]. For evaluators: ``zoo.api.image_grid``."""
    if not rows:
        raise ValueError("image_grid needs at least one row")
    arrays = [(str(label), _as_images(images, f"row {label!r}")) for label, images in rows]
    shown = _count(count, *(a for _, a in arrays))
    return _grid(arrays, shown, title, lambda ax, image, _row: _show_image(ax, image))


def reconstructions_png(
    originals: Any, reconstructions: Any, path: str | os.PathLike[str], title: str, count: int = 10
) -> Path:
    """The first ``count`` inputs above what the model makes of them, to judge an autoencoder by eye."""
    return save(reconstructions_figure(originals, reconstructions, title, count), path)


def reconstructions_figure(originals: Any, reconstructions: Any, title: str, count: int = 10) -> Figure:
    """``reconstructions_png``'s figure."""
    x = _as_images(originals, "originals")
    y = _as_images(reconstructions, "reconstructions")
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"originals are {x.shape[1:]} but reconstructions are {y.shape[1:]}")
    return image_grid([("original", x), ("reconstruction", y)], title, count)


def _class_colours(num_classes: int) -> Any:
    """A categorical colormap with exactly one colour per class index."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    if num_classes <= CATEGORICAL_COLOURS:
        return ListedColormap(colormaps["tab20"].colors[:num_classes])
    return colormaps["turbo"].resampled(num_classes)


def segmentation_png(
    images: Any,
    true_masks: Any,
    predicted_masks: Any,
    path: str | os.PathLike[str],
    title: str,
    count: int = 8,
    *,
    num_classes: int | None = None,
) -> Path:
    """Inputs above their true and predicted per-pixel classes, in colours fixed per class.

    ``num_classes`` defaults to 20 (or more if a mask holds a higher index), so that a class keeps
    its colour from one plot to the next whichever classes the shown samples happen to contain.
    """
    fig = segmentation_figure(images, true_masks, predicted_masks, title, count, num_classes=num_classes)
    return save(fig, path)


def _segmentation_inputs(
    images: Any, true_masks: Any, predicted_masks: Any, count: int, num_classes: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Checked images and masks, how many to show and the number of class colours."""
    x = _as_images(images, "images")
    truth = _as_masks(true_masks, "true_masks")
    predicted = _as_masks(predicted_masks, "predicted_masks")
    if not (x.shape[1:3] == truth.shape[1:] == predicted.shape[1:]):
        raise ValueError(
            f"images {x.shape[1:3]}, true masks {truth.shape[1:]} and predicted masks "
            f"{predicted.shape[1:]} must have the same height and width"
        )
    shown = _count(count, x, truth, predicted)
    top = int(max(truth[:shown].max(), predicted[:shown].max()))
    classes = num_classes if num_classes is not None else max(CATEGORICAL_COLOURS, top + 1)
    if top >= classes:
        raise ValueError(f"a mask holds class {top} but num_classes is {classes}")
    return x, truth, predicted, shown, classes


def segmentation_figure(
    images: Any,
    true_masks: Any,
    predicted_masks: Any,
    title: str,
    count: int = 8,
    *,
    num_classes: int | None = None,
) -> Figure:
    """``segmentation_png``'s figure."""
    x, truth, predicted, shown, classes = _segmentation_inputs(
        images, true_masks, predicted_masks, count, num_classes
    )
    colours = _class_colours(classes)

    def show(ax: Axes, cell: np.ndarray, row: int) -> None:
        if row == 0:
            _show_image(ax, cell)
        else:  # cells centred on the integers: class k is exactly colour k
            ax.imshow(cell, cmap=colours, vmin=-0.5, vmax=classes - 0.5, interpolation="nearest")

    return _grid([("image", x), ("true classes", truth), ("predicted", predicted)], shown, title, show)


# How much of a class's colour covers the image where the model predicts that class.
OVERLAY_ALPHA = 0.75
WRONG_COLOUR = (1.0, 0.0, 1.0)  # magenta: no class colour of tab20 is near it


def _grey(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) grey version of an (H, W, 1 or 3) image, for colours to be laid over."""
    return np.repeat(image.mean(axis=-1, keepdims=True), 3, axis=-1)


def overlays_figure(
    images: Any,
    true_masks: Any,
    predicted_masks: Any,
    title: str,
    count: int = 8,
    *,
    num_classes: int | None = None,
    class_names: Sequence[str] = (),
) -> Figure:
    """The images themselves under what the model makes of them: the predicted classes laid over
    each image in the colours of ``segmentation_figure`` (class 0, background, left clear), and
    below, the pixels it gets wrong in magenta. A legend names the classes present.

    ``class_names``: a name per class index (missing ones are the index).
    """
    from matplotlib.patches import Patch

    x, truth, predicted, shown, classes = _segmentation_inputs(
        images, true_masks, predicted_masks, count, num_classes
    )
    colours = _class_colours(classes)
    palette = np.asarray(colours(np.arange(classes)))[:, :3]
    overlaid, wrong = [], []
    for image, true, pred in zip(x[:shown], truth[:shown], predicted[:shown], strict=True):
        grey = _grey(image)
        cover = (pred > 0)[..., None] * OVERLAY_ALPHA
        overlaid.append(grey * (1 - cover) + palette[pred] * cover)
        dim = 0.35 + 0.4 * grey  # the digit stays visible under the marks, dimmed
        wrong.append(np.where((pred != true)[..., None], np.asarray(WRONG_COLOUR), dim))
    fig = image_grid(
        [("predicted\nclasses", np.stack(overlaid)), ("wrong pixels", np.stack(wrong))], title, shown
    )
    present = sorted(set(np.unique(predicted[:shown]).tolist()) | set(np.unique(truth[:shown]).tolist()))
    names = [str(c) for c in class_names]
    handles = [
        Patch(color=palette[k], label=names[k] if k < len(names) else str(k)) for k in present if k > 0
    ]
    handles.append(Patch(color=WRONG_COLOUR, label="wrong"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 12), fontsize=8)
    return fig


def _crowded(names: Sequence[str]) -> bool:
    """Whether labels side by side under bars about 0.45 inch apart would run into each other."""
    return any(len(a) + len(b) > 12 for a, b in pairwise(names))


def per_class_figure(
    values: Mapping[str, float | None],
    title: str,
    ylabel: str,
    *,
    worse: str = "lower",
    overall: float | None = None,
    overall_label: str = "all classes",
) -> Figure:
    """A bar per class (``None``: a class without a value, marked n/a), the worst in orange:
    ``worse`` is ``"lower"`` (an accuracy) or ``"higher"`` (an error). ``overall``, the value
    over all classes (``overall_label`` says which), is a dashed line, so the classes above and
    below it stand out."""
    if worse not in ("lower", "higher"):
        raise ValueError(f"worse must be 'lower' or 'higher', not {worse!r}")
    if not values:
        raise ValueError("per_class_figure needs at least one class")
    names = [str(name) for name in values]
    numbers = np.array([np.nan if v is None else float(v) for v in values.values()], dtype=np.float64)
    present = np.isfinite(numbers)
    n = len(names)
    fig = figure(min(max(5.0, 0.45 * n + 1.5), 14), 4.0)
    ax = fig.subplots()
    positions = np.arange(n)
    colours = np.full(n, "tab:blue", dtype=object)
    if present.any():
        worst = np.nanmin(numbers) if worse == "lower" else np.nanmax(numbers)
        colours[present & (numbers == worst)] = "tab:orange"
    ax.bar(positions[present], numbers[present], width=0.7, color=list(colours[present]))
    if overall is not None:
        ax.axhline(
            overall, color="grey", linestyle="--", linewidth=1, label=f"{overall_label}: {overall:.3g}"
        )
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    top = max([float(np.nanmax(numbers))] if present.any() else [0.0])
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    if n <= MAX_ANNOTATED_CLASSES:
        for position, value in zip(positions, numbers, strict=True):
            known = bool(np.isfinite(value))
            ax.text(
                position,
                value if known else 0,
                f"{value:.3g}" if known else "n/a",
                ha="center",
                va="bottom",
                fontsize=8,
                color="black" if known else "grey",
            )
    step = max(1, math.ceil(n / 40))
    ticks = positions[::step]
    crowded = _crowded([names[i] for i in ticks])
    ax.set_xticks(
        ticks,
        [names[i] for i in ticks],
        rotation=45 if crowded else 0,
        ha="right" if crowded else "center",
    )
    ax.set_xlim(-0.6, n - 0.4)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title)
    return fig
