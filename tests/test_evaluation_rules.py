"""The rules zoo records an evaluation by (zoo.core.evaluation.problems): what an evaluator may
return, checked without TensorFlow (mutation-tested, docs/reliability.md)."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.api import Evaluation, TestSplit
from zoo.core.evaluation import problems


@pytest.mark.parametrize(
    ("evaluation", "reason"),
    [
        ({"metrics": {"Loss": 1.0}}, "metric name 'Loss' is not valid"),
        ({"metrics": {"train_time": 1.0}}, "starts with train_"),
        ({"metrics": {"x": float("nan")}}, "metric 'x' is nan"),
        ({"metrics": {"x": "high"}}, "metric 'x' is 'high'"),
        ({"metrics": {"x": np.str_("high")}}, "give a finite number, a bool, None or a mapping"),
        ({"metrics": {"x": {"a": [1]}}}, "maps 'a' to [1]"),
        ({"figures": {"../up.png": None}}, "figure name '../up.png' is not valid"),
        ({"figures": {"plot.png": "not a figure"}}, "is str, not a matplotlib Figure"),
        ({"lines": "one line"}, "lines must be a list of strings"),
        ({"metrics": {"x": 1}, "headline": "y"}, "headline 'y' is none of its metrics"),
    ],
)
def test_the_rules_of_an_evaluation(evaluation, reason):
    assert any(reason in problem for problem in problems(Evaluation(**evaluation))), problems(
        Evaluation(**evaluation)
    )


def test_a_good_evaluation_passes_and_taken_names_are_refused():
    good = Evaluation(metrics={"x": np.float32(1.5), "ok": True, "per": {"a": None, "b": np.int64(2)}})
    assert problems(good) == []
    assert problems(good, taken_metrics={"x"}) == ["metric 'x' is already recorded for this run"]
    assert problems({"metrics": {}}) == ["returned dict, not a zoo.api.Evaluation"]


def test_a_class_name_is_the_datasets_else_the_label():
    split = TestSplit(x=None, y=None, class_names=("cat", "dog"))
    assert [split.class_name(i) for i in (0, 1, 2, -1)] == ["cat", "dog", "2", "-1"]


class _Drawable:
    def savefig(self, *args, **kwargs):
        """What zoo calls to write a figure: anything that has it is drawn."""


def test_a_good_evaluation_at_every_limit_passes():
    from zoo.core.evaluation import MAX_FIGURES, MAX_LINE_LENGTH, MAX_LINES, MAX_VALUES_PER_METRIC

    at_limits = Evaluation(
        metrics={"per": {str(i): 1.0 for i in range(MAX_VALUES_PER_METRIC)}, "flag": np.bool_(True)},
        figures={f"f{i}.png": _Drawable() for i in range(MAX_FIGURES)},
        lines=["x" * MAX_LINE_LENGTH] * MAX_LINES,
        title="t" * 200,
    )
    assert problems(at_limits) == []


@pytest.mark.parametrize(
    ("evaluation", "reason"),
    [
        (
            {"metrics": {"per": {str(i): 1.0 for i in range(1001)}}},
            "metric 'per' maps 1001 names, more than 1000",
        ),
        ({"metrics": [("x", 1.0)]}, "metrics is list, not a dict"),
        ({"metrics": {"test_x": 1.0}}, "metric name 'test_x' starts with test_, which zoo keeps"),
        ({"figures": [("a.png", _Drawable())]}, "figures is list, not a dict"),
        ({"figures": {f"f{i}.png": _Drawable() for i in range(17)}}, "17 figures, more than 16"),
        ({"lines": ["x"] * 201}, "lines: at most 200, each of at most 2000 characters"),
        ({"lines": ["x" * 2001]}, "lines: at most 200, each of at most 2000 characters"),
        ({"title": "t" * 201}, "title must be a string of at most 200 characters"),
        ({"title": 5}, "title must be a string of at most 200 characters"),
    ],
)
def test_what_is_over_a_limit_or_of_another_kind_is_said(evaluation, reason):
    assert reason in problems(Evaluation(**evaluation))


def test_a_figure_name_another_evaluation_wrote_is_refused():
    evaluation = Evaluation(figures={"a.png": _Drawable(), "b.png": _Drawable()})
    assert problems(evaluation, taken_figures={"b.png"}) == ["figure 'b.png' is already written for this run"]
    assert problems(Evaluation(figures={"Bad.png": _Drawable()})) == [
        "figure name 'Bad.png' is not valid: a file name of lower-case letters, digits, '_', '-' or '.' "
        "that ends in .png"
    ]
    assert problems(Evaluation(lines=[1])) == ["lines must be a list of strings"]
