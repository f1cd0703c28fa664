"""Train an architecture with Keras into a run folder; resume one that was interrupted.

The run folder appears as soon as the model is built (config, samples, the untrained model)
and is brought up to date at every epoch end (model with optimizer state, history, state), so
Ctrl-C or a crash loses at most the epoch in progress. ``resume`` reloads the last complete
epoch and continues with the same optimizer state and the same per-epoch data order.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo import __version__
from zoo.core.errors import InvalidOption, RunFolderError, ShapeMismatch, TrainingInterrupted
from zoo.core.hparams import validate
from zoo.core.registry import Registry, resolve
from zoo.core.specs import EPOCH_DECAY, LR_SCHEDULES, ArchitectureSpec
from zoo.runs import atomic, locks, run_folder
from zoo.training import data, distribute, models, pipeline
from zoo.training.keras_env import import_keras

SAMPLE_COUNT = 64
NAME_TRIES = 20  # run folder names tried when runs started in the same second take them
VALIDATION_SPLIT = 0.1
PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.5, 2

Log = Callable[[str], None]
OnEpoch = Callable[[int, int, dict[str, float]], None]


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
    out: str | Path = "runs"
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    path: Path
    status: str
    epochs_completed: int
    epochs: int
    metrics: dict[str, Any]


def _metrics(spec: ArchitectureSpec, model: Any) -> list[Any]:
    keras = import_keras()
    if spec.task == "classification":
        return ["accuracy"]
    if spec.task == "segmentation":
        classes = int(model.output.shape[-1])
        return ["accuracy", keras.metrics.MeanIoU(classes, sparse_y_pred=False, name="mean_iou")]
    return ["mse", "mae"]


def compile_model(
    model: Any,
    spec: ArchitectureSpec,
    learning_rate: float,
    steps_per_epoch: int = 0,
    schedule: str | None = None,
    epochs: int = 1,
) -> None:
    """Adam with a learning-rate schedule, the spec's loss (or its task's), its task's metrics.

    ``schedule`` (default: the spec's): ``constant``; ``epoch-decay`` (times ``EPOCH_DECAY``
    after every epoch of ``steps_per_epoch`` batches); ``cosine`` (to 0 over ``epochs``);
    ``plateau`` (constant here; halved by a callback when the validation loss stalls).
    """
    keras = import_keras()
    schedule = schedule or spec.lr_schedule
    rate: Any = learning_rate
    if schedule == "epoch-decay" and steps_per_epoch > 0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=steps_per_epoch, decay_rate=EPOCH_DECAY, staircase=True
        )
    elif schedule == "cosine" and steps_per_epoch > 0:
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps_per_epoch * epochs)
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


def load_arrays(
    registry: Registry, spec: ArchitectureSpec, dataset: str, data_dir: str | None
) -> data.Arrays:
    """The dataset named ``dataset`` (``folder:PATH`` included), shaped for ``spec``."""
    dataset_spec = registry.dataset(dataset)
    argument = dataset.partition(":")[2] if dataset_spec.argument else ""
    return data.load(dataset_spec, spec, data.data_dir(data_dir), argument=argument)


def _start_tensorflow(seed: int, deterministic: bool) -> Any:
    """Import Keras quietly, split the CPU if asked, and fix every seed."""
    keras = import_keras()  # before any plugin module imports it, so that its start-up stays quiet
    distribute.configure_devices()
    keras.utils.set_random_seed(seed)  # Python's, NumPy's and the backend's generators
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return keras


@dataclass
class _Session:
    """A model ready to fit, with its data and its run folder."""

    spec: ArchitectureSpec
    model: Any
    arrays: data.Arrays
    run_dir: Path
    config: dict[str, Any]
    strategy: Any
    first_epoch: int
    history: dict[str, list[float]]
    extra_metrics: dict[str, Any] = field(default_factory=dict)


def train(
    registry: Registry,
    request: TrainRequest,
    verbose: int = 1,
    log: Log = lambda message: None,
    on_epoch: OnEpoch = lambda epoch, epochs, row: None,
) -> TrainResult:
    """Train from scratch into a new run folder. ``log`` gets notes for people, ``on_epoch``
    each completed epoch's figures. Ctrl-C raises ``TrainingInterrupted`` after saving."""
    spec = registry.architecture(request.architecture)
    dataset = request.dataset if request.dataset is not None else spec.default_dataset
    registry.dataset(dataset)  # a bad name (also an empty --dataset=) fails before TensorFlow starts
    params = validate(spec, request.hyperparameters)
    epochs = request.epochs if request.epochs is not None else spec.epochs
    batch_size = request.batch_size if request.batch_size is not None else spec.batch_size
    learning_rate = request.learning_rate if request.learning_rate is not None else spec.learning_rate
    schedule = request.lr_schedule or spec.lr_schedule
    if schedule not in LR_SCHEDULES:
        raise InvalidOption(
            f"Unknown learning-rate schedule {schedule!r}. Available: {', '.join(LR_SCHEDULES)}"
        )
    directory = data.data_dir(request.data_dir)
    out = Path(request.out)
    atomic.check_writable_folder(out, "--out")  # a file, below a file, not writable, name too long

    _start_tensorflow(request.seed, request.deterministic)
    strategy = distribute.strategy(request.strategy)
    arrays = load_arrays(registry, spec, dataset, request.data_dir)
    for note in arrays.notes:
        log(f"{dataset} -> {spec.name}: {note}")

    trained_on = int(len(arrays.x_train) * (1 - VALIDATION_SPLIT))
    steps = pipeline.steps_per_epoch(trained_on, batch_size)
    with strategy.scope():
        model = models.build(spec, params)
        _check_labels(spec, model, arrays, dataset)
        pretraining = _pretrain(
            spec, model, arrays.x_train[:trained_on], params, batch_size, learning_rate, log
        )
        compile_model(model, spec, learning_rate, steps, schedule, epochs)

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
        "dataset": dataset,
        "data_dir": str(directory.resolve()) if directory else None,
        "class_names": list(arrays.class_names),
        "preprocessing": ["scaled to [0, 1]", *arrays.notes],
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lr_schedule": schedule,
        "early_stopping": request.early_stopping,
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
    atomic.remove(run_folder.abandoned_run_folders(out))
    lock: locks.FolderLock | None = None
    for attempt in range(NAME_TRIES):
        # Two runs of one architecture started in the same second pick the same name: the one
        # that publishes second (the rename never replaces a folder) writes again under the next.
        run_dir = run_folder.new_run_path(out, spec.name)
        try:
            with atomic.atomic_dir(run_dir, replace=False) as tmp:
                lock = locks.hold_run(tmp)  # before the folder appears, so that it is never seen unheld
                atomic.write_json(tmp / run_folder.CONFIG_FILE, config)
                samples = {"x": arrays.x_test[:SAMPLE_COUNT], "y": arrays.y_test[:SAMPLE_COUNT]}
                np.savez_compressed(tmp / run_folder.SAMPLES_FILE, **samples)
                run_folder.save_model(model, tmp)
                run_folder.write_state(tmp, "running", 0, epochs)
            break
        except FileExistsError:
            if lock is not None:
                lock.release()
            if attempt == NAME_TRIES - 1:
                raise
    lock.moved(locks.run_lock(run_dir))
    log(f"run folder: {run_dir}")
    session = _Session(spec, model, arrays, run_dir, config, strategy, 0, {}, pretraining)
    with lock:
        return _fit(session, epochs, verbose, log, on_epoch)


