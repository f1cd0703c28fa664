"""Train an architecture with Keras on a dataset and leave a run folder behind."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo import __version__, atomic, data, models, runs
from zoo.errors import OutputExists, ShapeMismatch
from zoo.hparams import validate
from zoo.keras_env import import_keras
from zoo.registry import Registry, resolve
from zoo.specs import EPOCH_DECAY, ArchitectureSpec

SAMPLE_COUNT = 64
VALIDATION_SPLIT = 0.1


@dataclass
class TrainRequest:
    """What the user asked for; ``None`` means the architecture's default."""

    architecture: str
    dataset: str | None = None
    data_dir: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    seed: int = 0
    out: str | Path = "runs"
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


def _metrics(spec: ArchitectureSpec, model: Any) -> list[Any]:
    keras = import_keras()
    if spec.task == "classification":
        return ["accuracy"]
    if spec.task == "segmentation":
        classes = int(model.output.shape[-1])
        return ["accuracy", keras.metrics.MeanIoU(classes, sparse_y_pred=False, name="mean_iou")]
    return ["mse", "mae"]


def compile_model(model: Any, spec: ArchitectureSpec, learning_rate: float, steps_per_epoch: int = 0) -> None:
    """Adam with the architecture's schedule, its loss (or its task's default), its task's metrics.

    ``steps_per_epoch`` (batches per epoch) is what an epoch-decay schedule steps by.
    """
    keras = import_keras()
    rate: Any = learning_rate
    if spec.lr_schedule == "epoch-decay" and steps_per_epoch > 0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=steps_per_epoch, decay_rate=EPOCH_DECAY, staircase=True
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=spec.training_loss,
        metrics=_metrics(spec, model),
    )


def targets(spec: ArchitectureSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What the model learns to output: labels, the input itself, or per-pixel classes."""
    if spec.task == "classification":
        return y
    if spec.task == "segmentation":
        return data.segmentation_masks(x, y)
    return x


def _check_labels(spec: ArchitectureSpec, model: Any, arrays: data.Arrays, dataset: str) -> None:
    if spec.task == "reconstruction":
        return
    classes = int(model.output.shape[-1])
    top = int(max(arrays.y_train.max(initial=0), arrays.y_test.max(initial=0)))
    top += spec.task == "segmentation"  # class 0 is the background
    if top >= classes:
        raise ShapeMismatch(
            f"Dataset {dataset!r} has labels up to {top} but {spec.name!r} has {classes} outputs"
        )


def _pretrain(
    spec: ArchitectureSpec,
    model: Any,
    x: np.ndarray,
    params: dict[str, Any],
    batch_size: int,
    learning_rate: float,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Run the architecture's pre-training, if it has one, on the training split only."""
    if not spec.pretrainer:
        return {}
    pretrain = resolve(spec.pretrainer, owner=f"architecture {spec.name!r}")
    started = time.perf_counter()
    figures = pretrain(
        model, x, hyperparameters=params, batch_size=batch_size, learning_rate=learning_rate, log=log
    )
    if not figures:
        return {}
    return {**figures, "pretrain_seconds": round(time.perf_counter() - started, 3)}


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
    log: Callable[[str], None] = lambda message: None,
) -> Path:
    """Train and write the run folder; returns its path. ``log`` receives notes for people."""
    spec = registry.architecture(request.architecture)
    dataset = registry.dataset(request.dataset or spec.default_dataset)
    params = validate(spec, request.hyperparameters)
    epochs = request.epochs if request.epochs is not None else spec.epochs
    batch_size = request.batch_size if request.batch_size is not None else spec.batch_size
    learning_rate = request.learning_rate if request.learning_rate is not None else spec.learning_rate
    directory = data.data_dir(request.data_dir)
    out = Path(request.out)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"--out {str(out)!r} is a file, not a folder")

    keras = import_keras()  # before any plugin module imports it, so that its start-up stays quiet
    arrays = data.load(dataset, spec, directory)
    for note in arrays.notes:
        log(f"{dataset.name} -> {spec.name}: {note}")

    keras.utils.set_random_seed(request.seed)
    model = models.build(spec, params)
    _check_labels(spec, model, arrays, dataset.name)
    trained_on = int(len(arrays.x_train) * (1 - VALIDATION_SPLIT))
    pretraining = _pretrain(spec, model, arrays.x_train[:trained_on], params, batch_size, learning_rate, log)
    compile_model(model, spec, learning_rate, steps_per_epoch=-(-trained_on // batch_size))

    started = time.perf_counter()
    history = model.fit(
        arrays.x_train,
        targets(spec, arrays.x_train, arrays.y_train),
        epochs=epochs,
        batch_size=batch_size,
        validation_split=VALIDATION_SPLIT,
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - started
    evaluated = model.evaluate(
        arrays.x_test,
        targets(spec, arrays.x_test, arrays.y_test),
        batch_size=max(batch_size, 256),
        verbose=0,
        return_dict=True,
    )
    metrics = {f"test_{name}": float(value) for name, value in evaluated.items()}
    metrics.update(
        train_seconds=round(train_seconds, 3),
        train_samples_per_s=round(trained_on * epochs / train_seconds, 1),
        train_samples=trained_on,
        test_samples=len(arrays.x_test),
        **pretraining,
    )
    plugin = next((p for p in registry.plugins if p.name == spec.plugin), None)
    config = {
        "architecture": spec.name,
        "plugin": spec.plugin,
        "plugin_version": plugin.version if plugin else None,
        "family": spec.family,
        "task": spec.task,
        "input_shape": list(spec.input_shape),
        "parts": list(spec.parts),
        "hyperparameters": params,
        "dataset": dataset.name,
        "data_dir": str(directory.resolve()) if directory else None,
        "class_names": list(dataset.class_names),
        "preprocessing": ["scaled to [0, 1]", *arrays.notes],
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lr_schedule": spec.lr_schedule,
        "optimizer": "adam",
        "loss": spec.training_loss,
        "validation_split": VALIDATION_SPLIT,
        "seed": request.seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": _versions(),
    }
    history_rows = {name: [float(v) for v in values] for name, values in history.history.items()}

    final = runs.new_run_path(out, spec.name)
    with atomic.atomic_dir(final, replace=False) as tmp:
        model.save(tmp / runs.MODEL_FILE)
        atomic.write_json(tmp / runs.CONFIG_FILE, config)
        atomic.write_json(tmp / runs.HISTORY_FILE, history_rows)
        atomic.write_json(tmp / runs.METRICS_FILE, metrics)
        np.savez_compressed(
            tmp / runs.SAMPLES_FILE,
            x=arrays.x_test[:SAMPLE_COUNT],
            y=arrays.y_test[:SAMPLE_COUNT],
        )
    return final
