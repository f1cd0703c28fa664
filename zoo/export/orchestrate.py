"""Export a run with an exporter plugin, into a folder that appears only when all checks pass."""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.core.errors import (
    DatasetUnavailable,
    ExportValidationError,
    FolderBusy,
    InvalidOption,
    OutputExists,
    RunFolderError,
)
from zoo.core.registry import Registry, resolve
from zoo.core.specs import ArchitectureSpec
from zoo.runs import atomic, locks, modelcard
from zoo.runs.run_folder import MODEL_FILE, SAMPLES_FILE, Run
from zoo.training import data, models
from zoo.training.keras_env import import_keras

if TYPE_CHECKING:
    import keras

MANIFEST_FILE = "manifest.json"


@dataclass
class ExportJob:
    """Everything an exporter needs; it writes its files into ``out_dir`` (a temporary folder).

    ``parts`` are in the architecture's order: applied one after the other they equal ``model``.
    ``samples`` are real test inputs, preprocessed as in training, for validation.
    ``options``: ``opset``, ``stages`` (which of "full" and the parts to write; None: all),
    ``layout``, ``dtype``, ``quantize``, ``untrained``, as the exporter understands them.
    ``load_data()`` gives the run's dataset (for calibration and accuracy checks), or None when
    it cannot be loaded here.
    """

    run: Run
    spec: ArchitectureSpec
    model: keras.Model
    parts: dict[str, keras.Model]
    samples: np.ndarray
    out_dir: Path
    options: dict[str, Any] = field(default_factory=dict)
    load_data: Callable[[], data.Arrays | None] = lambda: None


@dataclass
class ExportResult:
    path: Path
    manifest: dict[str, Any]


def _check_replaceable(final: Path) -> None:
    """An export replaces an earlier export at ``final``, never an unrelated file or folder;
    and ``final`` must be a place we can write (checked before Keras starts)."""
    try:
        if final.exists() and not final.is_dir():
            raise OutputExists(f"Output {str(final)!r} is a file, not a folder")
        if final.exists() and not (final / MANIFEST_FILE).is_file() and any(final.iterdir()):
            raise OutputExists(
                f"Output folder {str(final)!r} is not empty and holds no earlier export "
                f"({MANIFEST_FILE}); choose another --out"
            )
    except OSError as exc:  # a name too long, a folder we may not enter
        raise OutputExists(f"Output {str(final)!r} cannot be used: {exc.strerror or exc}") from exc
    atomic.check_writable_folder(final, "Output")


def parse_stages(spec: ArchitectureSpec, value: str | None) -> list[str] | None:
    """``--parts``: ``all`` (None), or a comma list of ``full`` and part names."""
    if value is None or value == "all":
        return None
    known = ["full", *spec.parts]
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in known]
    if unknown or not wanted:
        raise InvalidOption(
            f"--parts {value!r}: {spec.name!r} has {', '.join(known)} (or all)"
            + (f"; not {', '.join(unknown)}" if unknown else "")
        )
    return [s for s in known if s in wanted]


def default_out(run_path: Path, exporter: str, options: dict[str, Any]) -> Path:
    """``RUN/onnx``, or ``RUN/onnx-nchw-fp16``, ``RUN/onnx-encoder`` and the like for other
    layouts, precisions and selections of parts, so that one export never replaces another."""
    stages = options.get("stages")
    suffix = [
        "+".join(stages) if stages else None,
        options.get("layout") if options.get("layout") not in (None, "nhwc") else None,
        options.get("dtype") if options.get("dtype") not in (None, "fp32") else None,
        f"int8-{options['quantize']}" if options.get("quantize") else None,
    ]
    return run_path / "-".join([exporter, *[s for s in suffix if s]])


def _dataset_loader(registry: Registry, spec: ArchitectureSpec, run: Run) -> Callable[[], data.Arrays | None]:
    @functools.cache
    def load() -> data.Arrays | None:
        from zoo.training.train import load_arrays

        try:
            return load_arrays(registry, spec, str(run.config["dataset"]), run.config.get("data_dir"))
        except (DatasetUnavailable, KeyError):
            return None

    return load


