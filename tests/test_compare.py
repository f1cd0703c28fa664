"""The one comparison rule (zoo_onnx.compare) shared by export, verify and the rewrites."""

from __future__ import annotations

import math

import numpy as np
import pytest
from zoo_onnx import compare

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("got", "expected", "max_abs"),
    [
        ([1.0, 2.0], [1.0, 2.5], 0.5),
        ([NAN, 2.0], [NAN, 2.0], 0.0),  # NaN where both have NaN agrees
        ([NAN, 2.0], [1.0, 2.0], INF),  # NaN on one side only never passes
        ([1.0, 2.0], [NAN, 2.0], INF),
        ([INF, 1.0], [INF, 1.25], 0.25),  # the same infinity agrees, the rest still counts
        ([INF, 1.0], [-INF, 1.0], INF),
        ([INF], [1.0], INF),
    ],
)
def test_the_nan_and_infinity_rule(got, expected, max_abs):
    assert compare.difference(np.array(got), np.array(expected)).max_abs == max_abs


def test_relative_difference_is_to_the_largest_finite_expected_magnitude():
    found = compare.difference(np.array([1.0, -4.0, INF]), np.array([1.0, -3.0, INF]))
    assert (found.max_abs, found.max_rel) == (1.0, 1 / 3)


def test_shapes_and_counts_that_differ_are_errors_not_numbers():
    with pytest.raises(compare.OutputsDiffer, match="shape"):
        compare.difference(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(compare.OutputsDiffer, match="1 outputs where 2"):
        compare.compare_outputs([np.zeros(1)], [np.zeros(1), np.zeros(1)])


def test_passing_is_within_the_tolerance_and_nan_never_passes():
    assert compare.passes(1e-5, compare.FP32_TOLERANCE) and not compare.passes(2e-5, 1e-5)
    assert not compare.passes(math.nan, 1.0) and not compare.passes(0.0, math.nan)
    assert compare.worst([]) == 0.0
