"""The run folder: what training leaves behind, and how later commands read it back.

A run folder holds ``model.keras``, ``config.json`` (architecture, hyper-parameters, dataset,
seed, versions), ``history.json`` (per epoch), ``metrics.json`` (test metrics) and
``samples.npz`` (a few real test inputs, preprocessed, so export and bench need no dataset).
It is built under a temporary name and renamed when training has finished.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.errors import ModelFileError, RunFolderError

if TYPE_CHECKING:
    import keras

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.npz"
REQUIRED = (MODEL_FILE, CONFIG_FILE, SAMPLES_FILE)


def new_run_path(out: Path, arch: str) -> Path:
    """``out/<arch>-<UTC time>``, with a counter if that name is taken.

    Called when a run is complete, just before its folder is renamed into place, so that runs
    finishing in the same second get different names.
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

    def load_model(self) -> keras.Model:
        """The trained Keras model, loaded in Keras' safe mode (no arbitrary code)."""
        from zoo.keras_env import import_keras

        keras = import_keras()
        path = self.path / MODEL_FILE
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as exc:
            raise ModelFileError(f"Cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from exc
