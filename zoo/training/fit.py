"""Fit a model in its run folder, epoch by epoch, and finish the run: test metrics, evaluations,
plots, the model card, and ``complete`` in state.json last.

Shared by a new run (``zoo.training.train``) and a resumed one (``zoo.training.resume``): both
hand over a ``FitSession`` whose folder already holds the config, the samples and the model.
Every epoch end replaces the model, the history and state.json atomically, so a signal
(``zoo.core.signals``: Ctrl-C, SIGTERM, SIGHUP) or a crash loses at most the epoch in progress.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.core import signals
from zoo.core.errors import USER_ERRNOS, TrainingInterrupted
from zoo.core.specs import ArchitectureSpec
from zoo.core.tasks import task
from zoo.runs import atomic, run_folder
from zoo.training import augment, data, distribute, evaluators, pipeline, report
from zoo.training.evaluate import test_metrics
from zoo.training.keras_env import import_keras

VALIDATION_SPLIT = data.VALIDATION_SPLIT  # the end of the training split, held out for validation
PLATEAU_FACTOR, PLATEAU_PATIENCE = 0.5, 2

Log = Callable[[str], None]
OnEpoch = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainResult:
    path: Path
    status: str
    epochs_completed: int
    epochs: int
    metrics: dict[str, Any]


@dataclass
class FitSession:
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


def trained_on(arrays: data.Arrays) -> int:
    """How many training images are fitted on; the rest of the training split validates."""
    return int(len(arrays.x_train) * (1 - VALIDATION_SPLIT))


def steps_per_epoch(arrays: data.Arrays, batch_size: int) -> int:
    return pipeline.steps_per_epoch(trained_on(arrays), batch_size)


def start_tensorflow(seed: int, deterministic: bool) -> Any:
    """Import Keras quietly, split the CPU if asked, and fix every seed."""
    distribute.cpu_devices()  # a bad ZOO_CPU_DEVICES is refused before TensorFlow starts
    keras = import_keras()  # before any plugin module imports it, so that its start-up stays quiet
    distribute.configure_devices()
    keras.utils.set_random_seed(seed)  # Python's, NumPy's and the backend's generators
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return keras


def _callbacks(session: FitSession, has_validation: bool) -> list[Any]:
    """Early stopping and the plateau schedule, as the run's config asks."""
    keras = import_keras()
    config = session.config
    monitor = "val_loss" if has_validation else "loss"
    extra: list[Any] = []
    if config.get("early_stopping"):
        extra.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=int(config["early_stopping"]), restore_best_weights=True
            )
        )
    if config.get("lr_schedule") == "plateau":
        extra.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE
            )
        )
    return extra


def fit(session: FitSession, epochs: int, verbose: int, log: Log, on_epoch: OnEpoch) -> TrainResult:
    """Fit from ``session.first_epoch`` to ``epochs``, recording every epoch; then finish the run.

    A signal (SIGINT, SIGTERM, SIGHUP) at any moment, from before the first batch to just
    before ``complete`` is written, ends the run as ``interrupted`` with its last complete epoch
    and raises ``TrainingInterrupted`` (exit code 128 + the signal's number); any other failure
    leaves it ``failed``, and an ``OSError`` gains a note saying what is kept."""
    with signals.handled():  # an API caller's; the zoo command has them handled from its start
        return _fit(session, epochs, verbose, log, on_epoch)


def _fit(session: FitSession, epochs: int, verbose: int, log: Log, on_epoch: OnEpoch) -> TrainResult:
    recorder: Any = None
    committed = False
    try:
        with signals.raising():  # from here on a signal is cleaned up after (``train`` held them)
            recorder = _recorder(session, epochs, on_epoch)
            result = _train_and_finish(session, epochs, verbose, log, recorder)
            with signals.holding():  # "complete" is written whole, or a signal before it ends the run
                signals.check()
                run_folder.write_state(session.run_dir, "complete", recorder.completed, epochs)
                committed = True
            return result
    except TrainingInterrupted:
        raise
    except KeyboardInterrupt as exc:  # a second signal (abort), or one outside the epochs
        if committed:
            raise  # the run is complete; the command says it was interrupted as it ended
        signum = getattr(exc, "signum", signal.SIGINT)
        completed = recorder.completed if recorder else session.first_epoch
        raise _interrupted(session, completed, epochs, signum, log, report=False) from None
    except Exception as exc:
        completed = recorder.completed if recorder else session.first_epoch
        if not committed:
            with signals.holding(), contextlib.suppress(OSError):  # a full disk may refuse this too
                run_folder.write_state(session.run_dir, "failed", completed, epochs)
        if isinstance(exc, OSError):
            if exc.filename is None:  # a write's error names no file: the run folder, then
                exc.filename = str(session.run_dir)
            exc.add_note(
                f"{completed} of {epochs} epochs are kept; go on with: zoo train --resume {session.run_dir}"
            )
        raise


def _recorder(session: FitSession, epochs: int, on_epoch: OnEpoch) -> Any:
    from zoo.training import callbacks  # Keras callbacks: TensorFlow is imported only to train

    recorder = callbacks.RunRecorder(
        session.run_dir,
        session.history,
        samples_per_epoch=trained_on(session.arrays),
        epochs=epochs,
        steps=steps_per_epoch(session.arrays, int(session.config["batch_size"])),
        on_epoch=lambda epoch, row: on_epoch(epoch, epochs, row),
    )
    recorder.completed = session.first_epoch
    return recorder


