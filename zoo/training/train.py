"""Train an architecture from scratch into a new run folder.

What the user asked for is resolved against the architecture's defaults and checked before
TensorFlow starts; the run folder appears, complete enough to resume, once the model is built
(config, samples, the untrained model), and ``zoo.training.fit`` brings it up to date at every
epoch end. ``zoo.training.resume`` goes on with one that was interrupted.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo import __version__
from zoo.core import signals
from zoo.core.errors import InvalidOption, ShapeMismatch
from zoo.core.hparams import validate
from zoo.core.registry import Registry, call
from zoo.core.specs import LR_SCHEDULES, ArchitectureSpec
from zoo.core.tasks import task
from zoo.runs import atomic, locks, run_folder
from zoo.training import augment, data, distribute, models
from zoo.training.compile import compile_model
from zoo.training.fit import (
    VALIDATION_SPLIT,
    FitSession,
    Log,
    OnEpoch,
    TrainResult,
    fit,
    start_tensorflow,
    steps_per_epoch,
    trained_on,
)

NAME_TRIES = 20  # run folder names tried when runs started in the same second take them


@dataclass
class TrainRequest:
    """What the user asked for; ``None`` means the architecture's default."""

    architecture: str
    dataset: str | None = None
    data_dir: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    lr_schedule: str | None = None
    early_stopping: int = 0  # patience in epochs on the validation loss; 0: off
    seed: int = 0
    deterministic: bool = False
    strategy: str = "none"
    augment: str = "none"  # a name in zoo.training.augment.AUGMENTATIONS; training images only
    out: str | Path = "runs"
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """The request with every default filled in, checked before TensorFlow starts."""

    spec: ArchitectureSpec
    dataset: str
    params: dict[str, Any]
    epochs: int
    batch_size: int
    learning_rate: float
    schedule: str
    augment: str
    directory: Path | None
    out: Path


def _plan(registry: Registry, request: TrainRequest) -> _Plan:
    spec = registry.architecture(request.architecture)
    dataset = request.dataset if request.dataset is not None else spec.default_dataset
    registry.dataset(dataset)  # a bad name (also an empty --dataset=) fails before TensorFlow starts
    dataset = data.absolute_dataset(registry, dataset)  # folder:photos read from anywhere later
    for option, value in (("epochs", request.epochs), ("batch_size", request.batch_size)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidOption(f"{option} must be a whole number of at least 1, got {value!r}")
    params = validate(spec, request.hyperparameters)
    schedule = request.lr_schedule or spec.lr_schedule
    if schedule not in LR_SCHEDULES:
        raise InvalidOption(
            f"Unknown learning-rate schedule {schedule!r}. Available: {', '.join(LR_SCHEDULES)}"
        )
    if not isinstance(request.augment, str) or request.augment not in augment.AUGMENTATIONS:
        raise InvalidOption(
            f"Unknown augmentation {request.augment!r}. Available: {', '.join(augment.AUGMENTATIONS)}"
        )
    directory = data.data_dir(request.data_dir)
    distribute.check_environment(request.strategy)  # ZOO_CPU_DEVICES, TF_CONFIG: before TensorFlow starts
    out = Path(request.out)
    atomic.check_writable_folder(out, "--out")  # a file, below a file, not writable, name too long
    return _Plan(
        spec=spec,
        dataset=dataset,
        params=params,
        epochs=request.epochs if request.epochs is not None else spec.epochs,
        batch_size=request.batch_size if request.batch_size is not None else spec.batch_size,
        learning_rate=request.learning_rate if request.learning_rate is not None else spec.learning_rate,
        schedule=schedule,
        augment=request.augment,
        directory=directory,
        out=out,
    )


def describe_run(
    spec: ArchitectureSpec, params: dict[str, Any], dataset: str, arrays: data.Arrays
) -> dict[str, Any]:
    """What config.json says of any run folder, trained or not: the architecture as built and
    the data as prepared."""
    return {
        "architecture": spec.name,
        "plugin": spec.plugin,
        "family": spec.family,
        "task": spec.task,
        "input_shape": list(spec.input_shape),
        "parts": list(spec.parts),
        "hyperparameters": params,
        "dataset": dataset,
        "class_names": list(arrays.class_names),
        "preprocessing": ["scaled to [0, 1]", *arrays.notes],
    }


def _config(
    registry: Registry, request: TrainRequest, plan: _Plan, arrays: data.Arrays, strategy: Any
) -> dict[str, Any]:
    """config.json of a new run: how it was built, on what, trained how, with which versions."""
    spec = plan.spec
    plugin = next((p for p in registry.plugins if p.name == spec.plugin), None)
    return {
        **describe_run(spec, plan.params, plan.dataset, arrays),
        "plugin_version": plugin.version if plugin else None,
        "data_dir": str(plan.directory.resolve()) if plan.directory else None,
        "epochs": plan.epochs,
        "batch_size": plan.batch_size,
        "learning_rate": plan.learning_rate,
        "lr_schedule": plan.schedule,
        "early_stopping": request.early_stopping,
        "augment": plan.augment,
        "augment_detail": augment.describe(plan.augment),
        "optimizer": "adam",
        "loss": spec.training_loss,
        "validation_split": VALIDATION_SPLIT,
        "seed": request.seed,
        "deterministic": request.deterministic,
        "strategy": request.strategy,
        "replicas": distribute.replicas(strategy),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _versions(),
    }


def _check_labels(spec: ArchitectureSpec, model: Any, arrays: data.Arrays, dataset: str) -> None:
    """Every label of the dataset has an output of the model (segmentation: plus background)."""
    targets = task(spec.task).targets
    if targets == "inputs":
        return
    classes = int(model.output.shape[-1])
    top = int(max(arrays.y_train.max(initial=0), arrays.y_test.max(initial=0)))
    top += targets == "masks"  # class 0 is the background
    if top >= classes:
        raise ShapeMismatch(
            f"Dataset {dataset!r} has labels up to {top} but {spec.name!r} has {classes} outputs"
        )


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "zoo": __version__,
        "python": platform.python_version(),
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
    }


