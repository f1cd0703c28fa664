"""What plugins register: frozen descriptions, stdlib only, so listing them is instant.

Builders and loaders are ``"module:attr"`` strings, resolved only when a model is built or
data is loaded (``zoo.core.registry.resolve``), so ``zoo list`` never imports Keras.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from zoo.core import settings
from zoo.core.errors import InvalidOption
from zoo.core.tasks import TASKS, task

FAMILIES = ("autoencoder", "classifier", "segmentation", "generative", "other")
# epoch-decay: the learning rate is multiplied by EPOCH_DECAY after every epoch (as LeCun et al.
# lowered theirs pass by pass), so the first epoch is trained as with a constant rate.
LR_SCHEDULES = ("constant", "epoch-decay", "cosine", "plateau")
EPOCH_DECAY = 0.8
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # a Keras layer name and a file name
# A name starts file names: a run folder NAME-YYYYmmdd-HHMMSS-N while it is made is
# .NAME-YYYYmmdd-HHMMSS-N.XXXXXXXX.tmp, 33 characters more, and a file name may have 255 (NAME_MAX).
# 64 leaves room for that and for what zoo may add, and is far above any name in use (13).
MAX_NAME_LENGTH = 64
# The most values (height x width x channels) of an input or image shape: 4096 x 4096 x 4, 256 MB
# per float32 image. 10^6 x 10^6 would fail with MemoryError once TensorFlow has started.
MAX_INPUT_PIXELS = 2**26


def max_input_pixels() -> int:
    """The limit on a shape's values: ZOO_MAX_INPUT_PIXELS, else ``MAX_INPUT_PIXELS``."""
    return int(settings.positive_number(settings.MAX_INPUT_PIXELS, MAX_INPUT_PIXELS))


def _shape_problems(what: str, shape: tuple[int | None, ...]) -> list[str]:
    """A shape of more values than the limit (``None``, any size, counts as 1); never raises."""
    try:
        limit = max_input_pixels()
    except InvalidOption:
        limit = MAX_INPUT_PIXELS  # the host says so once, when it loads the plugins
    values = math.prod(d or 1 for d in shape)
    if values <= limit:
        return []
    return [
        f"{what} {shape!r} has {values:,} values, more than {limit:,} "
        f"(a limit {settings.MAX_INPUT_PIXELS} raises)"
    ]


def shown_name(name: Any) -> str:
    """A name as messages quote it; one too long to register is cut (its problem says so)."""
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        return f"{name[:19]!r}…"
    return repr(name)


def name_problems(kind: str, name: Any) -> list[str]:
    """Why ``name`` cannot name a registered thing (empty: it can); ``kind`` starts the message."""
    if isinstance(name, str) and len(name) > MAX_NAME_LENGTH:
        return [
            f"{kind} name {shown_name(name)} is {len(name)} characters long, more than {MAX_NAME_LENGTH} "
            "(it starts the names of run folders)"
        ]
    if isinstance(name, str) and _NAME.match(name):
        return []
    return [f"{kind} name {name!r} is not valid: use lower-case letters, digits, '-', '_' or '.'"]


def _ref_problem(what: str, ref: Any) -> list[str]:
    if isinstance(ref, str) and _REF.match(ref):
        return []
    return [f"{what} {ref!r} is not a 'module:attribute' reference"]


def _tuples(spec: Any, *names: str) -> None:
    """Lists a plugin passed for tuple fields, made tuples: a frozen spec stays hashable."""
    for name in names:
        value = getattr(spec, name)
        if isinstance(value, list):
            object.__setattr__(spec, name, tuple(value))


def _part(name: Any) -> bool:
    return isinstance(name, str) and bool(_PART.match(name))


