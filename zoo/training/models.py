"""Keras models of an architecture: built from its spec, loaded from a run, and their parts."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zoo.core import settings
from zoo.core.errors import ModelFileError, PluginError, ZooError
from zoo.core.hparams import validate
from zoo.core.registry import Registry, call, owner, resolve
from zoo.core.specs import ArchitectureSpec
from zoo.runs import keras_trust
from zoo.runs.run_folder import CONFIG_FILE, MODEL_FILE, Run, recorded_architecture
from zoo.training.keras_env import import_keras

if TYPE_CHECKING:
    import keras


def build(
    spec: ArchitectureSpec, hyperparameters: Mapping[str, Any] | None = None, check_parts: bool = True
) -> keras.Model:
    """The full model, built by the plugin's builder with validated hyper-parameters; with
    ``check_parts`` (``zoo plugins check`` checks them one by one instead), its parts are found
    and their sequence checked, so that a builder breaking the contract fails here, naming the
    plugin, not later in training or in an exporter."""
    params = validate(spec, hyperparameters or {})
    keras = import_keras()
    model = call(spec, spec.builder, input_shape=spec.input_shape, **params)
    if not isinstance(model, keras.Model) or not _has_graph(model):
        raise PluginError(
            f"{owner(spec)}: {spec.builder} returned {type(model).__name__}, not a Keras model with a "
            "graph: return keras.Model(inputs, outputs) or a keras.Sequential (a subclassed model "
            "cannot be split into parts nor exported)"
        )
    if check_parts:
        check_sequence(spec, model, parts(spec, model))
    return model


def _has_graph(model: Any) -> bool:
    """Whether a Keras model has symbolic inputs and outputs (functional or Sequential), which
    parts, their order and the exporters rely on; a subclassed model has none."""
    try:
        return bool(model.inputs) and bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def load_run_model(registry: Registry, run: Run, compile: bool = False) -> keras.Model:
    """The run's trained model, checked to be its architecture's; with ``compile``, its loss,
    metrics and optimizer state too (to evaluate or go on training).

    Every ``model.keras`` load in zoo comes here. A model file is data someone may have sent, so
    it is loaded in Keras' safe mode and one that carries Python code (a Lambda layer) is
    refused, unless ZOO_UNSAFE_LOAD_CODE (``zoo --unsafe-load-code``) says it is trusted. The
    architecture's builder module is imported first: it registers any custom layers.
    """
    spec = registry.architecture(run.architecture)
    path = run.path / MODEL_FILE
    safe = not settings.flag(settings.UNSAFE_LOAD_CODE)
    keras_trust.check_model_file(path, safe)  # before TensorFlow starts, naming the layer
    recorded = recorded_architecture(path)
    if recorded is not None and recorded != spec.name:
        raise ModelFileError(_not_its_model(run, path, f"was saved as {recorded!r}"))
    keras = import_keras()
    resolve(spec.builder, owner=owner(spec))
    try:
        model = keras.saving.load_model(path, safe_mode=safe, compile=compile)
    except Exception as exc:
        refused = keras_trust.safe_mode_refusal(path, exc) if safe else None
        if refused is not None:
            raise refused from exc
        raise ModelFileError(f"Cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    check_loaded(spec, model, path)
    if recorded is None:  # saved before zoo recorded the architecture: compare with a fresh build
        _check_structure(spec, run, model, path)
    return model


def _not_its_model(run: Run, path: Any, what: str) -> str:
    return (
        f"{str(path)!r} {what}, but {str(run.path / CONFIG_FILE)!r} names {run.architecture!r}: "
        "one of them is another run's"
    )


def structure(model: keras.Model) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    """The layers that hold weights, sub-models flattened, as (class, weight shapes): what two
    models of one architecture and hyper-parameters share, whatever their weights and layer
    names. Layers without weights (reshapes, noise, a Lambda) are not compared."""
    keras = import_keras()
    found: list[tuple[str, tuple[tuple[int, ...], ...]]] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += structure(layer)
        elif layer.weights:
            found.append((type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights)))
    return found


def _check_structure(spec: ArchitectureSpec, run: Run, model: keras.Model, path: Any) -> None:
    """A model file without zoo's record of its architecture has the weighted layers that
    config.json's architecture and hyper-parameters build (``structure``). Two architectures
    that build the same weighted layers cannot be told apart this way; the record does that."""
    params = run.config.get("hyperparameters") or {}
    try:
        fresh = build(spec, params if isinstance(params, dict) else {}, check_parts=False)
    except ZooError as exc:  # hyper-parameters of another architecture: not this one's model
        raise ModelFileError(_not_its_model(run, path, f"cannot be checked against it ({exc})")) from exc
    if structure(fresh) != structure(model):
        raise ModelFileError(
            _not_its_model(run, path, "holds weighted layers other than that architecture builds")
        )


def fits(shape: Any, want: tuple[int | None, ...]) -> bool:
    """Whether a shape without its batch axis fits ``want`` (``None``: any size)."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else ()
    return len(shape) == len(want) and all(w is None or s == w for s, w in zip(shape, want, strict=True))


def check_loaded(spec: ArchitectureSpec, model: keras.Model, path: Any) -> None:
    """A model read from ``path`` is ``spec``'s: its input shape and its parts.

    A model file swapped for another architecture's, or a config.json edited to name another,
    is refused here, naming the file, rather than failing later inside Keras or an exporter.
    """
    shape = model.input_shape
    have = tuple(shape[1:]) if isinstance(shape, tuple) else shape
    if not fits(have, spec.input_shape):
        raise ModelFileError(
            f"{str(path)!r} holds a model taking inputs of shape {have}, but the run's config.json "
            f"names {spec.name!r}, which takes {tuple(spec.input_shape)}: one of them is another model's"
        )
    names = {layer.name for layer in model.layers}
    missing = [part for part in spec.parts if part not in names]
    if missing:
        raise ModelFileError(
            f"{str(path)!r} holds a model without the part(s) {', '.join(missing)} of "
            f"{spec.name!r}, which the run's config.json names: one of them is another model's"
        )