def export_run(
    registry: Registry,
    run_dir: str | Path,
    out: str | Path | None = None,
    exporter: str = "onnx",
    options: dict[str, Any] | None = None,
) -> ExportResult:
    """Export the run's full model and each part; ``out`` defaults to ``RUN_DIR/<exporter>``."""
    options = dict(options or {})
    exporter_spec = registry.exporter(exporter)
    run = Run.open(run_dir)
    spec = registry.architecture(run.architecture)
    if isinstance(options.get("stages"), str):
        options["stages"] = parse_stages(spec, options["stages"])
    final = Path(out) if out is not None else default_out(run.path, exporter_spec.name, options)
    _check_replaceable(final)
    with locks.hold_output(final):  # a second export to the same folder is refused at once
        atomic.remove(atomic.leftovers(final.parent, final.name))  # what killed exports left
        import_keras()  # before any plugin module imports it, so that its start-up stays quiet
        export_fn = resolve(exporter_spec.exporter, owner=f"exporter {exporter_spec.name!r}")
        resolve(spec.builder, owner=f"architecture {spec.name!r}")  # registers custom layers, if any
        model = run.load_model()
        models.check_loaded(spec, model, run.path / MODEL_FILE)
        samples, _ = run.samples()
        if not models.fits(samples.shape[1:], tuple(model.input_shape[1:])):
            raise RunFolderError(
                f"{str(run.path / SAMPLES_FILE)!r} holds inputs of shape {samples.shape[1:]}, but the "
                f"run's model takes {tuple(model.input_shape[1:])}"
            )
        with atomic.atomic_dir(final) as tmp:
            job = ExportJob(
                run=run,
                spec=spec,
                model=model,
                parts=models.parts(spec, model),
                samples=samples,
                out_dir=tmp,
                options=options,
                load_data=_dataset_loader(registry, spec, run),
            )
            try:
                manifest = export_fn(job)
            except ExportValidationError as exc:  # raised before the manifest: the same words
                raise ExportValidationError(f"Export of {str(run.path)!r} failed validation ({exc})") from exc
            failed = [f"{f['part']}: {f['reason']}" for f in manifest["files"] if not f["passed"]]
            chain = manifest.get("chain")
            if chain and not chain["passed"]:
                failed.append(f"chain {'->'.join(chain['parts'])}: {chain.get('reason') or 'differs'}")
            if failed:
                details = ", ".join(failed)
                raise ExportValidationError(f"Export of {str(run.path)!r} failed validation ({details})")
            atomic.write_json(tmp / MANIFEST_FILE, manifest)
    if final == run.path / exporter_spec.name and (run.path / modelcard.README_FILE).is_file():
        _refresh_card(run.path)
    return ExportResult(path=final, manifest=manifest)


def _refresh_card(run_dir: Path) -> None:
    """The model card gains its export section; written under the run's lock, like every file
    of the run folder (so the temporary files that killed writers left in it can go). A run
    still training is left alone: it rewrites its card as it ends."""
    with contextlib.suppress(FolderBusy), locks.hold_run(run_dir):
        atomic.remove([p for p in atomic.leftovers(run_dir) if p.is_file()])  # what killed writers left
        modelcard.write(run_dir)


def export_untrained(
    registry: Registry,
    name: str,
    out: str | Path | None = None,
    exporter: str = "onnx",
    options: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
) -> ExportResult:
    """Export an architecture as built, untrained, for people who only want the graph; it is
    validated like a trained one, on images from the ``synthetic`` dataset."""
    from zoo.core.hparams import validate
    from zoo.runs import run_folder
    from zoo.training.train import SAMPLE_COUNT, load_arrays

    spec = registry.architecture(name)
    validate(spec, hyperparameters or {})  # bad input is refused before Keras starts
    registry.exporter(exporter)
    final = Path(out) if out is not None else Path(f"{spec.name}-untrained-{exporter}")
    _check_replaceable(final)
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = models.build(spec, hyperparameters or {})
    arrays = load_arrays(registry, spec, "synthetic", None)
    with tempfile.TemporaryDirectory(prefix="zoo-untrained-") as tmp:
        run_dir = Path(tmp)
        config = {
            "architecture": spec.name,
            "plugin": spec.plugin,
            "task": spec.task,
            "family": spec.family,
            "input_shape": list(spec.input_shape),
            "parts": list(spec.parts),
            "hyperparameters": validate(spec, hyperparameters or {}),
            "dataset": "synthetic",
            "preprocessing": ["scaled to [0, 1]", *arrays.notes],
            "untrained": True,
        }
        atomic.write_json(run_dir / run_folder.CONFIG_FILE, config)
        np.savez_compressed(
            run_dir / run_folder.SAMPLES_FILE, x=arrays.x_test[:SAMPLE_COUNT], y=arrays.y_test[:SAMPLE_COUNT]
        )
        run_folder.save_model(model, run_dir)
        options = {**(options or {}), "untrained": True}
        return export_run(registry, run_dir, out=final, exporter=exporter, options=options)
