"""What the checks of one item share, made once: the model built from the defaults, its parts,
synthetic data, the export. A piece that failed to make is remembered, and every check that
needs it is skipped naming the check that failed."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo.checks.check import Blocked, CheckFailed, CheckSkipped
from zoo.core.registry import Registry
from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec
from zoo.core.tasks import task

SYNTHETIC = "synthetic"  # the built-in dataset that makes images to fit any architecture
SEED = 0
EVALUATED = 32  # synthetic test images an evaluator is checked on


class _Pieces:
    """Values made on first use; an exception is kept and re-raised, as a skip for the checks
    that only need the value (``need``) and as itself for the check that makes it (``make``)."""

    def __init__(self) -> None:
        self._made: dict[str, tuple[bool, Any]] = {}

    def make(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self._made:
            try:
                self._made[key] = (True, factory())
            except Exception as exc:
                self._made[key] = (False, exc)
        ok, value = self._made[key]
        if not ok:
            raise value
        return value

    def need(self, key: str, factory: Callable[[], Any], check: str) -> Any:
        try:
            return self.make(key, factory)
        except Blocked:
            raise  # the check at the root of it is named already
        except CheckSkipped:
            raise Blocked(f"needs check '{check}', which was skipped") from None
        except Exception:
            raise Blocked(f"needs check '{check}', which failed") from None


class ArchitectureSubject(_Pieces):
    """One architecture under check."""

    def __init__(self, registry: Registry, spec: ArchitectureSpec) -> None:
        super().__init__()
        self.registry, self.spec = registry, spec
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def build(self, hyperparameters: dict[str, Any] | None = None, check_parts: bool = True) -> Any:
        """A fresh model (seeded), with the defaults or the given hyper-parameters, taking the
        declared input shape; its parts checked as every command checks them, unless the parts'
        own checks are to say what is wrong."""
        from zoo.training import models
        from zoo.training.keras_env import import_keras

        import_keras().utils.set_random_seed(SEED)
        model = models.build(self.spec, hyperparameters, check_parts=check_parts)
        have = tuple(model.input_shape[1:])
        if have != tuple(self.spec.input_shape):
            raise CheckFailed(
                f"the model takes inputs of shape {have}, the spec says {self.spec.input_shape}"
            )
        return model

    def model(self) -> Any:
        """The model built from the defaults, shared by the checks that only read it (never
        trained); its parts are for the parts' checks to judge."""
        return self.need("model", lambda: self.build(check_parts=False), "builds")

    def parts(self) -> dict[str, Any]:
        from zoo.training import models

        return self.need("parts", lambda: models.parts(self.spec, self.model()), "parts-exist")

    def synthetic(self, count: int) -> tuple[Any, Any]:
        """``count`` images that fit the architecture, and their labels folded into the classes
        the model outputs (synthetic labels run 0..9; a two-class model is valid)."""
        from zoo.training import data

        if SYNTHETIC not in self.registry.datasets:
            raise CheckSkipped(f"the {SYNTHETIC!r} dataset (a built-in) is not registered")
        arrays = self.make("synthetic", lambda: data.load(self.registry.dataset(SYNTHETIC), self.spec))
        x, y = arrays.x_train[:count], arrays.y_train[:count]
        classes = self.model().output_shape[-1]
        kind = task(self.spec.task).targets
        if kind == "labels" and classes:
            y = y % classes
        elif kind == "masks" and classes:
            y = y % max(classes - 1, 1)  # class 0 is the background; a digit d is class d + 1
        return x, y

    def test_split(self, count: int = EVALUATED) -> Any:
        """``count`` synthetic images as an evaluator's ``TestSplit``, labelled by cycling through
        the classes of the default dataset (10 where it declares none), as many as the model
        outputs, so that every class is there to be measured."""
        import numpy as np

        from zoo.core.evaluation import TestSplit

        x, _ = self.synthetic(count)
        dataset = self.registry.datasets.get(self.spec.default_dataset.partition(":")[0])
        names = tuple(dataset.class_names) if dataset else ()
        classes = (dataset.num_classes if dataset else 0) or len(names) or 10
        outputs = self.model().output_shape[-1]
        kind = task(self.spec.task).targets
        if kind == "labels" and outputs:
            classes = min(classes, outputs)
        elif kind == "masks" and outputs:
            classes = min(classes, max(outputs - 1, 1))
        y = np.arange(len(x)) % classes
        return TestSplit(np.asarray(x, dtype=np.float32), y, names[:classes])

    def settings(self) -> dict[str, Any]:
        """What a run's config.json would say of a run with every default (seed 0): the
        ``settings`` an evaluator receives."""
        from zoo.core.hparams import validate
        from zoo.training import augment, data
        from zoo.training.train import describe_run

        spec, split = self.spec, self.test_split()
        arrays = data.Arrays(split.x, split.y, split.x, split.y, class_names=split.class_names)
        plugin = next((p for p in self.registry.plugins if p.name == spec.plugin), None)
        return {
            **describe_run(spec, validate(spec, {}), spec.default_dataset, arrays),
            "plugin_version": plugin.version if plugin else None,
            "data_dir": None,
            "epochs": spec.epochs,
            "batch_size": spec.batch_size,
            "learning_rate": spec.learning_rate,
            "lr_schedule": spec.lr_schedule,
            "early_stopping": 0,
            "augment": "none",
            "augment_detail": augment.describe("none"),
            "optimizer": "adam",
            "loss": spec.training_loss,
            "validation_split": data.VALIDATION_SPLIT,
            "seed": SEED,
            "deterministic": False,
            "strategy": "none",
            "replicas": 1,
        }

    def export(self, exporter: str) -> Any:
        """The untrained model exported by ``exporter`` (an ``ExportResult``)."""
        from zoo.export.orchestrate import export_untrained

        if exporter not in self.registry.exporters:
            raise CheckSkipped(f"exporter {exporter!r} is not registered")

        def made() -> Any:
            out = self.folder() / f"{self.spec.name}-{exporter}"
            return export_untrained(self.registry, self.spec.name, out=out, exporter=exporter)

        return self.make(f"export:{exporter}", made)

    def folder(self) -> Path:
        """A temporary folder for this subject's files, removed when the process ends."""
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix=f"zoo-check-{self.spec.name}-")
        return Path(self._folder.name)


