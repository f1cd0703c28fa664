"""The checks of a dataset: its loader, and what the loader returns (the types, shapes and
label range ``DatasetSpec`` documents). Its spec was checked when it registered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo.checks.check import CheckFailed, CheckSkipped, callables, hint
from zoo.checks.subjects import DatasetSubject

LOADER_HINT = (
    "raise zoo.api.DatasetUnavailable for data that cannot be had here: users see one line, and "
    "this check skips"
)


def loader_resolves(subject: DatasetSubject) -> str:
    return callables(subject.spec, [subject.spec.loader])


def loads(subject: DatasetSubject) -> str:
    try:
        found = subject.make("loaded", subject.load)
    except CheckSkipped:
        raise
    except Exception as exc:
        raise CheckFailed(f"{exc}{hint(exc, LOADER_HINT)}") from exc
    return f"{len(found[0]):,} training and {len(found[2]):,} test images"


def _images(split: str, x: Any, declared: tuple[int, ...] | None) -> str:
    import numpy as np

    if not isinstance(x, np.ndarray):
        raise CheckFailed(f"x_{split} is a {type(x).__name__}, not a NumPy array")
    if x.ndim not in (3, 4) or len(x) == 0:
        raise CheckFailed(f"x_{split} has shape {x.shape}, not (N, H, W) or (N, H, W, C) with N > 0")
    if x.dtype == np.uint8:
        pass
    elif np.issubdtype(x.dtype, np.floating):
        low, high = float(np.min(x)), float(np.max(x))
        if not (low >= 0.0 and high <= 1.0):
            raise CheckFailed(f"x_{split} is {x.dtype} from {low:g} to {high:g}, not in [0, 1]")
    else:
        raise CheckFailed(f"x_{split} is {x.dtype}, not uint8 (0..255) or float in [0, 1]")
    if declared is not None:
        have = tuple(x.shape[1:]) if x.ndim == 4 else (*x.shape[1:], 1)
        want = tuple(declared) if len(declared) == 3 else (*declared, 1)
        if have != want:
            raise CheckFailed(f"x_{split} holds images of {tuple(x.shape[1:])}, the spec says {declared}")
    return f"{x.dtype} {tuple(x.shape[1:])}"


def images(subject: DatasetSubject) -> str:
    found = subject.loaded()
    said = {
        _images(split, x, subject.spec.image_shape) for split, x in (("train", found[0]), ("test", found[2]))
    }
    return ", ".join(sorted(said))


def labels(subject: DatasetSubject) -> str:
    import numpy as np

    found = subject.loaded()
    spec = subject.spec
    names = tuple(found[4]) if len(found) > 4 else tuple(spec.class_names)
    classes = spec.num_classes or len(names)
    seen: set[int] = set()
    for split, x, y in (("train", found[0], found[1]), ("test", found[2], found[3])):
        y = np.asarray(y)
        if not np.issubdtype(y.dtype, np.integer):
            raise CheckFailed(f"y_{split} is {y.dtype}, not integers")
        if y.size != len(x):
            raise CheckFailed(f"y_{split} has {y.size} labels for {len(x)} images")
        if y.size and (int(y.min()) < 0 or (classes and int(y.max()) >= classes)):
            raise CheckFailed(
                f"y_{split} runs from {int(y.min())} to {int(y.max())}, outside 0..{classes - 1} "
                f"({classes} classes)"
            )
        seen |= {int(v) for v in np.unique(y)}
    if len(found) > 4 and spec.num_classes and len(names) != spec.num_classes:
        raise CheckFailed(f"the loader names {len(names)} classes, the spec declares {spec.num_classes}")
    return f"{len(seen)} of {classes or len(seen)} classes present"


CHECKS: tuple[tuple[str, str, Callable[[DatasetSubject], str | None]], ...] = (
    ("resolves", "the loader imports and is callable", loader_resolves),
    ("loads", "the loader returns (x_train, y_train, x_test, y_test[, class_names])", loads),
    ("images", "images are uint8 or float in [0, 1], (N, H, W[, C]), of the declared shape", images),
    ("labels", "labels are integers, one per image, within the declared classes", labels),
)
