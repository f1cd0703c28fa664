"""The one comparison rule (zoo.runtimes.compare, zoo.api.compare, zoo_onnx.compare: one module) shared
by export, verify, its runtimes and the rewrites."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zoo.runtimes import compare

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
    assert compare.passes(1.0) and not compare.passes(1.0 + 1e-9)
    assert not compare.passes(math.nan)
    assert compare.worst([]) == 0.0 and compare.most_used([]) == 0.0
    assert math.isnan(compare.largest([0.0, math.nan])) and math.isnan(compare.largest([math.nan, 0.0]))


def test_an_output_passes_within_atol_plus_rtol_times_its_largest_magnitude():
    """The rule and float32's constants as docs/export.md gives them.

    Fails if: the rule is absolute only (1.7e-5 beside magnitude 100 fails), or its relative part
    is taken element by element (an element near 0 of an output near 100 differs by 9e-5 in a
    correct graph at input scale 100), or float32's tolerance is raised (2e-5 in an output of
    probabilities passes)."""
    fp32 = compare.tolerance("fp32")
    assert (fp32.atol, fp32.rtol) == (1e-5, 1e-5)
    at_100 = compare.difference(np.array([100.0 + 1.7e-5, 0.0]), np.array([100.0, 0.0]))
    assert at_100.used == pytest.approx(1.7e-5 / (1e-5 + 1e-5 * 100)) and compare.passes(at_100.used)
    cancelled = compare.difference(np.array([100.0, 9e-5]), np.array([100.0, 0.0]))
    assert compare.passes(cancelled.used)
    probabilities = compare.difference(np.array([0.5, 0.5 + 2e-5]), np.array([0.5, 0.5]))
    assert probabilities.used == pytest.approx(2e-5 / (1e-5 + 0.5e-5)) and not compare.passes(
        probabilities.used
    )
    rng = np.random.default_rng(0)
    for _ in range(50):
        b = rng.standard_normal(20) * 10.0 ** rng.integers(-3, 3)
        a = b + rng.standard_normal(20) * 10.0 ** rng.integers(-7, -2)
        used = compare.difference(a, b).used
        assert compare.passes(used) == bool(np.all(np.abs(a - b) <= 1e-5 + 1e-5 * np.abs(b).max()))


def test_the_tolerance_of_each_precision_and_as_a_file_records_it():
    assert compare.tolerance("fp16") == compare.Tolerance(1e-3, 1e-3)
    assert compare.tolerance("int8") == compare.Tolerance(1e-2, 1e-2)
    assert compare.recorded({"atol": 1e-5, "rtol": 1e-5}) == compare.tolerance()
    assert compare.recorded(1e-5) == compare.Tolerance(1e-5, 0.0)  # files exported before rtol
    assert compare.recorded(None) == compare.tolerance()


def test_no_allowance_at_all_fails_any_difference():
    none = compare.Tolerance(0.0, 0.0)
    assert compare.difference(np.array([1.0]), np.array([1.0]), none).used == 0.0
    assert compare.difference(np.array([1.0 + 1e-12]), np.array([1.0]), none).used == math.inf
    assert math.isnan(
        compare.difference(np.array([2.0]), np.array([1.0]), compare.Tolerance(math.nan, 0)).used
    )


def test_the_rule_is_one_module_for_zoo_plugins_and_the_exporter():
    """zoo verify's runtimes, the exporter and any plugin judge by the same rule and tolerances."""
    import zoo_onnx.compare

    import zoo.api

    assert zoo.api.compare is compare and zoo_onnx.compare is compare
