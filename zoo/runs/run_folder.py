"""The run folder: what training leaves behind, and how later commands read it back.

A run folder holds ``model.keras`` (the last complete epoch, with its optimizer state, so
training can resume), ``config.json`` (architecture, hyper-parameters, dataset, seed,
versions), ``state.json`` (running, interrupted or complete; epochs done), ``history.json`` and
``history.csv`` (per epoch), ``metrics.json`` (test metrics and the evaluations' figures),
``evaluation.json`` (what each evaluation found, for the card), ``samples.npz`` (a few real test
inputs, preprocessed, so export and bench need no dataset), plots and a ``README.md`` model
card. The folder appears, complete enough to resume, once the model is built; from then on
every file in it is replaced atomically.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.core.errors import RunFolderError
from zoo.runs import atomic, locks

if TYPE_CHECKING:
    from collections.abc import Callable

    import keras

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
SAMPLES_FILE = "samples.npz"
STATE_FILE = "state.json"
HISTORY_CSV = "history.csv"
# What the run's evaluations found (zoo.training.evaluators): a record per evaluation.
EVALUATION_FILE = "evaluation.json"
REQUIRED = (MODEL_FILE, CONFIG_FILE, SAMPLES_FILE)
SAMPLE_COUNT = 64  # real test inputs kept in samples.npz, so that export and bench need no dataset
STATUSES = ("running", "interrupted", "failed", "complete")
_NEW_RUN_TEMPORARY = re.compile(r"^\..+-\d{8}-\d{6}(-\d+)?\.[a-z0-9_]{8}\.tmp$")


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


STALE_AFTER_S = 60.0  # a live writer locks its temporary folder within milliseconds of making it


def abandoned_run_folders(out: Path) -> list[Path]:
    """The temporary folders of new runs whose process was killed before the run appeared
    (``.ARCH-STAMP.XXXXXXXX.tmp``): unlocked and over a minute old, so that no live writer's
    folder, locked a moment after it is made, is ever taken for one."""
    found = []
    for path in atomic.leftovers(out):
        if not _NEW_RUN_TEMPORARY.match(path.name) or not path.is_dir() or path.is_symlink():
            continue
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue
        if age > STALE_AFTER_S and not locks.is_held(locks.run_lock(path)):
            found.append(path)
    return found


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunFolderError(f"Cannot read {str(path)!r}: {exc}") from exc


# What the commands read from a run's JSON files, by key: a hand-edited or damaged file is
# refused naming the file and the key, not met later as a TypeError deep in training.
_INT = (int,)
CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "architecture": (str,),
    "dataset": (str,),
    "data_dir": (str, type(None)),
    "hyperparameters": (dict,),
    "epochs": _INT,
    "batch_size": _INT,
    "seed": _INT,
    "early_stopping": _INT,
    "learning_rate": (int, float),
    "lr_schedule": (str,),
    "strategy": (str,),
    "input_shape": (list,),
}
STATE_TYPES: dict[str, tuple[type, ...]] = {"status": (str,), "epochs_completed": _INT, "epochs": _INT}


def _check_object(
    path: Path, value: Any, types: dict[str, tuple[type, ...]], required: tuple[str, ...]
) -> None:
    """``value`` (read from ``path``) is a JSON object whose known keys have the right types."""
    if not isinstance(value, dict):
        raise RunFolderError(f"{str(path)!r} holds a JSON {type(value).__name__}, not an object")
    for key in required:
        if key not in value:
            raise RunFolderError(f"{str(path)!r} has no {key!r}")
    for key, kinds in types.items():
        item = value.get(key)
        if key in value and (not isinstance(item, kinds) or (int in kinds and isinstance(item, bool))):
            names = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise RunFolderError(f"{str(path)!r}: {key!r} is {json.dumps(item)[:40]}, not {names}")


@dataclass(frozen=True)
class Run:
    """An existing, complete run folder."""

    path: Path
    config: dict[str, Any]

    @classmethod
    def open(cls, path: str | Path) -> Run:
        path = Path(path)
        try:  # a name too long, a folder we may not enter: the user's to fix, not a traceback
            if not path.exists():
                raise RunFolderError(f"Run folder {str(path)!r} does not exist")
            if not path.is_dir():
                raise RunFolderError(f"{str(path)!r} is a file, not a run folder")
            missing = [name for name in REQUIRED if not (path / name).is_file()]
        except OSError as exc:
            raise RunFolderError(f"Cannot read run folder {str(path)!r}: {exc.strerror or exc}") from exc
        if missing:
            raise RunFolderError(f"{str(path)!r} is not a complete run folder: missing {', '.join(missing)}")
        config = _read_json(path / CONFIG_FILE)
        _check_object(path / CONFIG_FILE, config, CONFIG_TYPES, required=("architecture",))
        return cls(path=path, config=config)

    def setting(self, key: str) -> Any:
        """A value of config.json that the command at hand cannot do without."""
        if key not in self.config:
            raise RunFolderError(f"{str(self.path / CONFIG_FILE)!r} has no {key!r}")
        return self.config[key]

    @property
    def architecture(self) -> str:
        return str(self.config["architecture"])

    @property
    def state(self) -> dict[str, Any]:
        """``{"status", "epochs_completed", "epochs"}``; runs from before state.json count as complete.

        A run recorded as ``running`` whose lock no process holds was killed (or its machine
        lost) before it could say so: it reads as ``interrupted``, ``recorded_status`` keeping
        what the file says, and ``zoo train --resume`` goes on with it.
        """
        path = self.path / STATE_FILE
        if not path.is_file():
            epochs = int(self.config.get("epochs", 0))
            return {"status": "complete", "epochs_completed": epochs, "epochs": epochs}
        state = _read_json(path)
        _check_object(path, state, STATE_TYPES, required=("status", "epochs_completed"))
        if state["status"] not in STATUSES or state["epochs_completed"] < 0:
            status, done = state["status"], state["epochs_completed"]
            raise RunFolderError(f"{str(path)!r}: status {status!r}, {done} epochs done: not a run's state")
        running = isinstance(state, dict) and state.get("status") == "running"
        if running and not locks.is_held(locks.run_lock(self.path)):
            return {**state, "status": "interrupted", "recorded_status": "running"}
        return state

    @property
    def history(self) -> dict[str, list[float]]:
        path = self.path / HISTORY_FILE
        history = _read_json(path) if path.is_file() else {}
        if not isinstance(history, dict) or not all(isinstance(v, list) for v in history.values()):
            raise RunFolderError(f"{str(path)!r} is not a JSON object with a list per metric")
        return history

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.path / METRICS_FILE
        metrics = _read_json(path) if path.is_file() else {}
        _check_object(path, metrics, {}, ())
        return metrics

    @property
    def evaluation(self) -> list[dict[str, Any]]:
        """The records of the run's evaluations (empty for runs from before them)."""
        path = self.path / EVALUATION_FILE
        record = _read_json(path) if path.is_file() else {}
        sections = record.get("sections", []) if isinstance(record, dict) else None
        if not isinstance(sections, list) or not all(isinstance(s, dict) for s in sections):
            raise RunFolderError(f"{str(path)!r} is not a JSON object with a list of 'sections'")
        return sections

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The real test inputs (preprocessed as in training) and their labels."""
        path = self.path / SAMPLES_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                missing = [key for key in ("x", "y") if key not in getattr(data, "files", ())]
                if missing:
                    raise RunFolderError(f"{str(path)!r} has no array {missing[0]!r} (inputs x, labels y)")
                x, y = data["x"], data["y"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise RunFolderError(f"Cannot read {str(path)!r}: {type(exc).__name__}: {exc}") from exc
        if x.ndim < 2 or not len(x) or x.dtype.kind not in "fiu":
            raise RunFolderError(f"{str(path)!r} holds no test inputs: 'x' is {x.dtype} of shape {x.shape}")
        return x, y


# What zoo adds to a model.keras archive (Keras ignores it): the architecture the model was
# built as, so that a config.json edited to name another one with the same shapes is caught.
MODEL_RECORD = "zoo.json"


def evaluation_metrics(sections: list[dict[str, Any]]) -> dict[str, Any]:
    """Every evaluation's metrics in one mapping, as metrics.json gets them."""
    return {name: value for section in sections for name, value in (section.get("metrics") or {}).items()}