def train(
    registry: Registry,
    request: TrainRequest,
    verbose: int = 1,
    log: Log = lambda message: None,
    on_epoch: OnEpoch = lambda epoch, epochs, row: None,
) -> TrainResult:
    """Train from scratch into a new run folder. ``log`` gets notes for people, ``on_epoch``
    each completed epoch's figures. Ctrl-C raises ``TrainingInterrupted`` after saving."""
    plan = _plan(registry, request)
    spec = plan.spec
    start_tensorflow(request.seed, request.deterministic)
    strategy = distribute.strategy(request.strategy)
    arrays = data.load_arrays(registry, spec, plan.dataset, request.data_dir)
    for note in arrays.notes:
        log(f"{plan.dataset} -> {spec.name}: {note}")
    steps = steps_per_epoch(arrays, plan.batch_size)
    with strategy.scope():
        model = models.build(spec, plan.params)
        _check_labels(spec, model, arrays, plan.dataset)
        x_fit = arrays.x_train[: trained_on(arrays)]
        pretraining = _pretrain(spec, model, x_fit, plan, log)
        compile_model(model, spec, plan.learning_rate, steps, plan.schedule, plan.epochs)
    config = _config(registry, request, plan, arrays, strategy)
    signals.check()  # one whose exception was dropped (in a __del__, say): no folder is made
    # A signal from the moment the folder appears until fit can clean up after it is only
    # recorded (fit raises it again first thing), so the run never stays "running" with its lock.
    with contextlib.ExitStack() as stack, signals.holding():
        run_dir, lock = _publish(plan, config, model, arrays)
        stack.enter_context(lock)
        log(f"run folder: {run_dir}")
        session = FitSession(spec, model, arrays, run_dir, config, strategy, 0, {}, pretraining)
        return fit(session, plan.epochs, verbose, log, on_epoch)


def _publish(
    plan: _Plan, config: dict[str, Any], model: Any, arrays: data.Arrays
) -> tuple[Path, locks.FolderLock]:
    """Write the new run folder under a temporary name, locked, and rename it into place; the
    lock is handed back held. Two runs of one architecture started in the same second pick the
    same name: the one that publishes second (the rename never replaces a folder) writes again
    under the next."""
    atomic.remove(run_folder.abandoned_run_folders(plan.out))
    lock: locks.FolderLock | None = None
    for attempt in range(NAME_TRIES):
        run_dir = run_folder.new_run_path(plan.out, plan.spec.name)
        try:
            with atomic.atomic_dir(run_dir, replace=False) as tmp:
                lock = locks.hold_run(tmp)  # before the folder appears, so that it is never seen unheld
                atomic.write_json(tmp / run_folder.CONFIG_FILE, config)
                run_folder.write_samples(tmp, arrays.x_test, arrays.y_test)
                run_folder.save_model(model, tmp)
                run_folder.write_state(tmp, "running", 0, plan.epochs)
            break
        except FileExistsError:
            if lock is not None:
                lock.release()
            if attempt == NAME_TRIES - 1:
                raise
    assert lock is not None
    lock.moved(locks.run_lock(run_dir))
    return run_dir, lock


def _pretrain(spec: ArchitectureSpec, model: Any, x: np.ndarray, plan: _Plan, log: Log) -> dict[str, Any]:
    """Run the architecture's pre-training, if it has one, on the training split only."""
    if not spec.pretrainer:
        return {}
    started = time.perf_counter()
    figures = call(
        spec,
        spec.pretrainer,
        model,
        x,
        hyperparameters=plan.params,
        batch_size=plan.batch_size,
        learning_rate=plan.learning_rate,
        log=log,
    )
    if not figures:
        return {}
    return {**figures, "pretrain_seconds": round(time.perf_counter() - started, 3)}
