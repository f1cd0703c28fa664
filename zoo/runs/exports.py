"""The export folder's layout: every name in it is spelled here, and only here.

``zoo export RUN`` writes ``RUN/onnx/`` (``RUN/<exporter>[-options]`` in general): one file per
stage (``model.onnx`` for the full model, ``<part>.onnx`` for each part), ``manifest.json``
listing them, and ``test_data/<stage>/`` with each file's test set. The exporter plugin, ``zoo
verify``, ``zoo bench RUN`` and the model card all find the files through these names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zoo.core.errors import ModelFileError, RunFolderError, UnsafeModelFile
from zoo.runs.onnx_trust import outside_reason
from zoo.runs.onnx_trust import sha256_of as sha256

DEFAULT_EXPORTER = "onnx"
MANIFEST_FILE = "manifest.json"
TEST_DATA = "test_data"  # test_data/<stage>/: a file's test set, beside the files
FULL = "full"  # the stage that is the whole model, as opposed to one of its parts
MADE_FROM = "made_from"  # the manifest's record of the model file an export was made from
RUNTIMES = "runtimes"  # the manifest's runtime matrix (zoo export --check-runtimes)
# run_folder.MODEL_FILE, spelled again: importing run_folder would import NumPy with zoo.api
MODEL_FILE = "model.keras"


def stage_file(stage: str, extension: str = ".onnx") -> str:
    """The file a stage is exported to: ``model.onnx`` for the full model, ``<part>.onnx``."""
    return f"model{extension}" if stage == FULL else f"{stage}{extension}"


def stage_test_set(stage: str) -> str:
    """Where, relative to the export folder, a stage's test set lies."""
    return f"{TEST_DATA}/{stage}"


def run_export(run_path: Path, exporter: str = DEFAULT_EXPORTER) -> Path:
    """A run's default export folder (``RUN/onnx``): the one ``zoo bench RUN`` and the model card read."""
    return Path(run_path) / exporter


def default_folder(run_path: Path, exporter: str, options: dict[str, Any]) -> Path:
    """``RUN/onnx``, or ``RUN/onnx-nchw-fp16``, ``RUN/onnx-encoder`` and the like for other
    layouts, precisions and selections of parts, so that one export never replaces another."""
    stages = options.get("stages")
    suffix = [
        "+".join(stages) if stages else None,
        options.get("layout") if options.get("layout") not in (None, "nhwc") else None,
        options.get("dtype") if options.get("dtype") not in (None, "fp32") else None,
        f"int8-{options['quantize']}" if options.get("quantize") else None,
    ]
    return Path(run_path) / "-".join([exporter, *[s for s in suffix if s]])


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the export in ``folder``, checked to be one: a JSON object whose
    ``files`` is a list of objects, each naming a ``file`` inside ``folder``.

    The manifest came with the files, so it may name any path: one outside the folder is
    refused (``UnsafeModelFile``), anything else malformed is a ``ModelFileError`` naming it.
    """
    path = Path(folder) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"Cannot read {str(path)!r}: {exc}") from exc
    entries_ok = isinstance(manifest, dict) and isinstance(manifest.get("files"), list)
    if not entries_ok or not all(isinstance(f, dict) and "file" in f for f in manifest["files"]):
        raise ModelFileError(
            f"{str(path)!r} is not an export manifest: it needs a 'files' list of objects, each with a 'file'"
        )
    for entry in manifest["files"]:
        reason = outside_reason(Path(folder), str(entry["file"]))
        if reason:
            raise UnsafeModelFile(
                f"{str(path)!r} lists {str(entry['file'])!r}, {reason}: zoo reads only files in its folder"
            )
    return manifest


def made_from(run_dir: Path, epochs_completed: int | None) -> dict[str, Any]:
    """What an export records of the run it was made from (``manifest["made_from"]``): the
    model file's sha256, and the epochs it held, for people."""
    return {
        "file": MODEL_FILE,
        "sha256": sha256(Path(run_dir) / MODEL_FILE),
        "epochs_completed": epochs_completed,
    }


def stale_reason(run_dir: Path, export_dir: Path) -> str | None:
    """Why the export in ``export_dir`` no longer shows the run's model (``run_dir/model.keras``
    changed since: a resumed run), or None while it does, or where there is nothing to compare.

    An export made before exports recorded their model (no ``made_from``) is judged by time:
    a model file newer than the manifest is newer than the export."""
    run_dir, export_dir = Path(run_dir), Path(export_dir)
    model = run_dir / MODEL_FILE
    try:
        manifest = json.loads((export_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        record = manifest.get(MADE_FROM) if isinstance(manifest, dict) else None
        if not isinstance(record, dict) or not isinstance(record.get("sha256"), str):
            if model.stat().st_mtime > (export_dir / MANIFEST_FILE).stat().st_mtime:
                return f"{str(model)!r} was saved after this export was made"
            return None
        if sha256(model) == record["sha256"]:
            return None
    except (OSError, ValueError, RecursionError):
        return None  # no export, or no model: nothing that could be stale
    epochs = record.get("epochs_completed")
    made = f" (made after epoch {epochs})" if isinstance(epochs, int) else ""
    return f"{str(model)!r} changed since this export was made{made}"


def require_current(run_dir: Path, export_dir: Path) -> None:
    """``RunFolderError`` if the export in ``export_dir`` is stale (``stale_reason``): for
    whatever sets an export beside the run's Keras model (``zoo bench RUN --against keras``)."""
    reason = stale_reason(run_dir, export_dir)
    if reason:
        raise RunFolderError(
            f"The export {str(export_dir)!r} is stale: {reason}; export again: zoo export {run_dir}"
        )
