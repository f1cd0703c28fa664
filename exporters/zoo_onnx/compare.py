"""One rule for comparing outputs: the export's parity with Keras, the chain of parts against the
full model, ``zoo verify``'s test sets and the rewrites' equivalence check all use it.

Per output, the largest absolute difference and the largest relative one (to the largest
finite magnitude expected). NaN and infinity: a position where both sides hold NaN, or the same
infinity, agrees; a position where only one side does differs by infinity. A shape or count
that differs is an error, never a number. A file passes when its largest absolute difference is
at most the tolerance of its precision (NaN never passes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# What a file may differ by from float32 Keras (fp32), and a runtime from the outputs recorded in
# a lower-precision file's own test set (fp16, int8, which are judged against Keras by a metric).
TOLERANCE = {"fp32": 1e-5, "fp16": 1e-3, "int8": 1e-2}
FP32_TOLERANCE = TOLERANCE["fp32"]


class OutputsDiffer(ValueError):
    """Outputs that cannot be compared number by number: another count, or another shape."""


@dataclass(frozen=True)
class Difference:
    """How far one output is from what was expected."""

    max_abs: float
    max_rel: float


def difference(got: np.ndarray, expected: np.ndarray) -> Difference:
    """The difference of one output from what was expected, by the rule above."""
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise OutputsDiffer(f"output shape {a.shape} differs from the expected {b.shape}")
    if not a.size:
        return Difference(0.0, 0.0)
    agree = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    with np.errstate(invalid="ignore"):
        diff = np.where(agree, 0.0, np.abs(a - b))
    diff = np.where(np.isnan(diff), math.inf, diff)  # NaN or infinity on one side only
    worst = float(diff.max())
    finite = np.abs(b[np.isfinite(b)])
    scale = max(float(finite.max()) if finite.size else 0.0, 1e-12)
    return Difference(worst, worst / scale)


def compare_outputs(got: Sequence[np.ndarray], expected: Sequence[np.ndarray]) -> list[Difference]:
    """Output by output; ``OutputsDiffer`` where the counts or a shape differ."""
    if len(got) != len(expected):
        raise OutputsDiffer(f"{len(got)} outputs where {len(expected)} are expected")
    return [difference(a, b) for a, b in zip(got, expected, strict=True)]


def worst(differences: Sequence[Difference]) -> float:
    """The largest absolute difference of several outputs (0 for none)."""
    return max((d.max_abs for d in differences), default=0.0)


def passes(max_abs: float, tolerance: float) -> bool:
    """Within the tolerance; NaN fails."""
    return max_abs <= tolerance
