"""Export a run with an exporter plugin, into a folder that appears only when all checks pass.

Orchestration only: find the output folder and lock it, load the run's model, hand an
``ExportJob`` to the exporter plugin, judge the manifest it returns, write it, rename the folder
into place, and refresh the run's model card. What a file looks like is the exporter's business.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.core.errors import (
    DatasetUnavailable,
    ExportValidationError,
    FolderBusy,
    InvalidOption,
    OutputExists,
    PluginError,
    RunFolderError,
)
from zoo.core.hparams import validate
from zoo.core.registry import Registry, call, owner, resolve
from zoo.core.specs import ArchitectureSpec, ExporterSpec
from zoo.export.job import ExportJob
from zoo.runs import atomic, exports, locks, modelcard, run_folder
from zoo.runs.run_folder import Run
from zoo.runtimes.base import Runtime
from zoo.training import data, models
from zoo.training.keras_env import import_keras
from zoo.training.train import describe_run


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
        if final.exists() and not (final / exports.MANIFEST_FILE).is_file() and any(final.iterdir()):
            raise OutputExists(
                f"Output folder {str(final)!r} is not empty and holds no earlier export "
                f"({exports.MANIFEST_FILE}); choose another --out"
            )
    except OSError as exc:  # a name too long, a folder we may not enter
        raise OutputExists(f"Output {str(final)!r} cannot be used: {exc.strerror or exc}") from exc
    atomic.check_writable_folder(final, "Output")


def parse_stages(spec: ArchitectureSpec, value: str | None) -> list[str] | None:
    """``--parts``: ``all`` (None), or a comma list of ``full`` and part names."""
    if value is None or value == "all":
        return None
    known = [exports.FULL, *spec.parts]
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in wanted if v not in known]
    if unknown or not wanted:
        raise InvalidOption(
            f"--parts {value!r}: {spec.name!r} has {', '.join(known)} (or all)"
            + (f"; not {', '.join(unknown)}" if unknown else "")
        )
    return [s for s in known if s in wanted]


def _dataset_loader(registry: Registry, spec: ArchitectureSpec, run: Run) -> Callable[[], data.Arrays | None]:
    """The run's dataset, loaded once when the exporter first asks; None where it cannot be
    found here. A dataset that is not the run's (a path recorded relative, other classes) is
    refused (``RunFolderError``), never calibrated on."""

    @functools.cache
    def load() -> data.Arrays | None:
        try:
            return data.run_arrays(registry, spec, run, run.config.get("data_dir"))
        except DatasetUnavailable:
            return None

    return load


def _model_and_samples(registry: Registry, run: Run) -> tuple[Any, Any]:
    """The run's model and its samples, checked to belong together."""
    model = models.load_run_model(registry, run)
    samples, _ = run.samples()
    if not models.fits(samples.shape[1:], tuple(model.input_shape[1:])):
        raise RunFolderError(
            f"{str(run.path / run_folder.SAMPLES_FILE)!r} holds inputs of shape {samples.shape[1:]}, but the "
            f"run's model takes {tuple(model.input_shape[1:])}"
        )
    return model, samples


