"""Keras callbacks that make a run folder trustworthy while it trains.

``RunRecorder`` times each epoch (samples per second), appends the epoch to the history (JSON
and CSV) and saves the model with its optimizer state, every file atomically, so that a crash or
a signal at any moment leaves the last complete epoch on disk. ``StopOnSignal`` turns the first
SIGINT, SIGTERM or SIGHUP (recorded by ``zoo.core.signals``, which ``zoo.training.fit`` puts in
its defer mode for the epochs) into a clean stop after the current batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import keras

from zoo.core import signals
from zoo.runs import run_folder


class StopOnSignal(keras.callbacks.Callback):
    """After a signal: stop at the next batch or epoch boundary, said once; a second signal
    aborts at once (``zoo.core.signals``). Nothing here installs a handler: the signals are
    handled from the start of the command, so that none falls between two handlers."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        super().__init__()
        self.notify = notify
        self.said = False

    def _stop_if_asked(self) -> None:
        signum = signals.received()
        if signum is None:
            return
        self.model.stop_training = True
        if not self.said:
            self.said = True
            again = "Ctrl-C again" if signum == signals.SIGNALS[0] else "another signal"
            self.notify(
                f"{signals.name(signum)}: stopping after this batch; the last complete epoch is kept "
                f"({again}: abort)"
            )

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._stop_if_asked()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._stop_if_asked()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._stop_if_asked()


class RunRecorder(keras.callbacks.Callback):
    """Per epoch: speed, history (JSON and CSV), ``model.keras`` and the run's state. An epoch
    cut short by a stop (fewer batches than ``steps``) is not recorded: neither its weights nor
    its figures are kept; one whose batches all ran is, even if a stop came during its validation."""

    def __init__(
        self,
        run_dir: Path,
        history: dict[str, list[float]],
        samples_per_epoch: int,
        epochs: int,
        steps: int,
        on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    ) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.history = history
        self.samples = samples_per_epoch
        self.epochs = epochs
        self.steps = steps
        self.on_epoch = on_epoch
        self.completed = 0
        self._started = 0.0
        self._trained = 0.0
        self._batches = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()
        self._trained = 0.0
        self._batches = 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._batches = batch + 1  # the last batch of this call (several with steps_per_execution)

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self._started and not self._trained:  # validation starts: the training part is over
            self._trained = time.perf_counter() - self._started

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._batches < self.steps:
            return  # a partial epoch: neither its weights nor its figures are kept
        seconds = time.perf_counter() - self._started
        trained = self._trained or seconds
        row = {name: float(value) for name, value in (logs or {}).items()}
        row["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        row["epoch_seconds"] = round(seconds, 3)
        row["samples_per_s"] = round(self.samples / trained, 1)
        for name, value in row.items():
            self.history.setdefault(name, []).append(value)
        if logs is not None:
            logs["samples_per_s"] = row["samples_per_s"]  # shown by Keras' progress bar, which runs later
        # In this order, state.json last: it commits the epoch. A kill in between leaves the
        # history, then the model, at most one epoch ahead of it; resume reconciles them.
        run_folder.write_history(self.run_dir, self.history)
        run_folder.save_model(self.model, self.run_dir)
        self.completed = epoch + 1
        run_folder.write_state(self.run_dir, "running", self.completed, self.epochs)
        self.on_epoch(epoch + 1, row)


def speed_line(epoch: int, epochs: int, row: dict[str, float]) -> str:
    """The line people see after Keras' progress bar: the epoch's speed."""
    return f"epoch {epoch}/{epochs}: {row['samples_per_s']:,.0f} samples/s, {row['epoch_seconds']:.1f} s"
