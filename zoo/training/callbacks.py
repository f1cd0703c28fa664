"""Keras callbacks that make a run folder trustworthy while it trains.

``RunRecorder`` times each epoch (samples per second), appends the epoch to the history (JSON
and CSV) and saves the model with its optimizer state, every file atomically, so that a crash or
Ctrl-C at any moment leaves the last complete epoch on disk. ``StopOnSignal`` turns the first
Ctrl-C into a clean stop after the current batch.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

from zoo.runs import run_folder


class StopOnSignal(keras.callbacks.Callback):
    """First SIGINT (Ctrl-C): stop after the current batch; a second one aborts at once."""

    def __init__(self, notify: Callable[[str], None]) -> None:
        super().__init__()
        self.notify = notify
        self.requested = False
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.requested = True
        self.notify("stopping after this batch; the last complete epoch is kept (Ctrl-C again: abort)")

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._previous = signal.signal(signal.SIGINT, self._handle)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.requested:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)


class RunRecorder(keras.callbacks.Callback):
    """Per epoch: speed, history (JSON and CSV), ``model.keras`` and the run's state."""

    def __init__(
        self,
        run_dir: Path,
        history: dict[str, list[float]],
        samples_per_epoch: int,
        epochs: int,
        interrupted: Callable[[], bool],
        on_epoch: Callable[[int, dict[str, float]], None] = lambda epoch, row: None,
    ) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.history = history
        self.samples = samples_per_epoch
        self.epochs = epochs
        self.interrupted = interrupted
        self.on_epoch = on_epoch
        self.completed = 0
        self._started = 0.0
        self._trained = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._started = time.perf_counter()
        self._trained = 0.0

    def on_test_begin(self, logs: dict | None = None) -> None:
        if self._started and not self._trained:  # validation starts: the training part is over
            self._trained = time.perf_counter() - self._started

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.interrupted():
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
