"""Datasets as arrays a model can take: scaled to [0, 1], shaped to the model's input.

Preprocessing follows the lecture: every image the same size, values in [0, 1], colour to
grey by 0.3 R + 0.59 G + 0.11 B where a model takes one channel. Any adaptation (padding
28x28 to 32x32, grey to RGB) is explicit: it is returned as a note and recorded in the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.core import settings
from zoo.core.errors import DatasetUnavailable, PluginError, RunFolderError, ShapeMismatch, UnknownDataset
from zoo.core.registry import Registry, call, owner
from zoo.core.specs import ArchitectureSpec, DatasetSpec
from zoo.core.tasks import task
from zoo.runs.run_folder import CONFIG_FILE, Run

GREY_WEIGHTS = (0.3, 0.59, 0.11)
# The end of the training split held out for validation. zoo.training.fit holds out the same
# share (its VALIDATION_SPLIT); here it sets how few training images a dataset may have.
VALIDATION_SPLIT = 0.1
PATH_ARGUMENT = "PATH"  # a dataset whose argument is called this takes a file-system path


@dataclass
class Arrays:
    """A dataset ready for a model: float32 NHWC images in [0, 1] and integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    notes: list[str] = field(default_factory=list)
    class_names: tuple[str, ...] = ()


def readable_folder(path: Path) -> bool:
    """Whether this process (as the user it runs as) may list ``path`` and open what is in it."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.R_OK | os.X_OK, effective_ids=effective)


def data_dir(option: str | os.PathLike[str] | None = None) -> Path | None:
    """The data directory: the option if given (it must be a folder), else ``$ZOO_DATA_DIR``.

    The environment variable is not checked here: only datasets that read files need it, and
    their loaders say which file they looked for where.
    """
    if option is not None:
        path = Path(option).expanduser()
        try:
            is_dir = path.is_dir()
        except OSError as exc:  # a name too long, a parent we may not enter
            raise DatasetUnavailable(
                f"Data directory {str(path)!r} (from --data-dir) cannot be used: {exc.strerror or exc}"
            ) from exc
        if not is_dir:
            raise DatasetUnavailable(f"Data directory {str(path)!r} (from --data-dir) is not a folder")
        if not readable_folder(path):
            raise DatasetUnavailable(f"Data directory {str(path)!r} (from --data-dir) is not readable")
        return path
    value = os.environ.get(settings.DATA_DIR)
    return Path(value).expanduser() if value else None


_data_dir = data_dir


def as_float_images(x: Any, name: str) -> np.ndarray:
    """uint8 0..255 or float 0..1 images, (N, H, W) or (N, H, W, C) -> float32 NHWC in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4:
        raise DatasetUnavailable(f"Dataset {name!r} gave images of shape {x.shape}, not (N, H, W[, C])")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / np.float32(255.0)
    x = x.astype(np.float32)
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise DatasetUnavailable(
            f"Dataset {name!r} gave float images outside [0, 1] ({x.min():.3g}..{x.max():.3g})"
        )
    return x


def to_grey(x: np.ndarray) -> np.ndarray:
    """RGB -> one channel by 0.3 R + 0.59 G + 0.11 B."""
    weights = np.asarray(GREY_WEIGHTS, dtype=np.float32)
    return np.tensordot(x, weights, axes=([-1], [0]))[..., np.newaxis].astype(np.float32)


