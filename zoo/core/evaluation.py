"""What an evaluation is: what an architecture's evaluator receives (``TestSplit``) and returns
(``Evaluation``), and the rules its names and values keep, so that zoo can write them into a run
folder without trusting them. Stdlib only: the specs that name evaluators must stay cheap.

An evaluator shows what an architecture is for (a denoising autoencoder's gain in PSNR, a sparse
one's mean activation against rho), where the test metrics of its task cannot. zoo runs one after
training and from ``zoo evaluate``, writes its figures into the run folder, its metrics into
metrics.json and its lines into the model card.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

# A metric's name: a JSON key people read in zoo runs, metrics.json and the card.
_METRIC = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A figure's name: a PNG file name in the run folder, nothing that reaches a sub-folder.
_FIGURE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}\.png$")
# Keras' test metrics (test_loss, ...) and zoo's own training figures keep these prefixes.
RESERVED_PREFIXES = ("test_", "train_")
MAX_LINES = 200
MAX_LINE_LENGTH = 2000
MAX_FIGURES = 16
MAX_VALUES_PER_METRIC = 1000  # a per-class mapping of a dataset of many classes


@dataclass(frozen=True)
class TestSplit:
    """The test images an evaluator measures on.

    ``x``: float32 images in [0, 1], (N, height, width, channels), as the model takes them.
    ``y``: their integer labels, (N,). ``class_names``: a name per label, as the dataset gives
    them (may be empty; then the labels are their own names).
    """

    __test__ = False  # not a pytest test class, whatever its name

    x: Any
    y: Any
    class_names: tuple[str, ...] = ()

    def class_name(self, label: int) -> str:
        """The name of a label: the dataset's, else the label itself."""
        return self.class_names[label] if 0 <= label < len(self.class_names) else str(label)


@dataclass
class Evaluation:
    """What an evaluator found.

    ``metrics``: name -> a finite number, a bool, ``None`` (not measurable here), or a mapping
    of names (such as classes) to numbers or ``None``. Names are lower case, digits and ``_``,
    at most 64 characters, and start with neither ``test_`` nor ``train_`` (Keras' test metrics
    and zoo's own). ``figures``: a PNG file name (``denoising.png``) -> a matplotlib Figure,
    which zoo saves atomically into the run folder. ``lines``: Markdown for the model card,
    under ``title``. ``headline``: the metric ``zoo runs`` shows for the run (empty: none).
    """

    metrics: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    title: str = ""
    headline: str = ""


def _number(value: Any) -> bool:
    """A finite int or float, NumPy's included (a bool is not a number here)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _numpy_bool(value: Any) -> bool:
    """NumPy's bool (``np.bool_``; named ``bool`` since NumPy 2), told without importing NumPy."""
    kind = type(value)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


def _value_problem(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, bool) or _numpy_bool(value) or _number(value):
        return None
    if isinstance(value, Mapping):
        if len(value) > MAX_VALUES_PER_METRIC:
            return f"metric {name!r} maps {len(value)} names, more than {MAX_VALUES_PER_METRIC}"
        for key, item in value.items():
            if not isinstance(key, str) or not (item is None or _number(item)):
                return f"metric {name!r} maps {key!r} to {item!r}: give names to finite numbers or None"
        return None
    return f"metric {name!r} is {value!r}: give a finite number, a bool, None or a mapping to numbers"


def problems(
    evaluation: Any, taken_metrics: Collection[str] = (), taken_figures: Collection[str] = ()
) -> list[str]:
    """What keeps zoo from recording ``evaluation`` (empty: nothing). ``taken_*`` are the names
    already recorded by zoo or by another evaluation of the run. Never raises."""
    if not isinstance(evaluation, Evaluation):
        return [f"returned {type(evaluation).__name__}, not a zoo.api.Evaluation"]
    found: list[str] = []
    if not isinstance(evaluation.metrics, Mapping):
        found.append(f"metrics is {type(evaluation.metrics).__name__}, not a dict")
    else:
        for name, value in evaluation.metrics.items():
            if not isinstance(name, str) or not _METRIC.match(name):
                found.append(f"metric name {name!r} is not valid: a-z, 0-9 and '_', at most 64")
            elif name.startswith(RESERVED_PREFIXES):
                found.append(f"metric name {name!r} starts with {name.split('_')[0]}_, which zoo keeps")
            elif name in taken_metrics:
                found.append(f"metric {name!r} is already recorded for this run")
            else:
                found += [p for p in [_value_problem(name, value)] if p]
        if evaluation.headline and evaluation.headline not in evaluation.metrics:
            found.append(f"headline {evaluation.headline!r} is none of its metrics")
    if not isinstance(evaluation.figures, Mapping):
        found.append(f"figures is {type(evaluation.figures).__name__}, not a dict")
    else:
        if len(evaluation.figures) > MAX_FIGURES:
            found.append(f"{len(evaluation.figures)} figures, more than {MAX_FIGURES}")
        for name, fig in evaluation.figures.items():
            if not isinstance(name, str) or not _FIGURE.match(name):
                found.append(
                    f"figure name {name!r} is not valid: a file name of lower-case letters, digits, "
                    "'_', '-' or '.' that ends in .png"
                )
            elif name in taken_figures:
                found.append(f"figure {name!r} is already written for this run")
            elif not callable(getattr(fig, "savefig", None)):
                found.append(f"figure {name!r} is {type(fig).__name__}, not a matplotlib Figure")
    lines = evaluation.lines
    if not isinstance(lines, (list, tuple)) or not all(isinstance(line, str) for line in lines):
        found.append("lines must be a list of strings")
    elif len(lines) > MAX_LINES or any(len(line) > MAX_LINE_LENGTH for line in lines):
        found.append(f"lines: at most {MAX_LINES}, each of at most {MAX_LINE_LENGTH} characters")
    if not isinstance(evaluation.title, str) or len(evaluation.title) > 200:
        found.append("title must be a string of at most 200 characters")
    return found
