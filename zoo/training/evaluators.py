"""Run a trained model's evaluations and record what they found.

Two evaluations per run, in order: its task's (zoo's own, ``zoo.training.task_evaluators``: the
per-class figures every classifier, autoencoder or segmenter has), then its architecture's
evaluator, if the spec names one (a plugin's code: what a denoising autoencoder or a VAE is
for). Each one's figures are saved atomically into the folder, and the record of both
(``evaluation.json``: metrics, figures, card lines, any failure) last. A failing evaluation is
recorded and said, never raised: the trained model it measured is already safe.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from zoo.core import evaluation as contract
from zoo.core.errors import USER_ERRNOS, EvaluationFailed, PluginCodeError, ZooError
from zoo.core.registry import call
from zoo.core.specs import ArchitectureSpec
from zoo.runs import atomic, plots
from zoo.runs.run_folder import EVALUATION_FILE, evaluation_metrics
from zoo.training import data, task_evaluators
from zoo.training.report import HISTORY_PNG

# Figures zoo itself writes into a run folder besides those of the evaluations.
ZOO_FIGURES = (HISTORY_PNG,)
# What a run's metrics.json holds besides Keras' test_ and zoo's train_ figures
# (``zoo.training.fit``), and so no evaluation may name; a pretrainer may add its own.
ZOO_METRICS = ("epochs_completed", "stopped_early", "replicas")


@dataclass
class Outcome:
    """What the evaluations of one model found: one record per evaluation, as evaluation.json
    holds them (``evaluator``, ``plugin``, ``title``, ``metrics``, ``headline``, ``figures``,
    ``lines``, ``error``)."""

    sections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, Any]:
        """Every evaluation's metrics in one mapping, as metrics.json gets them."""
        return evaluation_metrics(self.sections)


def _failure(exc: BaseException, evaluator: str, plugin: str) -> str:
    """Who failed and how, in one line: ``plugin 'p' (mod:attr): ValueError: ...``."""
    who = (
        f"plugin {plugin!r} ({evaluator})"
        if plugin
        else f"zoo's {evaluator.removeprefix('task:')} evaluation"
    )
    if isinstance(exc, PluginCodeError):
        exc = exc.error
    elif isinstance(exc, ZooError):  # says itself what is wrong, as a user's mistake does
        return f"{who}: {exc}"
    return f"{who}: {type(exc).__name__}: {exc}"


def run(
    spec: ArchitectureSpec,
    model: Any,
    arrays: data.Arrays,
    config: Mapping[str, Any],
    folder: Path,
    *,
    taken_metrics: Collection[str] = (),
    warn: Callable[[str], None] = lambda message: None,
) -> Outcome:
    """Evaluate ``model`` on the test split; figures and evaluation.json go into ``folder``.

    ``config`` is the run's config.json, handed to the evaluator read-only. ``taken_metrics``
    are names metrics.json holds already (zoo's own), which an evaluation may not reuse.
    ``warn`` is told of each failed evaluation in one line.
    """
    split = contract.TestSplit(arrays.x_test, arrays.y_test, tuple(arrays.class_names))
    settings = MappingProxyType(dict(config))
    evaluations: list[tuple[str, str, Callable[[], Any]]] = [
        (f"task:{spec.task}", "", lambda: task_evaluators.evaluate(spec, model, split, settings))
    ]
    if spec.evaluator:
        evaluations.append(
            (spec.evaluator, spec.plugin, lambda: call(spec, spec.evaluator, model, split, settings))
        )
    outcome = Outcome()
    metric_names = set(taken_metrics)
    figure_names = set(ZOO_FIGURES)
    for evaluator, plugin, evaluate in evaluations:
        section: dict[str, Any] = {
            "evaluator": evaluator,
            "plugin": plugin,
            "title": "",
            "metrics": {},
            "headline": "",
            "figures": [],
            "lines": [],
            "error": None,
        }
        try:
            result = evaluate()
            problems = contract.problems(result, metric_names, figure_names)
            if problems:
                raise EvaluationFailed(f"what it returned cannot be recorded: {'; '.join(problems)}")
            for name, fig in result.figures.items():
                plots.save(fig, folder / name)
                section["figures"].append(name)
            section.update(
                title=result.title,
                metrics=_plain(result.metrics),
                headline=result.headline,
                lines=list(result.lines),
            )
        except OSError as exc:  # a full disk is the user's to hear of, as everywhere else
            if exc.errno in USER_ERRNOS:
                raise
            section["error"] = _failure(exc, evaluator, plugin)
        except Exception as exc:
            section["error"] = _failure(exc, evaluator, plugin)
        if section["error"]:
            warn(f"the evaluation of {spec.name!r} failed: {section['error']}")
        metric_names.update(section["metrics"])
        figure_names.update(section["figures"])
        outcome.sections.append(section)
    atomic.write_json(folder / EVALUATION_FILE, {"sections": outcome.sections})
    return outcome


def _plain(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """JSON values: NumPy numbers made Python's, mappings made dicts (checked finite before)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, np.bool_)):
            return None if value is None else bool(value)
        return int(value) if isinstance(value, numbers.Integral) else float(value)

    return {name: plain(value) for name, value in metrics.items()}