def _is(value: Any, kind: type) -> bool:
    """Whether ``value`` is of a hyper-parameter type (an int is a float; a bool is neither)."""
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class HyperParameter:
    """One tunable argument of a builder, with its default and its valid range.

    ``type`` is ``int``, ``float``, ``bool`` or ``str``; ``choices`` limits the values,
    ``minimum``/``maximum`` bound numbers (inclusive).
    """

    name: str
    default: Any
    help: str = ""
    type: type = float
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        _tuples(self, "choices")

    def problems(self) -> list[str]:
        """What is wrong with this hyper-parameter, in words (empty: nothing). Never raises,
        whatever a plugin passed."""
        where = f"hyper-parameter {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            return [f"{where}: its name must be a Python identifier (the builder's keyword argument)"]
        if self.type not in (int, float, bool, str):
            return [f"{where}: type must be int, float, bool or str, got {self.type!r}"]
        if not isinstance(self.choices, tuple):
            return [f"{where}: choices must be a tuple of values, got {self.choices!r}"]
        kind = self.type.__name__
        found = [f"{where}: choice {c!r} is not {kind}" for c in self.choices if not _is(c, self.type)]
        bounds = [b for b in (self.minimum, self.maximum) if b is not None]
        if bounds and self.type not in (int, float):
            found.append(f"{where}: minimum and maximum bound int and float hyper-parameters, not {kind}")
        elif any(not _is(b, float) for b in bounds):
            found.append(f"{where}: minimum and maximum must be finite numbers")
        elif len(bounds) == 2 and self.minimum > self.maximum:  # type: ignore[operator]
            found.append(f"{where}: minimum {self.minimum} is above maximum {self.maximum}")
        if found:
            return found
        if not _is(self.default, self.type):
            return [f"{where}: default {self.default!r} is not {self.type.__name__}"]
        if not self.admits(self.default):
            return [f"{where}: default {self.default!r} is outside its own range ({self.describe_range()})"]
        return []

    def admits(self, value: Any) -> bool:
        """Whether a value of the right type is among the choices and within the bounds."""
        return not (
            (self.choices and value not in self.choices)
            or (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
        )

    def describe_range(self) -> str:
        """The valid values in words, for help text and error messages."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum} to {self.maximum}"
        if self.minimum is not None:
            return f">= {self.minimum}"
        if self.maximum is not None:
            return f"<= {self.maximum}"
        return self.type.__name__


@dataclass(frozen=True)
class ArchitectureSpec:
    """A model a plugin offers.

    The builder is called as ``build(input_shape=..., **hyperparameters)`` and returns the full
    Keras model; each name in ``parts`` is a sub-model layer of it (``model.get_layer(part)``)
    sharing its weights, and the parts applied in order equal the full model.
    ``task`` decides the targets: ``classification`` (labels), ``reconstruction`` (the
    input itself) or ``segmentation`` (a class per pixel: 0 for background, label + 1 where
    the image is brighter than 0.5; see ``zoo.core.tasks``). ``loss`` names a
    Keras loss; empty means the task's default (``zoo.core.tasks``). ``lr_schedule`` is the
    default schedule, one of ``LR_SCHEDULES`` (``epoch-decay``: Adam's rate times
    ``EPOCH_DECAY`` after each epoch; see ``zoo.training.compile``).
    ``parameters`` is the trainable parameter count with the default hyper-parameters, shown by
    ``zoo info`` without building the model (a contract test checks it against the model).

    A part hands the next part its first k outputs, in order, where k is the number of inputs
    the next part takes (``zoo.training.models.passed_between``): a U-Net's encoder hands its
    decoder ``[code, skip1, skip2]``. Outputs beyond k are extras (a VAE encoder's log-variance)
    that the full model may use only while training.
    ``pretrainer``, optional, is a ``"module:attr"`` called before training as
    ``pretrain(model, x, hyperparameters=..., batch_size=..., learning_rate=..., log=...)`` with
    the training images (for greedy layer-wise pre-training); it returns a dict of figures for
    the run's metrics.
    ``evaluator``, optional, is a ``"module:attr"`` called after training and by ``zoo evaluate``
    as ``evaluate(model, test, settings)``: the trained model, the test split
    (``zoo.core.evaluation.TestSplit``) and the run's config.json; it returns a
    ``zoo.core.evaluation.Evaluation`` (metrics, figures, lines for the model card) that shows
    what the architecture is for.
    """

    name: str
    builder: str
    family: str
    task: str
    input_shape: tuple[int | None, ...]
    parts: tuple[str, ...]
    summary: str
    default_dataset: str
    hyperparameters: tuple[HyperParameter, ...] = ()
    reference: str = ""
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    loss: str = ""
    parameters: int | None = None
    pretrainer: str = ""
    evaluator: str = ""
    plugin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _tuples(self, "input_shape", "parts", "hyperparameters")

    def problems(self) -> list[str]:
        """What is wrong with this spec, in words (empty: nothing). Checked when a plugin
        registers it, without importing TensorFlow; a spec with problems is refused. Never
        raises, whatever a plugin passed."""
        found = name_problems("architecture", self.name)
        found += _ref_problem("builder", self.builder)
        if self.pretrainer:
            found += _ref_problem("pretrainer", self.pretrainer)
        if self.evaluator:
            found += _ref_problem("evaluator", self.evaluator)
        if not isinstance(self.family, str) or self.family not in FAMILIES:
            found.append(f"family {self.family!r} is not one of {', '.join(FAMILIES)}")
        if not isinstance(self.task, str) or self.task not in TASKS:
            found.append(f"task {self.task!r} is not one of {', '.join(TASKS)}")
        parts = tuple(self.parts) if isinstance(self.parts, (tuple, list)) else ()
        if len(parts) < 2 or len(set(parts)) != len(parts) or "full" in parts:
            found.append(f"parts must be two or more distinct names other than 'full', got {self.parts!r}")
        found += [f"part name {p!r} is not valid: use letters, digits and '_'" for p in parts if not _part(p)]
        shape = tuple(self.input_shape) if isinstance(self.input_shape, (tuple, list)) else ()
        if len(shape) != 3 or any(d is not None and not _whole(d, 1) for d in shape):
            found.append(
                "input_shape must be (height, width, channels), each positive or None, "
                f"got {self.input_shape!r}"
            )
        else:
            found += _shape_problems("input_shape", shape)
        if not isinstance(self.lr_schedule, str) or self.lr_schedule not in LR_SCHEDULES:
            found.append(f"lr_schedule {self.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}")
        for field_name in ("epochs", "batch_size"):
            if not _whole(getattr(self, field_name), 1):
                found.append(f"{field_name} must be a whole number >= 1, got {getattr(self, field_name)!r}")
        if not _is(self.learning_rate, float) or self.learning_rate <= 0:
            found.append(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if self.parameters is not None and not _whole(self.parameters, 1):
            found.append(f"parameters must be a whole number >= 1 or None, got {self.parameters!r}")
        found += name_problems("default_dataset", str(self.default_dataset).partition(":")[0])
        if not isinstance(self.hyperparameters, (tuple, list)) or not all(
            isinstance(h, HyperParameter) for h in self.hyperparameters
        ):
            return [*found, "hyperparameters must be a tuple of HyperParameter"]
        names = [h.name for h in self.hyperparameters]
        if len(set(names)) != len(names):
            found.append(f"hyper-parameter names repeat: {names}")
        for param in self.hyperparameters:
            found += param.problems()
        return found

    @property
    def training_loss(self) -> str:
        """The Keras loss trained with: the spec's own, else its task's default."""
        return self.loss or task(self.task).loss

    def defaults(self) -> dict[str, Any]:
        """The hyper-parameters as built when the user sets none."""
        return {h.name: h.default for h in self.hyperparameters}


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset a plugin offers.

    The loader is called as ``load(data_dir=Path | None, input_shape=tuple)`` and returns
    ``(x_train, y_train, x_test, y_test)`` as NumPy arrays: images (N, H, W) or (N, H, W, C),
    uint8 in 0..255 or float in [0, 1]; integer labels; a fifth element, if returned, is the
    class names (for datasets that find them, such as a folder's sub-folders).
    ``input_shape`` is the architecture's, for datasets (such as ``synthetic``, or a folder of
    images resized on load) that make images to fit it. ``image_shape`` is the shape the
    dataset provides, ``None`` if it fits any model.

    ``argument``, if not empty, says the dataset is used as ``NAME:ARGUMENT`` (``folder:PATH``);
    the loader then also receives ``argument=`` with what followed the colon.
    """

    name: str
    loader: str
    summary: str
    image_shape: tuple[int, ...] | None
    num_classes: int
    class_names: tuple[str, ...] = ()
    source: str = ""
    argument: str = ""
    plugin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _tuples(self, "image_shape", "class_names")

    def problems(self) -> list[str]:
        """What is wrong with this spec, in words (empty: nothing). Never raises."""
        found = name_problems("dataset", self.name) + _ref_problem("loader", self.loader)
        if not isinstance(self.class_names, tuple):
            found.append(f"class_names must be a tuple of names, got {self.class_names!r}")
            return found
        if not _whole(self.num_classes, 0):
            found.append(f"num_classes must be a whole number >= 0 (0: found on load): {self.num_classes!r}")
        elif self.class_names and self.num_classes and len(self.class_names) != self.num_classes:
            found.append(f"{len(self.class_names)} class_names for {self.num_classes} classes")
        shape = self.image_shape
        sized = isinstance(shape, (tuple, list)) and len(shape) in (2, 3) and all(_whole(d, 1) for d in shape)
        if shape is not None and not sized:
            found.append(f"image_shape must be None or (height, width[, channels]), positive, not {shape!r}")
        elif sized:
            found += _shape_problems("image_shape", tuple(shape))  # type: ignore[arg-type]
        return found


@dataclass(frozen=True)
class ExporterSpec:
    """A deployment format a plugin offers.

    The exporter is called as ``export(job)`` with a ``zoo.export.orchestrate.ExportJob`` and returns the
    manifest (a JSON-able dict with a ``files`` list whose entries carry ``passed``).
    ``verifier``, optional, is called as ``verify(path, reference=bool)`` by ``zoo verify`` and
    returns ``{"path", "files": [{"file", "checks", "passed", ...}], "passed"}``.
    """

    name: str
    exporter: str
    summary: str
    verifier: str = ""
    plugin: str = field(default="", compare=False)

    def problems(self) -> list[str]:
        """What is wrong with this spec, in words (empty: nothing). Never raises."""
        found = name_problems("exporter", self.name) + _ref_problem("exporter", self.exporter)
        return found + (_ref_problem("verifier", self.verifier) if self.verifier else [])