def save_model(model: keras.Model, run_dir: Path, architecture: str | None = None) -> None:
    """``model.keras`` with the optimizer's state, replaced atomically, recording the
    architecture it was built as (``architecture``, else the one config.json names)."""
    if architecture is None:
        architecture = _configured_architecture(run_dir)
    with atomic.atomic_path(run_dir / MODEL_FILE) as tmp:
        model.save(tmp)
        if architecture:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(MODEL_RECORD, json.dumps({"architecture": architecture}) + "\n")


def _configured_architecture(run_dir: Path) -> str | None:
    try:
        name = json.loads((Path(run_dir) / CONFIG_FILE).read_text(encoding="utf-8")).get("architecture")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return name if isinstance(name, str) else None


def recorded_architecture(model_file: Path) -> str | None:
    """The architecture a ``model.keras`` was saved as, from zoo's record in the archive (no
    TensorFlow, a few bytes read); None for a file zoo saved before it kept one, or not a zip."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            record = json.loads(archive.read(MODEL_RECORD)[:4096])
    except (OSError, KeyError, ValueError, RecursionError, zipfile.BadZipFile, zlib.error):
        return None
    name = record.get("architecture") if isinstance(record, dict) else None
    return name if isinstance(name, str) else None


def write_samples(run_dir: Path, x: np.ndarray, y: np.ndarray) -> None:
    """samples.npz: the first ``SAMPLE_COUNT`` test inputs, preprocessed, and their labels."""
    with atomic.atomic_path(run_dir / SAMPLES_FILE) as tmp:
        np.savez_compressed(tmp, x=x[:SAMPLE_COUNT], y=y[:SAMPLE_COUNT])


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> None:
    """metrics.json: the test metrics and the figures of the training that made them."""
    atomic.write_json(run_dir / METRICS_FILE, metrics)


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


def _has_config(path: Path) -> bool:
    try:
        return (path / CONFIG_FILE).is_file()
    except OSError:
        return True  # cannot tell: say why it was skipped


def find_runs(root: Path, skipped: Callable[[str], None] | None = None) -> list[Run]:
    """The run folders directly under ``root`` (or ``root`` itself), oldest first.

    A run whose files cannot be read (config.json, state.json, metrics.json) is named to
    ``skipped`` and left out, so that one damaged run does not hide the others; folders with
    no config.json are not runs and are passed over in silence. ``root`` itself, if it is a
    run, must be readable.
    """
    try:
        if not root.is_dir():
            raise RunFolderError(f"{str(root)!r} is not a folder")
        single = (root / CONFIG_FILE).is_file()
        candidates = [root] if single else sorted(p for p in root.iterdir() if p.is_dir())
    except OSError as exc:
        raise RunFolderError(f"Cannot read folder {str(root)!r}: {exc.strerror or exc}") from exc
    found = []
    for path in candidates:
        if path.name.startswith("."):
            continue  # a folder still being written, or left by a crash
        try:
            run = Run.open(path)
            run.state, run.metrics  # noqa: B018  (read here, so that a damaged file is named here)
        except RunFolderError as exc:
            if single:
                raise
            if skipped is not None and _has_config(path):
                skipped(f"skipped {str(path)!r}: {exc}")
            continue
        found.append(run)
    return sorted(found, key=lambda r: str(r.config.get("created", "")))
