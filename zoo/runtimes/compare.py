"""One rule for comparing outputs: the export's parity with Keras, the chain of parts against the
full model, ``zoo verify``'s test sets, every runtime of its matrix and the rewrites' equivalence
check all use it. Plugins reach it as ``zoo.api.compare`` (the ONNX exporter's ``zoo_onnx.compare``
is this module).

An output agrees when every element has ``|got - expected| <= atol + rtol * scale``, ``scale``
the output's largest finite magnitude expected (``expected`` is Keras, or the graph before a
rewrite, or the test set): the absolute part holds small outputs, the relative part large
activations, where float32 sums differ by more than 1e-5 between two correct graphs (at
activation scale 100 an ulp is 7.6e-6). The relative part is to the output's scale, not to each
element as ``numpy.allclose``'s is: an element near 0 that is a sum of terms near 100 carries
their rounding (measured: a correct one-convolution graph at input scale 100 differs from Keras
by 9e-5 where Keras gives about 0, 2.5 times numpy.allclose's allowance at rtol 1e-5).

NaN and infinity: a position where both sides hold NaN, or the same infinity, agrees; a position
where only one side does differs by infinity. A shape or count that differs is an error, never
a number. Per output three figures: the largest absolute difference, the largest relative one
(to the scale), and ``used``, the largest difference over its allowance: 1 or less passes (NaN
never passes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# What a float32 file may differ by from float32 Keras, and a runtime from the outputs recorded in
# a lower-precision file's own test set (fp16, int8 files are judged against Keras by a metric).
FP32_TOLERANCE = 1e-5  # atol
FP32_RTOL = 1e-5
_LOWER = {"fp16": (1e-3, 1e-3), "int8": (1e-2, 1e-2)}


@dataclass(frozen=True)
class Tolerance:
    """``|got - expected| <= atol + rtol * scale``, element by element, ``scale`` the output's
    largest finite magnitude expected."""

    atol: float
    rtol: float

    def __str__(self) -> str:
        return f"{self.atol:g} + {self.rtol:g} x the output's largest magnitude"

    def as_dict(self) -> dict[str, float]:
        return {"atol": self.atol, "rtol": self.rtol}


def trusted(recorded_tolerance: Tolerance) -> bool:
    """Whether a tolerance a file records is one zoo could have written: finite, not negative and
    no looser than the loosest zoo writes (int8's). A file cannot widen its own check (a NaN or
    infinite tolerance would pass any output)."""
    loosest = max(_LOWER.values())
    values = (recorded_tolerance.atol, recorded_tolerance.rtol)
    return all(bool(np.isfinite(v)) and 0 <= v <= bound for v, bound in zip(values, loosest, strict=True))


def tolerance(precision: str = "fp32") -> Tolerance:
    """The tolerance of a file of ``precision`` (fp32, fp16, int8)."""
    if precision == "fp32":
        return Tolerance(FP32_TOLERANCE, FP32_RTOL)
    return Tolerance(*_LOWER[precision])


def recorded(value: dict[str, float] | float | None, precision: str = "fp32") -> Tolerance:
    """The tolerance a file records in its ``zoo.validation``: ``{"atol", "rtol"}``, or one
    number (an absolute tolerance, as files exported before the relative part had)."""
    if isinstance(value, dict):
        return Tolerance(float(value["atol"]), float(value["rtol"]))
    if value is None:
        return tolerance(precision)
    return Tolerance(float(value), 0.0)


class OutputsDiffer(ValueError):
    """Outputs that cannot be compared number by number: another count, or another shape."""


@dataclass(frozen=True)
class Difference:
    """How far one output is from what was expected."""

    max_abs: float
    max_rel: float
    used: float  # the largest difference over the allowance (atol + rtol * scale): <= 1 passes


def difference(got: np.ndarray, expected: np.ndarray, within: Tolerance | None = None) -> Difference:
    """The difference of one output from what was expected, by the rule above (``within``: the
    tolerance ``used`` is measured against, float32's if not given)."""
    within = within or tolerance()
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise OutputsDiffer(f"output shape {a.shape} differs from the expected {b.shape}")
    if not a.size:
        return Difference(0.0, 0.0, 0.0)
    agree = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    with np.errstate(invalid="ignore"):
        diff = np.where(agree, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), math.inf, diff)  # NaN or infinity on one side only
    worst = float(diff.max())
    finite = np.abs(b[np.isfinite(b)])
    scale = float(finite.max()) if finite.size else 0.0
    allowance = within.atol + within.rtol * scale
    if worst == 0:
        used = 0.0
    elif allowance > 0 or math.isnan(allowance):
        used = worst / allowance
    else:  # a difference with no allowance at all
        used = math.inf
    return Difference(worst, worst / max(scale, 1e-12), used)


def compare_outputs(
    got: Sequence[np.ndarray], expected: Sequence[np.ndarray], within: Tolerance | None = None
) -> list[Difference]:
    """Output by output; ``OutputsDiffer`` where the counts or a shape differ."""
    if len(got) != len(expected):
        raise OutputsDiffer(f"{len(got)} outputs where {len(expected)} are expected")
    return [difference(a, b, within) for a, b in zip(got, expected, strict=True)]


def worst(differences: Sequence[Difference]) -> float:
    """The largest absolute difference of several outputs (0 for none)."""
    return max((d.max_abs for d in differences), default=0.0)


def largest(values: Iterable[float]) -> float:
    """The largest of several figures: 0 for none, NaN where one is NaN (``max`` may drop it)."""
    found = list(values)
    return math.nan if any(math.isnan(v) for v in found) else max(found, default=0.0)


def most_used(differences: Sequence[Difference]) -> float:
    """The largest difference over the allowance of several outputs (0 for none; NaN kept)."""
    return largest(d.used for d in differences)


def passes(used: float) -> bool:
    """Every element within its allowance (``used`` at most 1); NaN fails."""
    return used <= 1.0
