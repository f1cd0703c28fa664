"""``zoo plugins check``'s ``evaluates``: an architecture's evaluator is called as a run calls it
(on the model built from the defaults, 32 synthetic test images, a default run's settings), and
what it returns is held to the rules zoo records an evaluation by. A plugin author hears of a
broken evaluator from the check, in one line, rather than from a warning after a long training.

The evaluators under check are the functions below, named as ``tests.test_evaluator_checks:NAME``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.conftest import invoke, make_registry
from tests.fake_plugins import arch
from zoo import hookimpl
from zoo.api import Evaluation, figure
from zoo.checks.check import FAIL, PASS, SKIP, run
from zoo.checks.plan import checks

PLUGIN = "evals"
SEEN: dict[str, Any] = {}  # what the good evaluator was handed, for the test to look at


def good(model, test, settings):
    SEEN.update(test=test, settings=settings)
    model.evaluate(test.x, test.y, verbose=0)  # compiled, as a run's model is
    probabilities = model.predict(test.x, batch_size=256, verbose=0)
    fig = figure(3, 2)
    fig.subplots().hist(probabilities.max(axis=1), bins=5)
    return Evaluation(
        metrics={
            "mean_confidence": float(probabilities.max(axis=1).mean()),
            "per_class": {test.class_name(c): 0.5 for c in range(2)},
            "confident": True,
        },
        figures={"confidence.png": fig},
        lines=["Confidence as measured."],
        title="Confidence",
        headline="mean_confidence",
    )


def raises(model, test, settings):
    raise ValueError("no test image of class 7")


def returns_a_dict(model, test, settings):
    return {"mean_confidence": 0.5}


def misnames_a_metric(model, test, settings):
    return Evaluation(metrics={"Mean Confidence": 0.5})


def reuses_zoos_name(model, test, settings):
    return Evaluation(metrics={"epochs_completed": 3})


def returns_an_array_as_figure(model, test, settings):
    return Evaluation(figures={"confidence.png": np.zeros((8, 8))})


def draws_badly(model, test, settings):
    fig = figure(2, 2)
    fig.subplots().set_title(r"$\frac$")  # mathtext that fails only when drawn
    return Evaluation(figures={"confidence.png": fig})


EVALUATORS = {
    "good": good,
    "raises": raises,
    "dict": returns_a_dict,
    "misnamed": misnames_a_metric,
    "reused": reuses_zoos_name,
    "array": returns_an_array_as_figure,
    "undrawable": draws_badly,
}


class EvaluatingPlugin:
    """The tiny 8x8 two-class classifier once per evaluator, and once without one."""

    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch("no-eval"))
        for name, function in EVALUATORS.items():
            register(arch(f"{name}-eval", evaluator=f"{__name__}:{function.__name__}"))
        register(arch("missing-eval", evaluator=f"{__name__}:no_such_evaluator"))


@pytest.fixture(scope="module")
def registry():
    return make_registry((PLUGIN, EvaluatingPlugin()))


def _checked(registry, name: str, check: str = "evaluates"):
    (found,) = [c for c in checks(registry, [name]) if c.name == check]
    return run(found)


def test_a_good_evaluator_passes_and_is_called_as_a_run_calls_it(registry):
    outcome = _checked(registry, "good-eval")
    assert (outcome.status, outcome.detail) == (
        PASS,
        "3 metrics (mean_confidence, per_class, confident), 1 figure (confidence.png), 1 card line, "
        "on 32 synthetic images",
    )
    test, settings = SEEN["test"], SEEN["settings"]
    assert test.x.shape == (32, 8, 8, 1) and test.x.dtype == np.float32
    assert test.x.min() >= 0.0 and test.x.max() <= 1.0
    assert list(test.y[:4]) == [0, 1, 0, 1]  # every class the model outputs is there
    assert {
        k: settings[k] for k in ("architecture", "plugin", "hyperparameters", "dataset", "seed", "epochs")
    } == {
        "architecture": "good-eval",
        "plugin": PLUGIN,
        "hyperparameters": {},
        "dataset": "synthetic",
        "seed": 0,
        "epochs": 5,
    }
    assert {"batch_size", "learning_rate", "augment", "task", "class_names"} <= set(settings)
    with pytest.raises(TypeError):
        settings["seed"] = 1  # read-only, as a run hands it over


def test_resolves_includes_the_evaluator(registry):
    assert _checked(registry, "good-eval", "resolves").detail == (
        "tests.fake_models:build_tiny, tests.test_evaluator_checks:good"
    )
    missing = _checked(registry, "missing-eval", "resolves")
    assert missing.status == FAIL
    assert "no_such_evaluator" in missing.detail, missing.detail


def test_without_an_evaluator_the_check_is_skipped(registry):
    outcome = _checked(registry, "no-eval")
    assert (outcome.status, outcome.detail) == (SKIP, "no evaluator")


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        (
            "raises",
            f"error in plugin '{PLUGIN}' (tests.test_evaluator_checks:raises): ValueError: no test image of "
            "class 7",
        ),
        (
            "dict",
            "tests.test_evaluator_checks:returns_a_dict returned dict, not a zoo.api.Evaluation",
        ),
        (
            "misnamed",
            "tests.test_evaluator_checks:misnames_a_metric's Evaluation cannot be recorded: "
            "metric name 'Mean Confidence' is not valid: a-z, 0-9 and '_', at most 64",
        ),
        (
            "reused",
            "tests.test_evaluator_checks:reuses_zoos_name's Evaluation cannot be recorded: "
            "metric 'epochs_completed' is already recorded for this run",
        ),
        (
            "array",
            "tests.test_evaluator_checks:returns_an_array_as_figure's Evaluation cannot be recorded: "
            "figure 'confidence.png' is ndarray, not a matplotlib Figure",
        ),
    ],
)
def test_a_broken_evaluator_fails_the_check_saying_why(registry, name, detail):
    outcome = _checked(registry, f"{name}-eval")
    assert (outcome.status, outcome.detail) == (FAIL, detail)


def test_a_figure_that_cannot_be_drawn_fails_the_check(registry):
    outcome = _checked(registry, "undrawable-eval")
    assert outcome.status == FAIL
    assert outcome.detail.startswith(
        "tests.test_evaluator_checks:draws_badly's figure 'confidence.png' does not draw to PNG: ValueError"
    ), outcome.detail


def test_zoo_plugins_check_says_the_failure_in_one_line(registry):
    result = invoke(registry, "plugins", "check", "raises-eval")
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("FAIL ")] == [
        f"FAIL architecture raises-eval evaluates: error in plugin '{PLUGIN}' "
        "(tests.test_evaluator_checks:raises): ValueError: no test image of class 7"
    ]
    listed = json.loads(invoke(registry, "plugins", "check", "raises-eval", "--json").stdout)
    assert [c["check"] for c in listed["items"][0]["checks"]][-2:] == ["export", "evaluates"]