def fit_to_input(
    x: np.ndarray, input_shape: tuple[int | None, ...], dataset: str, arch: str
) -> tuple[np.ndarray, list[str]]:
    """Adapt NHWC images to an architecture's (H, W, C) input, or say why they cannot be."""
    notes: list[str] = []
    have = tuple(x.shape[1:])
    want_h, want_w, want_c = input_shape
    mismatch = ShapeMismatch(
        f"Dataset {dataset!r} has images of shape {have} but {arch!r} takes {tuple(input_shape)}"
    )
    if want_c is not None and have[2] != want_c:
        if have[2] == 3 and want_c == 1:
            x = to_grey(x)
            notes.append("converted RGB to grey by 0.3 R + 0.59 G + 0.11 B")
        elif have[2] == 1 and want_c == 3:
            x = np.repeat(x, 3, axis=-1)
            notes.append("repeated the grey channel to RGB")
        else:
            raise mismatch
    pads = []
    for have_n, want_n in ((have[0], want_h), (have[1], want_w)):
        if want_n is None or have_n == want_n:
            pads.append((0, 0))
        elif have_n < want_n:
            total = want_n - have_n
            pads.append((total // 2, total - total // 2))
        else:
            raise mismatch
    if any(p != (0, 0) for p in pads):
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
        notes.append(
            f"zero-padded {have[0]}x{have[1]} to {want_h}x{want_w} "
            f"(rows {pads[0][0]}+{pads[0][1]}, columns {pads[1][0]}+{pads[1][1]})"
        )
    return x, notes


def segmentation_masks(x: np.ndarray, labels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Per-pixel classes derived from images and their labels: 0 where the (mean over
    channels) intensity is at most ``threshold``, else the image's label + 1. (N, H, W) int64."""
    foreground = x.mean(axis=-1) > threshold
    return np.where(foreground, labels.reshape(-1, 1, 1) + 1, 0).astype(np.int64)


def targets(spec: ArchitectureSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What the model learns to output (``zoo.core.tasks``): labels, the input itself, or
    per-pixel classes."""
    kind = task(spec.task).targets
    if kind == "labels":
        return y
    if kind == "masks":
        return segmentation_masks(x, y)
    return x


def load_arrays(
    registry: Registry,
    spec: ArchitectureSpec,
    dataset: str,
    directory: str | None,
    for_training: bool = True,
) -> Arrays:
    """The dataset named ``dataset`` (``folder:PATH`` included) from ``directory`` (else
    ``$ZOO_DATA_DIR``), shaped for ``spec``; ``for_training``: with enough training images
    to fit on after the validation split (``check_splits``)."""
    dataset_spec = registry.dataset(dataset)
    argument = dataset.partition(":")[2] if dataset_spec.argument else ""
    return load(dataset_spec, spec, data_dir(directory), argument=argument, for_training=for_training)


def _takes_path(dataset: DatasetSpec) -> bool:
    return dataset.argument.upper() == PATH_ARGUMENT


def absolute_dataset(registry: Registry, dataset: str) -> str:
    """``folder:photos`` -> ``folder:/where/it/was/photos``: a dataset path as the run records
    it, so that ``--resume``, ``evaluate`` and ``export`` started elsewhere read the same folder.
    Anything else (and a name that is not registered, refused later) is returned as it is."""
    try:
        spec = registry.dataset(dataset)
    except UnknownDataset:
        return dataset
    name, _, argument = dataset.partition(":")
    if not _takes_path(spec) or not argument:
        return dataset
    try:
        return f"{name}:{os.path.abspath(os.path.expanduser(argument))}"
    except OSError:  # the current folder is gone: the loader says what it cannot find
        return dataset


def run_dataset(registry: Registry, run: Run) -> str:
    """The dataset config.json names, refused where it is a path recorded relative (runs made
    before zoo recorded it absolute): the folder it was relative to is not known, and the
    current one may hold other images under the same name."""
    dataset = str(run.setting("dataset"))
    name, _, argument = dataset.partition(":")
    relative = argument and not os.path.isabs(os.path.expanduser(argument))
    if relative and _takes_path(registry.dataset(dataset)):
        raise RunFolderError(
            f"{str(run.path / CONFIG_FILE)!r} names dataset {dataset!r}, a path relative to the folder "
            f'the run was trained from, which is not recorded: write the absolute path there ("{name}:/...")'
        )
    return dataset


def run_arrays(
    registry: Registry,
    spec: ArchitectureSpec,
    run: Run,
    directory: str | None = None,
    for_training: bool = False,
) -> Arrays:
    """A run's dataset (``run_dataset``), checked to be the one it was trained on: classes that
    differ from those config.json names are refused."""
    dataset = run_dataset(registry, run)
    arrays = load_arrays(registry, spec, dataset, directory, for_training=for_training)
    recorded = run.config.get("class_names")
    if isinstance(recorded, list) and recorded and list(arrays.class_names) != recorded:
        raise RunFolderError(
            f"Dataset {dataset!r} has the classes {_names(arrays.class_names)}, but "
            f"{str(run.path / CONFIG_FILE)!r} names {_names(recorded)}: it is not the data the run was "
            "trained on"
        )
    return arrays


def _names(names: Any, shown: int = 8) -> str:
    names = [str(n) for n in names]
    more = f", … ({len(names)} in all)" if len(names) > shown else ""
    return "(" + ", ".join(names[:shown]) + more + ")" if names else "(none)"


def minimum_training(split: float = VALIDATION_SPLIT) -> int:
    """The fewest training images that leave at least one to fit on after ``split``."""
    n = 1
    while int(n * (1 - split)) < 1:
        n += 1
    return n


def check_splits(name: str, x_train: np.ndarray, x_test: np.ndarray, for_training: bool = True) -> None:
    """Refuse, before any training, a dataset that would leave nothing to fit on once the
    validation share is held out, or nothing to test on: a run fitted on no image would end
    "complete" with figures that mean nothing."""
    if for_training and int(len(x_train) * (1 - VALIDATION_SPLIT)) < 1:
        needed = minimum_training()
        raise DatasetUnavailable(
            f"Dataset {name!r} has {len(x_train)} training image(s), too few: training needs at least "
            f"{needed} ({VALIDATION_SPLIT:.0%} of them are held out for validation)"
        )
    if not len(x_test):
        raise DatasetUnavailable(f"Dataset {name!r} has no test images")


def returned(dataset: DatasetSpec, found: Any) -> tuple[Any, ...]:
    """What a loader returned, checked to be the documented tuple ``(x_train, y_train, x_test,
    y_test[, class_names])``; ``PluginError`` naming the plugin otherwise."""
    said = None
    if not isinstance(found, (tuple, list)) or len(found) not in (4, 5):
        size = f" of {len(found)}" if isinstance(found, (tuple, list)) else ""
        said = f"{type(found).__name__}{size}"
    elif len(found) == 5 and (isinstance(found[4], str) or not isinstance(found[4], (tuple, list))):
        said = f"class names as {type(found[4]).__name__}"
    if said is not None:
        raise PluginError(
            f"{owner(dataset)}: {dataset.loader} returned {said}, not (x_train, y_train, x_test, "
            "y_test[, class_names])"
        )
    return tuple(found)


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    input_shape: tuple[int | None, ...] = (28, 28, 1),
    registry: Registry | None = None,
) -> tuple[Any, ...]:
    """A registered dataset exactly as its loader returns it, ``(x_train, y_train, x_test,
    y_test[, class_names])``: for a plugin's loader that builds on another dataset. ``data_dir``
    defaults to ``$ZOO_DATA_DIR``; ``input_shape`` is passed on for datasets that make images to
    fit (``synthetic``); ``registry`` defaults to the installed plugins'."""
    if registry is None:
        from zoo.core.host import load_registry

        registry = load_registry()
    spec = registry.dataset(name)
    argument = name.partition(":")[2]
    extra = {"argument": argument} if spec.argument else {}
    directory = _data_dir(data_dir)  # the parameter keeps the public name of zoo's option
    return returned(
        spec, call(spec, spec.loader, data_dir=directory, input_shape=tuple(input_shape), **extra)
    )


def load(
    dataset: DatasetSpec,
    arch: ArchitectureSpec,
    directory: Path | None = None,
    argument: str = "",
    for_training: bool = True,
) -> Arrays:
    """Load ``dataset`` through its plugin's loader and shape it for ``arch``.

    ``argument`` is what followed ``NAME:`` for datasets that take one (``folder:PATH``).
    """
    extra = {"argument": argument} if dataset.argument else {}
    loaded = returned(
        dataset, call(dataset, dataset.loader, data_dir=directory, input_shape=arch.input_shape, **extra)
    )
    x_train, y_train, x_test, y_test = loaded[:4]
    class_names = tuple(loaded[4]) if len(loaded) > 4 else tuple(dataset.class_names)
    x_train = as_float_images(x_train, dataset.name)
    x_test = as_float_images(x_test, dataset.name)
    for split, x, y in (("training", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != np.asarray(y).size:  # else Keras fails mid-fit, long after start-up
            raise DatasetUnavailable(
                f"Dataset {dataset.name!r} gave {len(x)} {split} images but {np.asarray(y).size} labels"
            )
    check_splits(f"{dataset.name}:{argument}" if argument else dataset.name, x_train, x_test, for_training)
    x_train, notes = fit_to_input(x_train, arch.input_shape, dataset.name, arch.name)
    x_test, _ = fit_to_input(x_test, arch.input_shape, dataset.name, arch.name)
    return Arrays(
        x_train=x_train,
        y_train=np.asarray(y_train).astype(np.int64).reshape(-1),
        x_test=x_test,
        y_test=np.asarray(y_test).astype(np.int64).reshape(-1),
        notes=notes,
        class_names=class_names,
    )
