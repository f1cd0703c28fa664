"""What plugins register: frozen descriptions, stdlib only, so listing them is instant.

Builders and loaders are ``"module:attr"`` strings, resolved only when a model is built or
data is loaded (``zoo.core.registry.resolve``), so ``zoo list`` never imports Keras.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from zoo.core.errors import InvalidSpec
from zoo.core.tasks import TASKS, task

FAMILIES = ("autoencoder", "classifier", "segmentation", "generative", "other")
# epoch-decay: the learning rate is multiplied by EPOCH_DECAY after every epoch (as LeCun et al.
# lowered theirs pass by pass), so the first epoch is trained as with a constant rate.
LR_SCHEDULES = ("constant", "epoch-decay", "cosine", "plateau")
EPOCH_DECAY = 0.8
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidSpec(
            f"{kind} name {name!r} is not valid: use lower-case letters, digits, '-', '_' or '.'"
        )


def _check_ref(kind: str, name: str, ref: str) -> None:
    if not isinstance(ref, str) or not _REF.match(ref):
        raise InvalidSpec(f"{kind} {name!r}: {ref!r} is not a 'module:attribute' reference")


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
        if self.type not in (int, float, bool, str):
            raise InvalidSpec(f"hyper-parameter {self.name!r}: type must be int, float, bool or str")

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

    A part with several outputs (a VAE's encoder: mean and log-variance) hands its first output
    to the next part; the others are extras that the full model may use only while training.
    ``pretrainer``, optional, is a ``"module:attr"`` called before training as
    ``pretrain(model, x, hyperparameters=..., batch_size=..., learning_rate=..., log=...)`` with
    the training images (for greedy layer-wise pre-training); it returns a dict of figures for
    the run's metrics.
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
    plugin: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check_name("architecture", self.name)
        _check_ref("architecture", self.name, self.builder)
        if self.pretrainer:
            _check_ref("architecture", self.name, self.pretrainer)
        if self.family not in FAMILIES:
            raise InvalidSpec(
                f"architecture {self.name!r}: family {self.family!r} is not one of {', '.join(FAMILIES)}"
            )
        if self.task not in TASKS:
            raise InvalidSpec(
                f"architecture {self.name!r}: task {self.task!r} is not one of {', '.join(TASKS)}"
            )
        if len(self.parts) < 2 or len(set(self.parts)) != len(self.parts) or "full" in self.parts:
            raise InvalidSpec(
                f"architecture {self.name!r}: parts must be two or more distinct names other than "
                f"'full', got {self.parts!r}"
            )
        if len(self.input_shape) != 3 or any(d is not None and d <= 0 for d in self.input_shape):
            raise InvalidSpec(
                f"architecture {self.name!r}: input_shape must be (height, width, channels), "
                f"each positive or None, got {self.input_shape!r}"
            )
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidSpec(
                f"architecture {self.name!r}: lr_schedule {self.lr_schedule!r} is not one of "
                f"{', '.join(LR_SCHEDULES)}"
            )
        names = [h.name for h in self.hyperparameters]
        if len(set(names)) != len(names):
            raise InvalidSpec(f"architecture {self.name!r}: hyper-parameter names repeat: {names}")

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
        _check_name("dataset", self.name)
        _check_ref("dataset", self.name, self.loader)
        if self.num_classes < 0:
            raise InvalidSpec(f"dataset {self.name!r}: num_classes must be >= 0 (0: found on load)")


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

    def __post_init__(self) -> None:
        _check_name("exporter", self.name)
        _check_ref("exporter", self.name, self.exporter)
        if self.verifier:
            _check_ref("exporter", self.name, self.verifier)