def resume(
    registry: Registry,
    run_dir: str | Path,
    epochs: int | None = None,
    data_dir: str | None = None,
    verbose: int = 1,
    log: Log = lambda message: None,
    on_epoch: OnEpoch = lambda epoch, epochs, row: None,
) -> TrainResult:
    """Continue a run from its last complete epoch, up to ``epochs`` (default: as asked).

    The run folder is locked first, so a second ``--resume`` of it is refused at once. A run
    whose process was killed is taken as it lies: temporaries removed, the epoch that its model
    and history hold beyond state.json kept (``_epochs_saved``), and a run killed after its
    last epoch but before its test metrics finished without training.
    """
    run = run_folder.Run.open(run_dir)
    with locks.hold_run(run.path):
        atomic.remove([p for p in atomic.leftovers(run.path) if p.is_file()])  # a killed writer's
        return _resume(registry, run, epochs, data_dir, verbose, log, on_epoch)


def _resume(
    registry: Registry,
    run: run_folder.Run,
    epochs: int | None,
    data_dir: str | None,
    verbose: int,
    log: Log,
    on_epoch: OnEpoch,
) -> TrainResult:
    for key in ("dataset", "batch_size", "seed"):  # what fitting reads: a damaged config.json is named now
        run.setting(key)
    state, _ = run.state, run.history  # damaged files are named before TensorFlow starts
    config = dict(run.config)
    target = epochs if epochs is not None else int(state.get("epochs") or run.setting("epochs"))
    done = int(state.get("epochs_completed", 0))
    if target < done or (target == done and state.get("status") == "complete"):
        raise RunFolderError(
            f"{str(run.path)!r} has {done} of {target} epochs done; pass --epochs N (N > {done}) to go on"
        )
    spec = registry.architecture(run.architecture)
    data_dir = data_dir if data_dir is not None else config.get("data_dir")
    _start_tensorflow(int(config.get("seed", 0)), bool(config.get("deterministic")))
    strategy = distribute.strategy(str(config.get("strategy", "none")))
    arrays = load_arrays(registry, spec, str(config["dataset"]), data_dir)
    resolve(spec.builder, owner=f"architecture {spec.name!r}")  # registers custom layers, if any
    with strategy.scope():
        model = run.load_model(compile=True)
    models.check_loaded(spec, model, run.path / run_folder.MODEL_FILE)
    history = run.history
    done = _epochs_saved(done, model, _steps(arrays, int(config["batch_size"])), history)
    if any(len(values) != done for values in history.values()):
        history = {name: values[:done] for name, values in history.items()}
        run_folder.write_history(run.path, history)
    config["epochs"] = target
    atomic.write_json(run.path / run_folder.CONFIG_FILE, config)
    log(f"resuming {run.path} at epoch {done + 1} of {target}")
    session = _Session(spec, model, arrays, run.path, config, strategy, done, history)
    return _fit(session, target, verbose, log, on_epoch)