def _check_manifest(exporter: ExporterSpec, manifest: Any) -> None:
    """What an exporter returned is a manifest as ``ExporterSpec`` documents it: a dict whose
    ``files`` each name their ``part`` and ``file``, say whether it ``passed``, and why not."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    wrong = None
    if not isinstance(files, list) or not files:
        wrong = (
            f"returned {type(manifest).__name__} without a 'files' list"
            if files is None
            else "returned no files"
        )
    else:
        for i, entry in enumerate(files):
            if not isinstance(entry, dict):
                wrong = f"files[{i}] is a {type(entry).__name__}, not a dict"
            elif not isinstance(entry.get("part"), str) or not isinstance(entry.get("file"), str):
                wrong = f"files[{i}] does not name its 'part' and 'file'"
            elif not isinstance(entry.get("passed"), bool):
                wrong = f"files[{i}] does not say whether it 'passed' (True or False)"
            if wrong:
                break
    if wrong:
        raise PluginError(
            f"{owner(exporter)}: {exporter.exporter} {wrong}; a manifest is a dict whose 'files' list "
            "holds one {'part': ..., 'file': ..., 'passed': True or False, 'reason': ...} per file"
        )


def _judge(run: Run, manifest: dict[str, Any]) -> None:
    """Every file and the chain of parts passed, or the export fails naming what did not."""
    failed = [f"{f['part']}: {f.get('reason') or 'failed'}" for f in manifest["files"] if not f["passed"]]
    chain = manifest.get("chain")
    if chain and not chain["passed"]:
        failed.append(f"chain {'->'.join(chain['parts'])}: {chain.get('reason') or 'differs'}")
    if failed:
        raise ExportValidationError(f"Export of {str(run.path)!r} failed validation ({', '.join(failed)})")


def export_run(
    registry: Registry,
    run_dir: str | Path,
    out: str | Path | None = None,
    exporter: str = exports.DEFAULT_EXPORTER,
    options: dict[str, Any] | None = None,
    runtimes: Sequence[Runtime] | None = None,
) -> ExportResult:
    """Export the run's full model and each part; ``out`` defaults to ``RUN_DIR/<exporter>``.

    ``runtimes`` (``zoo export --check-runtimes``): once every file has passed, its test set is run
    in each, and the matrix is the manifest's ``runtimes`` (the files, and so their sha256, are
    untouched; a runtime that fails a file fails no export)."""
    options = dict(options or {})
    exporter_spec = registry.exporter(exporter)
    run = Run.open(run_dir)
    spec = registry.architecture(run.architecture)
    if isinstance(options.get("stages"), str):
        options["stages"] = parse_stages(spec, options["stages"])
    final = Path(out) if out is not None else exports.default_folder(run.path, exporter_spec.name, options)
    _check_replaceable(final)
    # The run is read under its lock, shared: refused at once while it trains (a resume would
    # replace the model mid-export), and no resume starts until the export is done.
    with locks.hold_output(final), contextlib.ExitStack() as reading:
        reader = locks.read_run(run.path)
        if reader is not None:
            reading.enter_context(reader)
        atomic.remove(atomic.leftovers(final.parent, final.name))  # what killed exports left
        import_keras()  # before any plugin module imports it, so that its start-up stays quiet
        resolve(exporter_spec.exporter, owner=owner(exporter_spec))  # a missing exporter fails first
        model, samples = _model_and_samples(registry, run)
        untrained = bool(options.get("untrained"))
        source = None if untrained else exports.made_from(run.path, _epochs_completed(run))
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
                manifest = call(exporter_spec, exporter_spec.exporter, job)
            except ExportValidationError as exc:  # raised before the manifest: the same words
                raise ExportValidationError(f"Export of {str(run.path)!r} failed validation ({exc})") from exc
            _check_manifest(exporter_spec, manifest)
            _judge(run, manifest)
            if source is not None:  # what the model card and bench compare the run's model with
                manifest = {**manifest, exports.MADE_FROM: source}
            if runtimes:
                manifest = {**manifest, exports.RUNTIMES: _runtime_matrix(tmp, manifest, runtimes)}
            atomic.write_json(tmp / exports.MANIFEST_FILE, manifest)
    if (
        final == exports.run_export(run.path, exporter_spec.name)
        and (run.path / modelcard.README_FILE).is_file()
    ):
        _refresh_card(run.path)
    return ExportResult(path=final, manifest=manifest)


def _runtime_matrix(folder: Path, manifest: dict[str, Any], runtimes: Sequence[Runtime]) -> dict[str, Any]:
    """The runtime matrix of the files just made, rows naming them as the manifest does."""
    from zoo.runtimes.matrix import check_files

    files = [(folder / str(f["file"]), f.get("part")) for f in manifest["files"]]
    return check_files(files, runtimes, relative_to=folder)


def _epochs_completed(run: Run) -> int | None:
    try:
        return int(run.state.get("epochs_completed"))
    except (RunFolderError, TypeError, ValueError):
        return None


def _refresh_card(run_dir: Path) -> None:
    """The model card gains its export section; written under the run's lock, like every file
    of the run folder (so the temporary files that killed writers left in it can go). A run
    still training is left alone: it rewrites its card as it ends. Other exports reading the
    run (a shared hold) write nothing but their own cards: the card is refreshed, the rest waits."""
    try:
        with locks.hold_run(run_dir):
            atomic.remove([p for p in atomic.leftovers(run_dir) if p.is_file()])  # what killed writers left
            modelcard.write(run_dir)
    except FolderBusy:
        if not locks.is_held(locks.run_lock(run_dir)):  # readers only: no writer to collide with
            modelcard.write(run_dir)


def export_untrained(
    registry: Registry,
    name: str,
    out: str | Path | None = None,
    exporter: str = exports.DEFAULT_EXPORTER,
    options: dict[str, Any] | None = None,
    hyperparameters: dict[str, Any] | None = None,
    runtimes: Sequence[Runtime] | None = None,
) -> ExportResult:
    """Export an architecture as built, untrained, for people who only want the graph; it is
    validated like a trained one, on images from the ``synthetic`` dataset."""
    spec = registry.architecture(name)
    params = validate(spec, hyperparameters or {})  # bad input is refused before Keras starts
    registry.exporter(exporter)
    final = Path(out) if out is not None else Path(f"{spec.name}-untrained-{exporter}")
    _check_replaceable(final)
    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = models.build(spec, params)
    arrays = data.load_arrays(registry, spec, "synthetic", None)
    with tempfile.TemporaryDirectory(prefix="zoo-untrained-") as tmp:
        run_dir = Path(tmp)
        atomic.write_json(
            run_dir / run_folder.CONFIG_FILE,
            {**describe_run(spec, params, "synthetic", arrays), "untrained": True},
        )
        run_folder.write_samples(run_dir, arrays.x_test, arrays.y_test)
        run_folder.save_model(model, run_dir)
        options = {**(options or {}), "untrained": True}
        return export_run(registry, run_dir, out=final, exporter=exporter, options=options, runtimes=runtimes)