class DatasetSubject(_Pieces):
    """One dataset under check."""

    def __init__(self, registry: Registry, spec: DatasetSpec) -> None:
        super().__init__()
        self.registry, self.spec = registry, spec

    def loaded(self) -> tuple[Any, ...]:
        """What the loader returned, as it returned it."""
        return self.need("loaded", self.load, "loads")

    def load(self) -> tuple[Any, ...]:
        from zoo.core.errors import DatasetUnavailable
        from zoo.core.registry import call
        from zoo.training.data import data_dir, returned

        if self.spec.argument:
            raise CheckSkipped(
                f"used as {self.spec.name}:{self.spec.argument}; its loader is checked when a run uses it"
            )
        shape = tuple(self.spec.image_shape or (28, 28, 1))
        if len(shape) == 2:
            shape = (*shape, 1)
        try:
            found = call(self.spec, self.spec.loader, data_dir=data_dir(None), input_shape=shape)
        except DatasetUnavailable as exc:
            raise CheckSkipped(f"not available here: {exc}") from None
        return returned(self.spec, found)


class ExporterSubject(_Pieces):
    """One exporter under check, tried on the smallest registered architecture."""

    def __init__(
        self, registry: Registry, spec: ExporterSpec, lookup: Callable[[str], ArchitectureSubject]
    ) -> None:
        super().__init__()
        self.registry, self.spec, self.lookup = registry, spec, lookup

    def architecture(self) -> ArchitectureSpec:
        """The built-in architecture with the fewest declared parameters (ties by name); any
        registered one where no built-in is loaded."""
        builtin = {p.name for p in self.registry.plugins if p.builtin}
        every = list(self.registry.architectures.values())
        specs = sorted(
            [s for s in every if s.plugin in builtin] or every,
            key=lambda s: (s.parameters is None, s.parameters or 0, s.name),
        )
        if not specs:
            raise CheckSkipped("no architecture is registered to export")
        return specs[0]

    def subject(self) -> ArchitectureSubject:
        """The architecture exported, shared with its own checks (so one export serves both)."""
        return self.lookup(self.architecture().name)


def verified(exporter: ExporterSpec, folder: Path) -> str:
    """The exporter's verifier run on an export it made, its report checked to be one: a
    ``CheckFailed`` naming the files that fail."""
    from zoo.core.registry import call

    report = call(exporter, exporter.verifier, str(folder), reference=False)
    files = report.get("files") if isinstance(report, dict) else None
    if not isinstance(files, list) or not isinstance(report.get("passed"), bool):
        raise CheckFailed(
            f"{exporter.verifier} returned {type(report).__name__}, not a report: a dict with 'passed' "
            "and a 'files' list"
        )
    if not report["passed"]:
        failed = [
            f"{f.get('file')}: {'; '.join(f.get('failures', []))}" for f in files if not f.get("passed")
        ]
        raise CheckFailed(f"its verifier fails the export it made: {', '.join(failed) or 'no file named'}")
    return f"{len(files)} files verified"