def _steps(arrays: data.Arrays, batch_size: int) -> int:
    return pipeline.steps_per_epoch(int(len(arrays.x_train) * (1 - VALIDATION_SPLIT)), batch_size)


def _epochs_saved(recorded: int, model: Any, steps: int, history: dict[str, list[float]]) -> int:
    """The epoch to go on from: state.json's, or the next one where a kill came after that
    epoch's history and model were saved but before state.json, written last, committed it
    (the optimizer's step count tells which epoch ``model.keras`` holds)."""
    in_model, partial = divmod(int(model.optimizer.iterations), steps)
    rows = min((len(values) for values in history.values()), default=0)
    return in_model if not partial and in_model == recorded + 1 and rows >= in_model else recorded


def _fit(session: _Session, epochs: int, verbose: int, log: Log, on_epoch: OnEpoch) -> TrainResult:
    """Fit from ``session.first_epoch`` to ``epochs``, recording every epoch; then finish the run."""
    from zoo.training import callbacks

    keras = import_keras()
    spec, config, arrays = session.spec, session.config, session.arrays
    batch_size = int(config["batch_size"])
    trained_on = int(len(arrays.x_train) * (1 - VALIDATION_SPLIT))
    x_fit, y_fit = arrays.x_train[:trained_on], arrays.y_train[:trained_on]
    x_val, y_val = arrays.x_train[trained_on:], arrays.y_train[trained_on:]
    train_data = pipeline.training_dataset(
        x_fit, targets(spec, x_fit, y_fit), batch_size, int(config["seed"]), session.first_epoch, epochs
    )
    val_data = (
        pipeline.evaluation_dataset(x_val, targets(spec, x_val, y_val), batch_size) if len(x_val) else None
    )

    stopper = callbacks.StopOnSignal(notify=log)
    recorder = callbacks.RunRecorder(
        session.run_dir,
        session.history,
        samples_per_epoch=trained_on,
        epochs=epochs,
        interrupted=lambda: stopper.requested,
        on_epoch=lambda epoch, row: on_epoch(epoch, epochs, row),
    )
    recorder.completed = session.first_epoch
    extra: list[Any] = []
    if config.get("early_stopping"):
        extra.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss" if val_data is not None else "loss",
                patience=int(config["early_stopping"]),
                restore_best_weights=True,
            )
        )
    if config.get("lr_schedule") == "plateau":
        extra.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss" if val_data is not None else "loss",
                factor=PLATEAU_FACTOR,
                patience=PLATEAU_PATIENCE,
            )
        )
    started = time.perf_counter()
    status = "failed"
    try:
        if session.first_epoch < epochs:  # else a run killed after its last epoch: finished below
            session.model.fit(
                train_data,
                validation_data=val_data,
                epochs=epochs,
                initial_epoch=session.first_epoch,
                steps_per_epoch=pipeline.steps_per_epoch(trained_on, batch_size),
                callbacks=[stopper, *extra, recorder],
                shuffle=False,  # the pipeline shuffles, seeded per epoch
                verbose=verbose,
            )
        status = "interrupted" if stopper.requested else "trained"
    except KeyboardInterrupt:
        status = "interrupted"
        raise TrainingInterrupted(_interrupted_message(session.run_dir, recorder.completed, epochs)) from None
    finally:
        if status != "trained":  # "complete" waits for the test metrics, written below
            run_folder.write_state(session.run_dir, status, recorder.completed, epochs)
    seconds = time.perf_counter() - started
    if status == "interrupted":
        _report(session, {}, log)
        raise TrainingInterrupted(_interrupted_message(session.run_dir, recorder.completed, epochs))

    stopped_early = recorder.completed < epochs
    if stopped_early:
        run_folder.save_model(session.model, session.run_dir)  # the best epoch's weights, restored
        log(f"early stopping after epoch {recorder.completed}: the validation loss stopped improving")
    from zoo.training.evaluate import test_metrics

    metrics = test_metrics(session.model, spec, arrays, batch_size)
    completed_now = recorder.completed - session.first_epoch
    metrics.update(
        epochs_completed=recorder.completed,
        stopped_early=stopped_early,
        train_seconds=round(seconds, 3),
        train_samples_per_s=round(trained_on * completed_now / seconds, 1) if completed_now else None,
        train_samples=trained_on,
        test_samples=len(arrays.x_test),
        replicas=config.get("replicas", 1),
        **session.extra_metrics,
    )
    atomic.write_json(session.run_dir / run_folder.METRICS_FILE, metrics)
    _report(session, metrics, log)  # before "complete": a run killed while drawing is resumable
    run_folder.write_state(session.run_dir, "complete", recorder.completed, epochs)
    return TrainResult(session.run_dir, "complete", recorder.completed, epochs, metrics)


def _interrupted_message(run_dir: Path, completed: int, epochs: int) -> str:
    return (
        f"interrupted: {completed} of {epochs} epochs are saved in {str(run_dir)!r}; "
        f"go on with: zoo train --resume {run_dir}"
    )


def _report(session: _Session, metrics: dict[str, Any], log: Log) -> None:
    """Plots and the model card; a failure here is logged, never loses the trained model."""
    from zoo.training import report

    try:
        report.write(session.run_dir, session.spec, session.model, session.arrays, metrics)
    except Exception as exc:  # plots are a convenience: the run itself is already safe
        log(f"could not write the plots or the model card: {type(exc).__name__}: {exc}")


def _pretrain(
    spec: ArchitectureSpec,
    model: Any,
    x: np.ndarray,
    params: dict[str, Any],
    batch_size: int,
    learning_rate: float,
    log: Log,
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
