"""The run folder: what training leaves behind, and how later commands read it back.

A run folder holds ``model.keras`` (the last complete epoch, with its optimizer state, so
training can resume), ``config.json`` (architecture, hyper-parameters, dataset, seed,
versions), ``state.json`` (running, interrupted or complete; epochs done), ``history.json`` and
``history.csv`` (per epoch), ``metrics.json`` (test metrics), ``samples.npz`` (a few real test
inputs, preprocessed, so export and bench need no dataset), plots and a ``README.md`` model
card. The folder appears, complete enough to resume, once the model is built; from then on
every file in it is replaced atomically.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo import atomic
from zoo.errors import ModelFileError, RunFolderError

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.npz"
STATE_FILE = "state.json"
HISTORY_CSV = "history.csv"
REQUIRED = (MODEL_FILE, CONFIG_FILE, SAMPLES_FILE)
STATUSES = ("running", "interrupted", "failed", "complete")


def new_run_path(out: Path, arch: str) -> Path:
    """``out/<arch>-<UTC time>``, with a counter if that name is taken.

    Called just before the folder is renamed into place, so that runs starting in the same
    second get different names.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = out / f"{arch}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = out / f"{arch}-{stamp}-{n}"
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"Cannot read {str(path)!r}: {exc}") from exc


@dataclass(frozen=True)
class Run:
    """An existing, complete run folder."""

    path: Path
    config: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Run:
        path = Path(path)
        if not path.exists():
            raise RunFolderError(f"Run folder {str(path)!r} does not exist")
        if not path.is_dir():
            raise RunFolderError(f"{str(path)!r} is a file, not a run folder")
        missing = [name for name in REQUIRED if not (path / name).is_file()]
        if missing:
            raise RunFolderError(f"{str(path)!r} is not a complete run folder: missing {', '.join(missing)}")
        config = _read_json(path / CONFIG_FILE)
        if not isinstance(config, dict) or "architecture" not in config:
            raise RunFolderError(f"{str(path / CONFIG_FILE)!r} has no 'architecture'")
        return cls(path=path, config=config)

    @property
    def architecture(self) -> str:
        return str(self.config["architecture"])

    @property
    def state(self) -> dict[str, Any]:
        """``{"status", "epochs_completed", "epochs"}``; runs from before state.json count as complete."""
        path = self.path / STATE_FILE
        if not path.is_file():
            epochs = int(self.config.get("epochs", 0))
            return {"status": "complete", "epochs_completed": epochs, "epochs": epochs}
        return _read_json(path)

    @property
    def history(self) -> dict[str, list[float]]:
        path = self.path / HISTORY_FILE
        return _read_json(path) if path.is_file() else {}

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.path / METRICS_FILE
        return _read_json(path) if path.is_file() else {}

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The real test inputs (preprocessed as in training) and their labels."""
        path = self.path / SAMPLES_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                return data["x"], data["y"]
        except (OSError, ValueError, KeyError) as exc:
            raise RunFolderError(f"Cannot read {str(path)!r}: {exc}") from exc

    def load_model(self, compile: bool = False) -> keras.Model:
        """The trained Keras model, loaded in Keras' safe mode (no arbitrary code); with
        ``compile``, its loss, metrics and optimizer state too (to evaluate or go on training)."""
        from zoo.keras_env import import_keras

        keras = import_keras()
        path = self.path / MODEL_FILE
        try:
            return keras.saving.load_model(path, safe_mode=True, compile=compile)
        except Exception as exc:
            raise ModelFileError(f"Cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from exc


def save_model(model: keras.Model, run_dir: Path) -> None:
    """``model.keras`` with the optimizer's state, replaced atomically."""
    with atomic.atomic_path(run_dir / MODEL_FILE) as tmp:
        model.save(tmp)


def write_state(run_dir: Path, status: str, epochs_completed: int, epochs: int, **extra: Any) -> None:
    atomic.write_json(
        run_dir / STATE_FILE,
        {
            "status": status,
            "epochs_completed": epochs_completed,
            "epochs": epochs,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **extra,
        },
    )


def write_history(run_dir: Path, history: dict[str, list[float]]) -> None:
    """history.json (a list per metric) and history.csv (a row per epoch)."""
    atomic.write_json(run_dir / HISTORY_FILE, history)
    names = list(history)
    rows = max((len(v) for v in history.values()), default=0)
    lines = [",".join(["epoch", *names])]
    for i in range(rows):
        values = [repr(history[n][i]) if i < len(history[n]) else "" for n in names]
        lines.append(",".join([str(i + 1), *values]))
    atomic.write_text(run_dir / HISTORY_CSV, "\n".join(lines) + "\n")


def find_runs(root: Path) -> list[Run]:
    """The run folders directly under ``root`` (or ``root`` itself), oldest first."""
    if not root.is_dir():
        raise RunFolderError(f"{str(root)!r} is not a folder")
    candidates = [root] if (root / CONFIG_FILE).is_file() else sorted(p for p in root.iterdir() if p.is_dir())
    found = []
    for path in candidates:
        if path.name.startswith("."):
            continue  # a folder still being written, or left by a crash
        try:
            found.append(Run.open(path))
        except RunFolderError:
            continue
    return sorted(found, key=lambda r: str(r.config.get("created", "")))
