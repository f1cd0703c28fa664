"""Architectures, datasets and runs described for people and machines (``zoo list``,
``zoo info``, ``zoo datasets``, ``zoo runs``)."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from zoo.core.errors import RunFolderError
from zoo.core.registry import Registry
from zoo.core.specs import ArchitectureSpec, DatasetSpec
from zoo.core.tasks import TASKS

if TYPE_CHECKING:
    from zoo.runs.run_folder import Run


def matches(spec: ArchitectureSpec, pattern: str | None, family: str | None) -> bool:
    """A glob if ``pattern`` has wildcards, else a case-insensitive substring of the name."""
    if family and spec.family != family:
        return False
    if not pattern:
        return True
    pattern = pattern.lower()
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(spec.name, pattern)
    return pattern in spec.name


def architecture_row(spec: ArchitectureSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "family": spec.family,
        "task": spec.task,
        "parts": list(spec.parts),
        "input_shape": list(spec.input_shape),
        "plugin": spec.plugin,
        "summary": spec.summary,
    }


def architecture_info(registry: Registry, name: str) -> dict[str, Any]:
    spec = registry.architecture(name)
    return {
        **architecture_row(spec),
        "builder": spec.builder,
        "parameters": spec.parameters,
        "default_dataset": spec.default_dataset,
        "hyperparameters": [
            {
                "name": h.name,
                "type": h.type.__name__,
                "default": h.default,
                "range": h.describe_range(),
                "help": h.help,
            }
            for h in spec.hyperparameters
        ],
        "training": {
            "epochs": spec.epochs,
            "batch_size": spec.batch_size,
            "learning_rate": spec.learning_rate,
            "lr_schedule": spec.lr_schedule,
            "optimizer": "adam",
            "loss": spec.training_loss,
            "pretrainer": spec.pretrainer or None,
        },
        "evaluator": spec.evaluator or None,
        "reference": spec.reference,
    }


def format_shape(shape: list[Any] | tuple[Any, ...]) -> str:
    """(None, 28, 28, 1) -> '?x28x28x1'; named dynamic axes keep their names."""
    return "x".join("?" if d is None else str(d) for d in shape)


def format_info(info: dict[str, Any]) -> str:
    shape = format_shape(info["input_shape"])
    lines = [
        f"{info['name']}: {info['summary']}",
        f"  family:          {info['family']} ({info['task']})",
        f"  parts:           {' -> '.join(info['parts'])}",
        f"  input shape:     {shape} (height x width x channels)",
        f"  parameters:      {info['parameters']:,} trainable (default hyper-parameters)"
        if info["parameters"]
        else "  parameters:      (not declared)",
        f"  plugin:          {info['plugin']} ({info['builder']})",
        f"  default dataset: {info['default_dataset']}",
        f"  evaluation:      {info['task']} per class (zoo)"
        + (f", and {info['evaluator']}" if info.get("evaluator") else ""),
        "  training:        " + ", ".join(f"{k} {v}" for k, v in info["training"].items() if v is not None),
        "  hyper-parameters (zoo train -p NAME=VALUE):",
    ]
    if not info["hyperparameters"]:
        lines.append("    (none)")
    for h in info["hyperparameters"]:
        lines.append(f"    {h['name']} = {h['default']!r}  [{h['range']}]  {h['help']}")
    if info["reference"]:
        lines.append(f"  reference:       {info['reference']}")
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def run_row(run: Run) -> dict[str, Any]:
    """One line of ``zoo runs``.

    ``conflict`` says so where the model file was saved as another architecture than
    config.json names (an edited or swapped file): cheap, the model file's own record is a few
    bytes of its archive."""
    from zoo.runs.run_folder import MODEL_FILE, evaluation_metrics, recorded_architecture

    state, metrics, config = run.state, run.metrics, run.config
    try:
        sections, damaged = run.evaluation, None
    except RunFolderError as exc:  # a view of the run, recomputed by zoo evaluate: the run is still listed
        sections, damaged = [], str(exc)
    evaluated = evaluation_metrics(sections)
    known = TASKS.get(str(config.get("task")))  # a hand-edited config may name none
    headline = known.headline if known else "test_loss"
    value = metrics.get(headline)
    recorded = recorded_architecture(run.path / MODEL_FILE)
    conflict = None
    if recorded is not None and recorded != run.architecture:
        conflict = f"config.json names {run.architecture!r}, {MODEL_FILE} was saved as {recorded!r}"
    return {
        "name": run.path.name,
        "path": str(run.path),
        "architecture": run.architecture,
        "conflict": conflict,
        "dataset": config.get("dataset"),
        "status": state.get("status"),
        "epochs_completed": state.get("epochs_completed"),
        "epochs": state.get("epochs"),
        "result": f"{headline.removeprefix('test_')} {value:.4g}" if _is_number(value) else "-",
        "metrics": {k: v for k, v in metrics.items() if k.startswith("test_")},
        "evaluation": evaluated,
        "evaluation_headline": _evaluation_headline(sections),
        "evaluation_damaged": damaged,
        "created": config.get("created"),
    }


def _evaluation_headline(sections: list[dict[str, Any]]) -> str | None:
    """The architecture's evaluator's headline metric, else the task evaluation's: ``psnr_gain_db 8.9``."""
    for section in reversed(sections):
        name = section.get("headline")
        value = (section.get("metrics") or {}).get(name) if name else None
        if _is_number(value):
            return f"{name} {value:.4g}"
    return None


def dataset_row(spec: DatasetSpec) -> dict[str, Any]:
    """One line of ``zoo datasets``."""
    return {
        "name": spec.name,
        "usage": f"{spec.name}:{spec.argument}" if spec.argument else spec.name,
        "image_shape": list(spec.image_shape) if spec.image_shape is not None else None,
        "num_classes": spec.num_classes,
        "class_names": list(spec.class_names),
        "summary": spec.summary,
        "source": spec.source,
        "plugin": spec.plugin,
    }
