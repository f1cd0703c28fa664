"""The checks of an architecture: its default dataset, its builder, its parts, its parameter
count, one training step, its export, and its evaluator. Its spec was checked when it
registered."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from zoo.checks.check import CheckFailed, CheckSkipped, callables, hint, said
from zoo.checks.subjects import ArchitectureSubject, verified
from zoo.core.errors import PluginError
from zoo.core.registry import owner
from zoo.core.specs import HyperParameter
from zoo.runs.exports import DEFAULT_EXPORTER

COMPOSE_TOLERANCE = 1e-5  # float32 sums in another order: the parts equal the model up to this
BUILDER_HINT = "raise zoo.api.InvalidHyperParameter for values the builder cannot take"


def default_dataset(subject: ArchitectureSubject) -> str:
    """The rest of the spec was checked when it registered (``plugin loads``); which datasets
    exist is known only once every plugin has."""
    spec = subject.spec
    dataset = spec.default_dataset.partition(":")[0]
    if dataset not in subject.registry.datasets:
        raise CheckFailed(
            f"default dataset {dataset!r} is not registered "
            f"(registered: {', '.join(sorted(subject.registry.datasets)) or 'none'})"
        )
    return spec.default_dataset


def references_resolve(subject: ArchitectureSubject) -> str:
    spec = subject.spec
    optional = [ref for ref in (spec.pretrainer, spec.evaluator) if ref]
    return callables(spec, [spec.builder, *optional])


def builds(subject: ArchitectureSubject) -> str:
    try:
        model = subject.make("model", lambda: subject.build(check_parts=False))
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(f"{exc}{hint(exc, BUILDER_HINT)}") from exc
    return f"input {tuple(model.input_shape[1:])}, {model.count_params():,} parameters"


def varied(param: HyperParameter) -> list[Any]:
    """Valid values other than the default, nearest first: a bool flipped, the other choices,
    an int +-1 then +-2, a float times 1.25 or 0.8 or half-way to a bound."""
    default = param.default
    if param.type is bool:
        return [not default]
    if param.choices:
        return [c for c in param.choices if c != default]
    if param.type is int:
        candidates: list[Any] = [default + 1, default - 1, default + 2, default - 2]
    elif param.type is float:
        low = param.minimum if param.minimum is not None else default - 1.0
        high = param.maximum if param.maximum is not None else default + 1.0
        candidates = [default * 1.25, default * 0.8, (default + high) / 2, (default + low) / 2]
    else:
        return []
    return list(dict.fromkeys(c for c in candidates if c != default and param.admits(c)))


def builds_varied(subject: ArchitectureSubject) -> str:
    """Every hyper-parameter changed at once; where the builder refuses that with
    InvalidHyperParameter (a rule the declared ranges cannot say: "an even number"), each one
    alone, trying its next values. Any other error fails: users may pass any value within the
    declared ranges."""
    options = {p.name: values for p in subject.spec.hyperparameters if (values := varied(p))}
    if not options:
        raise CheckSkipped("no hyper-parameter to vary")
    subject.model()  # the defaults first: a failure there is that check's
    together = {name: values[0] for name, values in options.items()}
    refused: list[str] = []
    built = _try_build(subject, together, refused)
    if built is not None:
        return built
    found = []
    for name, values in options.items():
        built = next((b for v in values if (b := _try_build(subject, {name: v}, refused)) is not None), None)
        if built is not None:
            found.append(built)
    said = f"refused with InvalidHyperParameter: {'; '.join(refused)}"
    if not found:
        raise CheckSkipped(f"the builder refused every varied value ({said})")
    return f"{'; '.join(found)} ({said})"


def _try_build(subject: ArchitectureSubject, values: dict[str, Any], refused: list[str]) -> str | None:
    """Build with ``values``: what was built, or None if the builder refused them."""
    from zoo.core.errors import InvalidHyperParameter

    described = ", ".join(f"{k}={v!r}" for k, v in values.items())
    try:
        model = subject.build(values)  # parts checked too: users train with these values
    except InvalidHyperParameter:
        refused.append(described)
        return None
    except Exception as exc:
        raise CheckFailed(f"with {described}: {exc}{hint(exc, BUILDER_HINT)}") from exc
    return f"{described}: {model.count_params():,} parameters"


def parts_exist(subject: ArchitectureSubject) -> str:
    from zoo.training import models

    parts = subject.make("parts", lambda: models.parts(subject.spec, subject.model()))
    return ", ".join(f"{name} takes {_shapes(part.inputs)}" for name, part in parts.items())


def _shapes(tensors: Any) -> str:
    return " + ".join(str(tuple(t.shape[1:])) for t in tensors)


def parts_in_order(subject: ArchitectureSubject) -> str:
    return subject.make("order", lambda: _order(subject))


def _order(subject: ArchitectureSubject) -> str:
    from zoo.training import models

    parts = subject.parts()
    try:
        models.check_sequence(subject.spec, subject.model(), parts)
    except PluginError as exc:
        raise CheckFailed(str(exc).removeprefix(f"{owner(subject.spec)}: ")) from None
    return " -> ".join(parts)


def parts_share_weights(subject: ArchitectureSubject) -> str:
    parts = subject.parts()
    model = subject.model()
    held = {id(w) for w in model.weights}
    for name, part in parts.items():
        own = [w for w in part.weights if id(w) not in held]
        if own:
            raise CheckFailed(f"part {name!r} has weights the full model does not hold ({own[0].path})")
    shared = {id(w) for p in parts.values() for w in p.trainable_weights}
    loose = [w.path for w in model.trainable_weights if id(w) not in shared]
    if loose:
        raise CheckFailed(f"the full model trains weights outside every part: {', '.join(loose[:3])}")
    return f"{len(shared)} trainable weight tensors, all in the parts"


def parts_compose(subject: ArchitectureSubject) -> str:
    subject.need("order", lambda: _order(subject), "parts-order")
    return subject.make("compose", lambda: _compose(subject))


def _compose(subject: ArchitectureSubject) -> str:
    import numpy as np

    from zoo.training import models

    parts = subject.parts()
    model = subject.model()
    x, _ = subject.synthetic(8)
    try:
        chained = models.run_parts(parts, x)
    except Exception as exc:
        raise CheckFailed(f"the parts applied in order fail: {type(exc).__name__}: {exc}") from exc
    full = model(x, training=False)
    full = full[0] if isinstance(full, (list, tuple)) else full
    chained, full = np.asarray(chained), np.asarray(full)
    if chained.shape != full.shape:
        raise CheckFailed(f"the parts applied in order give shape {chained.shape}, the model {full.shape}")
    diff = float(np.max(np.abs(chained - full))) if full.size else 0.0
    if not diff <= COMPOSE_TOLERANCE:
        raise CheckFailed(
            f"the parts applied in order differ from the full model by {diff:.3g} (> {COMPOSE_TOLERANCE:g})"
        )
    return f"max |parts - model| {diff:.1e} on 8 synthetic images"


def parameter_count(subject: ArchitectureSubject) -> str:
    import numpy as np

    declared = subject.spec.parameters
    if declared is None:
        raise CheckSkipped("the spec declares no parameter count (parameters=None)")
    found = sum(int(np.prod(w.shape)) for w in subject.model().trainable_weights)
    if found != declared:
        raise CheckFailed(f"declares parameters={declared:,} but the model has {found:,} trainable")
    return f"{found:,} trainable"


def training_step(subject: ArchitectureSubject) -> str:
    from zoo.training.compile import compile_model
    from zoo.training.data import targets

    subject.need("order", lambda: _order(subject), "parts-order")  # else training refuses it
    spec = subject.spec
    model = subject.build()  # a fresh model: training changes its weights
    compile_model(model, spec, learning_rate=spec.learning_rate)
    x, y = subject.synthetic(32)
    t = targets(spec, x, y)
    before = model.evaluate(x, t, verbose=0, return_dict=True)["loss"]
    model.train_on_batch(x, t)
    after = model.evaluate(x, t, verbose=0, return_dict=True)["loss"]
    if not after < before:
        raise CheckFailed(
            f"one step of {spec.training_loss} at learning rate {spec.learning_rate:g} on 32 synthetic "
            f"images did not lower the loss ({before:.6g} -> {after:.6g})"
        )
    return f"loss {before:.4g} -> {after:.4g}"


def exports(subject: ArchitectureSubject) -> str:
    subject.need("compose", lambda: parts_compose(subject), "parts-compose")  # else it fails as that
    result = subject.export(DEFAULT_EXPORTER)  # fails unless every file and the chain passed
    files = result.manifest.get("files", [])
    stages = [f.get("part") for f in files]
    if stages != ["full", *subject.spec.parts]:
        raise CheckFailed(f"the export holds {stages}, not the full model and every part in order")
    exporter = subject.registry.exporter(DEFAULT_EXPORTER)
    if exporter.verifier:
        verified(exporter, result.path)
    worst = max((f.get("parity", {}).get("max_abs_diff", 0.0) for f in files), default=0.0)
    chain = result.manifest.get("chain")
    said = f"{', '.join(f['file'] for f in files)}: max |ONNX-Keras| {worst:.1e}"
    if chain:
        said += f", chain {' -> '.join(chain['parts'])} {chain['max_abs_diff']:.1e}"
    return said


def evaluates(subject: ArchitectureSubject) -> str:
    """The evaluator called as a run calls it: on the model built from the defaults (untrained,
    compiled as a run's is), a small test split and the settings of a default run; what it
    returns is then held to the rules zoo records an evaluation by, and each figure drawn to PNG.
    The last check of an architecture: whatever the evaluator does to the shared model, no
    other check sees it."""
    from zoo.core.evaluation import problems
    from zoo.core.registry import call
    from zoo.training.compile import compile_model

    spec = subject.spec
    if not spec.evaluator:
        raise CheckSkipped("no evaluator")
    model = subject.model()
    compile_model(model, spec, learning_rate=spec.learning_rate)  # an evaluator may model.evaluate
    split, settings = subject.test_split(), MappingProxyType(subject.settings())
    taken_metrics, taken_figures = _taken(subject, model, split, settings)
    try:
        result = call(spec, spec.evaluator, model, split, settings)
    except Exception as exc:
        raise CheckFailed(said(exc)) from exc
    found = "; ".join(problems(result, taken_metrics, taken_figures))
    if found.startswith("returned "):
        raise CheckFailed(f"{spec.evaluator} {found}")
    if found:
        raise CheckFailed(f"{spec.evaluator}'s Evaluation cannot be recorded: {found}")
    for name, fig in result.figures.items():
        _render(spec.evaluator, name, fig)
    return _described(result, len(split.x))


def _taken(subject: ArchitectureSubject, model: Any, split: Any, settings: Any) -> tuple[set[str], set[str]]:
    """The metric and figure names a run records before the evaluator's: zoo's own, and those
    of its task's evaluation (which comes first)."""
    from zoo.training import evaluators, task_evaluators

    metrics, figures = set(evaluators.ZOO_METRICS), set(evaluators.ZOO_FIGURES)
    try:
        task_evaluation = task_evaluators.evaluate(subject.spec, model, split, settings)
        metrics |= set(task_evaluation.metrics)
        figures |= set(task_evaluation.figures)
    except Exception:  # zoo's own evaluation, tested with zoo: not the plugin's to fail on
        pass
    return metrics, figures


def _render(evaluator: str, name: str, fig: Any) -> None:
    import io

    try:
        fig.savefig(io.BytesIO(), format="png")
    except Exception as exc:
        raise CheckFailed(f"{evaluator}'s figure {name!r} does not draw to PNG: {said(exc)}") from exc


def _described(result: Any, images: int) -> str:
    def listed(names: list[str]) -> str:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        return f" ({shown})" if names else ""

    metrics, figures = list(result.metrics), list(result.figures)
    return (
        f"{len(metrics)} metric{'s' * (len(metrics) != 1)}{listed(metrics)}, "
        f"{len(figures)} figure{'s' * (len(figures) != 1)}{listed(figures)}, "
        f"{len(result.lines)} card line{'s' * (len(result.lines) != 1)}, on {images} synthetic images"
    )


CHECKS: tuple[tuple[str, str, Callable[[ArchitectureSubject], str | None]], ...] = (
    ("default-dataset", "the default dataset is registered", default_dataset),
    (
        "resolves",
        "the builder (and pretrainer, evaluator) import and are callable",
        references_resolve,
    ),
    ("builds", "the model builds from the defaults, with the declared input shape", builds),
    ("builds-varied", "the model builds with non-default hyper-parameters", builds_varied),
    ("parts-exist", "each declared part is a Keras sub-model of the model", parts_exist),
    (
        "parts-order",
        "the model applies the parts in order, each taking what the one before hands on",
        parts_in_order,
    ),
    ("parts-share-weights", "the parts hold the model's weights, not copies", parts_share_weights),
    ("parts-compose", "the parts applied in order equal the model", parts_compose),
    ("parameters", "the declared parameter count is the model's", parameter_count),
    ("train-step", "one training step on synthetic data lowers the loss", training_step),
    ("export", "the ONNX export passes: every file matches Keras, and the chain of parts", exports),
    (
        "evaluates",
        "the evaluator returns an Evaluation zoo can record, its figures drawn to PNG",
        evaluates,
    ),
)
