"""Export a run with an exporter plugin, into a folder that appears only when all checks pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo import atomic, modelcard, models
from zoo.errors import ExportValidationError, OutputExists
from zoo.keras_env import import_keras
from zoo.registry import Registry, resolve
from zoo.runs import Run
from zoo.specs import ArchitectureSpec

if TYPE_CHECKING:
    import keras

MANIFEST_FILE = "manifest.json"


@dataclass
class ExportJob:
    """Everything an exporter needs; it writes its files into ``out_dir`` (a temporary folder).

    ``parts`` are in the architecture's order: applied one after the other they equal ``model``.
    ``samples`` are real test inputs, preprocessed as in training, for validation.
    """

    run: Run
    spec: ArchitectureSpec
    model: keras.Model
    parts: dict[str, keras.Model]
    samples: np.ndarray
    out_dir: Path
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportResult:
    path: Path
    manifest: dict[str, Any]


def _check_replaceable(final: Path) -> None:
    """An export replaces an earlier export at ``final``, never an unrelated file or folder."""
    if not final.exists():
        return
    if not final.is_dir():
        raise OutputExists(f"Output {str(final)!r} is a file, not a folder")
    if not (final / MANIFEST_FILE).is_file() and any(final.iterdir()):
        raise OutputExists(
            f"Output folder {str(final)!r} is not empty and holds no earlier export "
            f"({MANIFEST_FILE}); choose another --out"
        )


def export_run(
    registry: Registry,
    run_dir: str | Path,
    out: str | Path | None = None,
    exporter: str = "onnx",
    options: dict[str, Any] | None = None,
) -> ExportResult:
    """Export the run's full model and each part; ``out`` defaults to ``RUN_DIR/<exporter>``."""
    exporter_spec = registry.exporter(exporter)
    run = Run.open(run_dir)
    spec = registry.architecture(run.architecture)
    final = Path(out) if out is not None else run.path / exporter_spec.name
    _check_replaceable(final)
    import_keras()  # before any plugin module imports it, so that its start-up stays quiet
    export_fn = resolve(exporter_spec.exporter, owner=f"exporter {exporter_spec.name!r}")
    resolve(spec.builder, owner=f"architecture {spec.name!r}")  # registers custom layers, if any
    model = run.load_model()
    samples, _ = run.samples()
    with atomic.atomic_dir(final) as tmp:
        job = ExportJob(
            run=run,
            spec=spec,
            model=model,
            parts=models.parts(spec, model),
            samples=samples,
            out_dir=tmp,
            options=dict(options or {}),
        )
        manifest = export_fn(job)
        failed = [f"{f['part']}: {f['reason']}" for f in manifest["files"] if not f["passed"]]
        chain = manifest.get("chain")
        if chain and not chain["passed"]:
            failed.append(
                f"chain {'->'.join(chain['parts'])}: max abs difference {chain['max_abs_diff']:.3g}"
            )
        if failed:
            details = ", ".join(failed)
            raise ExportValidationError(f"Export of {str(run.path)!r} failed validation ({details})")
        atomic.write_json(tmp / MANIFEST_FILE, manifest)
    if final == run.path / exporter_spec.name and (run.path / modelcard.README_FILE).is_file():
        modelcard.write(run.path)  # the model card gains its export section
    return ExportResult(path=final, manifest=manifest)