def parts(spec: ArchitectureSpec, model: keras.Model) -> dict[str, keras.Model]:
    """The declared parts of a built model, in order: sub-models sharing its weights."""
    keras = import_keras()
    found: dict[str, keras.Model] = {}
    for name in spec.parts:
        try:
            layer = model.get_layer(name)
        except ValueError:
            raise PluginError(
                f"{owner(spec)} declares part {name!r} but its model has no layer "
                f"of that name (layers: {', '.join(layer.name for layer in model.layers)})"
            ) from None
        if not isinstance(layer, keras.Model):
            raise PluginError(f"{owner(spec)}: part {name!r} is a {type(layer).__name__}, not a Keras model")
        found[name] = layer
    sequence = list(found.values())
    for part, next_part in itertools.pairwise(sequence):
        try:
            passed_between(part, next_part)  # a part that takes more than the one before it gives
        except PluginError as exc:
            raise PluginError(f"{owner(spec)}: {exc}") from None
    return found


def check_sequence(spec: ArchitectureSpec, model: keras.Model, found: Mapping[str, keras.Model]) -> None:
    """The model applies the parts in the declared order, the first takes the model's input, and
    each part's handed-on outputs fit the next part's inputs, position by position
    (``PluginError`` naming the plugin otherwise)."""
    applied = [layer.name for layer in model.layers if layer.name in found]  # topological order
    if applied != list(spec.parts):
        raise PluginError(
            f"{owner(spec)}: parts are declared as ({', '.join(spec.parts)}) but the model applies "
            f"them as ({', '.join(applied)})"
        )
    first = next(iter(found.values()))
    if len(first.inputs) == 1 and not _fits(first.inputs[0].shape, model.inputs[0].shape):
        raise PluginError(
            f"{owner(spec)}: the first part, {spec.parts[0]!r}, takes {tuple(first.inputs[0].shape[1:])}, "
            f"the model takes {tuple(model.inputs[0].shape[1:])}"
        )
    for part, next_part in itertools.pairwise(found.values()):
        for i in range(passed_between(part, next_part)):
            given, taken = part.outputs[i], next_part.inputs[i]
            if not _fits(given.shape, taken.shape):
                raise PluginError(
                    f"{owner(spec)}: {part.name}'s output {i} ({_layer(given)}, {tuple(given.shape[1:])}) "
                    f"goes to {next_part.name}'s input {i} ({_layer(taken)}), which takes "
                    f"{tuple(taken.shape[1:])}: a part hands the next its outputs in order, so the "
                    "next part's inputs must follow them"
                )


def _fits(given: Any, taken: Any) -> bool:
    """Two shapes (batch axis first) that can be the same: same rank, equal where both known."""
    given, taken = tuple(given)[1:], tuple(taken)[1:]
    if len(given) != len(taken):
        return False
    return all(a is None or b is None or a == b for a, b in zip(given, taken, strict=True))


def _layer(tensor: Any) -> str:
    """The name of the layer that makes a symbolic tensor (an Input's own name)."""
    history = getattr(tensor, "_keras_history", None)
    return getattr(getattr(history, "operation", None), "name", "?")


def passed_between(part: keras.Model, next_part: keras.Model) -> int:
    """How many tensors ``part`` hands ``next_part``: as many as ``next_part`` takes.

    The handing-on rule: a part hands the next part its first k outputs, in order, where k is
    the number of inputs the next part takes. Outputs beyond k are extras (a VAE encoder's
    ``log_var``) that only the full model uses, while training. A part with fewer outputs than
    the next part takes breaks the contract (``PluginError``).
    """
    return _taken(len(part.outputs), next_part, f"part {part.name!r}")


def handed_on(outputs: Any, next_part: keras.Model) -> Any:
    """What a part whose call returned ``outputs`` hands ``next_part``: its first k outputs, in
    order, k the number of inputs ``next_part`` takes (the rule of ``passed_between``); one
    tensor when k is 1, else a list of k. A VAE's encoder ([mean, log_var]) hands its decoder
    the mean alone; a U-Net's encoder ([code, skip1, skip2]) hands its decoder all three."""
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    k = _taken(len(outputs), next_part, "the part before it")
    return outputs[0] if k == 1 else outputs[:k]


def _taken(given: int, next_part: keras.Model, giver: str) -> int:
    taken = len(next_part.inputs)
    if taken > given:
        raise PluginError(
            f"part {next_part.name!r} takes {taken} inputs, but {giver} has {given} output(s): "
            "a part hands the next its first k outputs, k the number of inputs the next takes"
        )
    return taken


def run_parts(parts: Mapping[str, keras.Model] | list[keras.Model], x: Any) -> Any:
    """The parts applied one after the other to ``x`` (inference mode): what the full model
    computes, if the parts keep the contract; the last part's (first) output.

    The one place the handing-on rule (``handed_on``) is applied in Keras: each part hands the
    next its first k outputs, k the number of inputs the next part takes."""
    sequence = list(parts.values() if isinstance(parts, Mapping) else parts)
    h = x
    for part, next_part in zip(sequence, [*sequence[1:], None], strict=True):
        outputs = part(h, training=False)
        if next_part is None:
            return outputs[0] if isinstance(outputs, (list, tuple)) else outputs
        h = handed_on(outputs, next_part)
    return h