def _train_and_finish(session: FitSession, epochs: int, verbose: int, log: Log, recorder: Any) -> TrainResult:
    """The epochs, then test metrics, plots and card; ``TrainingInterrupted`` after a stop."""
    from zoo.training import callbacks

    spec, config, arrays = session.spec, session.config, session.arrays
    batch_size = int(config["batch_size"])
    fitted = trained_on(arrays)
    started = time.perf_counter()
    with signals.deferring():  # the first signal: a stop after the batch, read by StopOnSignal
        if session.first_epoch < epochs and signals.received() is None:
            # else a run killed after its last epoch (finished below), or a signal came already
            x_fit, y_fit = arrays.x_train[:fitted], arrays.y_train[:fitted]
            x_val, y_val = arrays.x_train[fitted:], arrays.y_train[fitted:]
            train_data = pipeline.training_dataset(
                x_fit,
                data.targets(spec, x_fit, y_fit),
                batch_size,
                int(config["seed"]),
                session.first_epoch,
                epochs,
                augmentation=str(config.get("augment") or augment.NONE),  # runs before it: none
                targets_kind=task(spec.task).targets,
            )
            val_data = (
                pipeline.evaluation_dataset(x_val, data.targets(spec, x_val, y_val), batch_size)
                if len(x_val)
                else None
            )
            session.model.fit(
                train_data,
                validation_data=val_data,
                epochs=epochs,
                initial_epoch=session.first_epoch,
                steps_per_epoch=recorder.steps,
                callbacks=[
                    callbacks.StopOnSignal(notify=log),
                    *_callbacks(session, val_data is not None),
                    recorder,
                ],
                shuffle=False,  # the pipeline shuffles, seeded per epoch
                verbose=verbose,
            )
    signum = signals.received()
    if signum is not None:  # stopped after a batch: the plots and card show what is kept
        raise _interrupted(session, recorder.completed, epochs, signum, log, report=True)
    metrics = _finish(session, recorder.completed, epochs, time.perf_counter() - started, log)
    return TrainResult(session.run_dir, "complete", recorder.completed, epochs, metrics)


def _finish(session: FitSession, completed: int, epochs: int, seconds: float, log: Log) -> dict[str, Any]:
    """Test metrics, plots and the model card; ``fit`` then writes ``complete``: a run killed
    before that last write is resumed to finish."""
    stopped_early = completed < epochs
    if stopped_early:
        run_folder.save_model(session.model, session.run_dir)  # the best epoch's weights, restored
        log(f"early stopping after epoch {completed}: the validation loss stopped improving")
    batch_size = int(session.config["batch_size"])
    metrics = test_metrics(session.model, session.spec, session.arrays, batch_size)
    fitted = trained_on(session.arrays)
    completed_now = completed - session.first_epoch
    metrics.update(
        epochs_completed=completed,
        stopped_early=stopped_early,
        train_seconds=round(seconds, 3),
        train_samples_per_s=round(fitted * completed_now / seconds, 1) if completed_now else None,
        train_samples=fitted,
        test_samples=len(session.arrays.x_test),
        replicas=session.config.get("replicas", 1),
        **session.extra_metrics,
    )
    metrics.update(_evaluate(session, metrics, log))
    atomic.write_json(session.run_dir / run_folder.METRICS_FILE, metrics)
    _report(session, metrics, log)  # before "complete": a run killed while drawing is resumable
    return metrics


def _saved(run_dir: Path, completed: int, epochs: int) -> str:
    where = f"{completed} of {epochs} epochs are saved in {str(run_dir)!r}"
    return f"{where}; go on with: zoo train --resume {run_dir}"


def _interrupted(
    session: FitSession, completed: int, epochs: int, signum: int, log: Log, report: bool
) -> TrainingInterrupted:
    """Mark the run ``interrupted`` (a signal now cannot tear that write), draw its plots if
    ``report`` (a further signal skips them), and the error that says so."""
    with signals.holding(), contextlib.suppress(OSError):  # unwritable: it reads as interrupted anyway
        run_folder.write_state(session.run_dir, "interrupted", completed, epochs)
    if report:
        with contextlib.suppress(KeyboardInterrupt):
            _evaluate(session, (), log)
            _report(session, {}, log)
    by = "" if signum == signal.SIGINT else f" ({signals.name(signum)})"
    error = TrainingInterrupted(f"interrupted{by}: {_saved(session.run_dir, completed, epochs)}")
    error.exit_code = signals.exit_code(signum)
    return error


def _warn(message: str) -> None:
    print(f"zoo: warning: {message}", file=sys.stderr)  # even with --quiet: a gap must not pass unsaid


def _evaluate(session: FitSession, taken: Collection[str], log: Log) -> dict[str, Any]:
    """The task's and the architecture's evaluations (``zoo.training.evaluators``): their metrics,
    for metrics.json. A failure is said and recorded, never loses the trained model."""
    log("evaluating on the test split")
    try:
        outcome = evaluators.run(
            session.spec,
            session.model,
            session.arrays,
            session.config,
            session.run_dir,
            taken_metrics=taken,
            warn=lambda message: _warn(f"{message}; the run is kept without it"),
        )
    except Exception as exc:  # the evaluations are a view of the run: the run itself is safe
        if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:  # a full disk: said as everywhere
            raise
        _warn(f"could not evaluate {str(session.run_dir)!r}: {type(exc).__name__}: {exc}")
        return {}
    return outcome.metrics


def _report(session: FitSession, metrics: dict[str, Any], log: Log) -> None:
    """Plots and the model card; a failure here is logged, never loses the trained model."""
    try:
        report.write(session.run_dir, session.spec, metrics)
    except Exception as exc:  # plots are a convenience: the run itself is already safe
        # on stderr even with --quiet: a run folder without its card must not pass unsaid
        _warn(
            f"could not write the plots or the model card of {str(session.run_dir)!r}: "
            f"{type(exc).__name__}: {exc}"
        )
