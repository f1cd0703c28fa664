"""``zoo bench RUN``: every exported part, the parts chained, and, on request, the run's Keras
model on the same inputs in the same process, so the speed-up is a measured ratio.

The speed-up compares like with like: Keras is fed and read through NumPy, so its time includes
the copies from and to host memory, and it is set against ONNX Runtime's row whose IO does the
same (``HOST_IO``: ``device+copies`` on a GPU, never the compute-only ``device`` row). The report
names both rows (``speedup_rows``) and the device Keras ran on (``keras_device``).

Inputs are the run's real test samples, repeated up to each batch size; a later part gets what
the part before it makes of them (through the first runtime timed): every tensor it takes, by
name, from the outputs of the part before (a U-Net's decoder takes ``code``, ``skip1`` and
``skip2``; the names are the same on both sides of a link). With several runtimes
(``--runtime onnxruntime,openvino``) each is timed on those same arrays, one after the other at
each batch size, in one process.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.feeds import declared_inputs, tile
from zoo.bench.measure import HOST_IO, measure, row
from zoo.bench.openvino_models import OpenVinoModel, measure_openvino, open_openvino, openvino_report
from zoo.bench.report import SCHEMA, now, onnxruntime_report
from zoo.bench.sessions import OpenSession, count_nodes, open_session, provider_label
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import peak_rss_mib, time_calls
from zoo.bench.watchdog import Watchdog
from zoo.core.errors import InvalidOption, ModelFileError, RunFolderError
from zoo.core.registry import Registry
from zoo.runs import exports
from zoo.runs.onnx_trust import check_digest
from zoo.runs.run_folder import Run
from zoo.runtimes.onnxruntime import file_precision
from zoo.training.models import load_run_model

KERAS_COMPARED = "keras tf.function"  # the Keras method ONNX Runtime's speed-up is over


def _keras_callables(run: Run, registry: Registry, sample: np.ndarray) -> tuple[Any, Any, str]:
    """The run's Keras model as a compiled ``tf.function`` and as ``predict``, both fed and
    returning NumPy arrays, and the device TensorFlow runs it on (``GPU:0``, ``CPU:0``: where
    the output of a call on ``sample`` lies)."""
    model = load_run_model(registry, run)
    import tensorflow as tf

    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    compiled = tf.function(lambda x: model(x, training=False), input_signature=signature)

    def function(x: np.ndarray) -> np.ndarray:
        return compiled(x).numpy()

    def predict(x: np.ndarray) -> np.ndarray:
        return model.predict(x, batch_size=len(x), verbose=0)

    device = compiled(sample).device.rsplit("device:", 1)[-1]
    return function, predict, device


def _exported_files(run: Run) -> list[tuple[str, Path]]:
    """(part, file) of the run's export, each checked against the manifest's sha256 before
    anything loads it."""
    folder = exports.run_export(run.path)
    manifest_path = folder / exports.MANIFEST_FILE
    hint = f"run `zoo export {run.path}` first"
    try:
        manifest = exports.read_manifest(folder)
    except FileNotFoundError as exc:
        raise RunFolderError(
            f"{str(run.path)!r} has no readable {folder.name}/{exports.MANIFEST_FILE}: {hint}"
        ) from exc
    entries = [(f.get("part"), folder / str(f["file"]), f.get("sha256")) for f in manifest["files"]]
    if not all(isinstance(part, str) and isinstance(sha256, str) for part, _, sha256 in entries):
        raise RunFolderError(
            f"{str(manifest_path)!r} is damaged (a part or sha256 is not a string): "
            f"run `zoo export {run.path}` again"
        )
    for _, path, sha256 in entries:
        check_digest(path, sha256, manifest_path)  # the files are the ones exported, before any loads
    return [(part, path) for part, path, _ in entries]


def bench_run(
    run_dir: str | Path,
    settings: BenchSettings | None = None,
    against_keras: bool = False,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Every exported file of ``run_dir`` and their chain at each batch size, in each of
    ``settings.runtimes``; JSON-able (schema ``zoo-bench/1``, docs/bench-json.md).
    ``against_keras`` needs the ``registry`` and ONNX Runtime among the runtimes."""
    settings = settings or BenchSettings()
    if against_keras and "onnxruntime" not in settings.runtimes:
        raise InvalidOption("--against keras compares Keras with ONNX Runtime: add onnxruntime to --runtime")
    run = Run.open(run_dir)
    files = _exported_files(run)
    parts = [part for part, _ in files if part != exports.FULL]
    order = [part for part, _ in files if part == exports.FULL] + parts
    sessions: dict[str, OpenSession] = {}
    if "onnxruntime" in settings.runtimes:
        sessions = {part: open_session(path, settings) for part, path in files}
    vinos: dict[str, dict[str, OpenVinoModel]] = {}  # precision asked for -> part -> model
    if "openvino" in settings.runtimes:
        vinos = {p: {part: open_openvino(path, p) for part, path in files} for p in settings.precisions}
    samples, _ = run.samples()
    if against_keras and registry is None:
        raise ValueError("against_keras needs the registry the run's architecture is in")
    keras = _keras_callables(run, registry, samples[:1].astype(np.float32)) if against_keras else None
    declared = {part: declared_inputs(path) or [] for part, path in files}

    rows: list[dict[str, Any]] = []
    dog = Watchdog(exports.run_export(run.path), debug=settings.debug)

    def record(method: str, fn: Any, x: np.ndarray, batch: int, runtime: str, precision: str | None) -> None:
        call = functools.partial(fn, x)
        timed = dog.watched(call, f"at batch {batch}") if runtime == "onnxruntime" else call
        latencies = time_calls(timed, settings.seconds, settings.min_runs, settings.warmup)
        rows.append(row(method, "numpy", batch, latencies, runtime=runtime, precision=precision))

    def images_feed(part: str, images: np.ndarray) -> dict[str, np.ndarray]:
        return {declared[part][0].name: images}

    def step(part: str, tensors: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
        """What ``part`` hands on, in the first runtime timed: every runtime's parts are then
        fed those same arrays."""
        if sessions:
            call = functools.partial(_run_part, sessions[part].session, part, tensors, dog.options)
            return dog.run(call, f"part {part!r} at batch {batch}")
        model = next(iter(vinos.values()))[part]
        return model.run(_part_feed(declared[part], part, tensors), f"part {part!r} at batch {batch}")

    def ort_chain(images: np.ndarray) -> np.ndarray:
        tensors = images_feed(parts[0], images)
        for part in parts:
            tensors = _run_part(sessions[part].session, part, tensors, dog.options)
        return next(iter(tensors.values()))

    def vino_chain(models: dict[str, OpenVinoModel], images: np.ndarray) -> np.ndarray:
        tensors = images_feed(parts[0], images)
        for part in parts:
            tensors = models[part].run(_part_feed(declared[part], part, tensors), "in the chain")
        return next(iter(tensors.values()))

    chained = "->".join(parts)
    with dog:
        for batch in settings.batch_sizes:
            images = tile(samples, batch).astype(np.float32)
            feeds = {}
            if exports.FULL in declared:
                feeds[exports.FULL] = images_feed(exports.FULL, images)
            if parts:
                tensors = images_feed(parts[0], images)
                for part in parts:
                    feeds[part] = _part_feed(declared[part], part, tensors)
                    tensors = step(part, tensors, batch)
            for runtime in settings.runtimes:
                if runtime == "onnxruntime":
                    for part in order:
                        rows.extend(measure(sessions[part], feeds[part], settings, f"onnxruntime {part}"))
                    if len(parts) > 1:
                        precision = sessions[parts[0]].precision
                        record(f"onnxruntime chain {chained}", ort_chain, images, batch, runtime, precision)
                    continue
                for models in vinos.values():
                    for part in order:
                        model = models[part]
                        method = f"openvino {part}{model.suffix}"
                        rows.extend(measure_openvino(model, feeds[part], settings, method))
                    if len(parts) > 1:
                        first = models[parts[0]]
                        chain = functools.partial(vino_chain, models)
                        method = f"openvino chain {chained}{first.suffix}"
                        record(method, chain, images, batch, runtime, first.precision)
            if keras is not None:
                record(KERAS_COMPARED, keras[0], images, batch, "keras", None)
                record("keras predict", keras[1], images, batch, "keras", None)
    written = file_precision(files[0][1]) if vinos else ""
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "run",
        "run": str(run.path),
        "architecture": run.architecture,
        "export": str(exports.run_export(run.path)),
        "runtimes": list(settings.runtimes),
        **onnxruntime_report(next(iter(sessions.values()), None)),
        **(_placement(sessions) if sessions else {}),
        "cpu_nodes": _cpu_nodes(sessions) if sessions else None,
        "openvino": openvino_report([m for ms in vinos.values() for m in ms.values()], written),
        "input_data": "the run's test samples, repeated up to the batch size",
        "seconds_per_cell": settings.seconds,
        "isolated": False,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "measured": now(),
        "rows": rows,
    }
    if keras is not None:
        report["keras_device"] = keras[2]
        if exports.FULL in sessions:
            report.update(speedup(rows, settings.batch_sizes, KERAS_COMPARED, f"onnxruntime {exports.FULL}"))
    return report


def _part_feed(inputs: Any, part: str, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every input ``part`` takes, by name, from ``tensors`` (what the part before handed on);
    ``inputs``: the part's inputs (a session's ``get_inputs()``, or as the file declares them)."""
    names = [v.name for v in inputs]
    missing = [n for n in names if n not in tensors]
    if missing:
        raise ModelFileError(
            f"part {part!r} takes {', '.join(missing)}, which the part before it does not hand on "
            f"(it hands on {', '.join(tensors)}): export the run again"
        )
    return {n: tensors[n] for n in names}


def _run_part(
    session: Any, part: str, tensors: dict[str, np.ndarray], options: Any = None
) -> dict[str, np.ndarray]:
    """Every output of ``part``, by name, for the tensors the part before handed on (``options``:
    a watchdog's ``ort.RunOptions``)."""
    outputs = session.run(None, _part_feed(session.get_inputs(), part, tensors), options)
    return {v.name: o for v, o in zip(session.get_outputs(), outputs, strict=True)}


def _placement(sessions: dict[str, OpenSession]) -> dict[str, Any]:
    """``provider``, the providers that run any file's nodes (``tensorrt+cuda`` if TensorRT took
    only part of one), and ``nodes_per_provider`` summed over the files profiled."""
    used = {p for s in sessions.values() for p in s.label.split("+")}
    counted = [Counter(s.nodes_per_provider) for s in sessions.values() if s.nodes_per_provider is not None]
    return {
        "provider": provider_label({p: p for p in used}, next(iter(sessions.values())).provider),
        "nodes_per_provider": count_nodes(sum(counted, Counter()).elements()) if counted else None,
    }


def _cpu_nodes(sessions: dict[str, OpenSession]) -> list[str] | None:
    """The nodes GPU sessions run on the CPU, named ``part: op name``; None on the CPU."""
    if not any(s.on_gpu for s in sessions.values()):
        return None
    return [f"{part}: {node}" for part, s in sessions.items() for node in s.cpu_nodes or []]


def compared_row(rows: list[dict[str, Any]], batch: int, method: str) -> dict[str, Any]:
    """The one row of ``method`` at ``batch`` whose IO takes host NumPy in and out (``HOST_IO``)."""
    found = [r for r in rows if r["batch_size"] == batch and r["method"] == method and r["io"] in HOST_IO]
    if len(found) != 1:
        raise ValueError(f"{len(found)} rows of {method!r} at batch {batch} with host IO, not one")
    return found[0]


def speedup(rows: list[dict[str, Any]], batches: tuple[int, ...], slow: str, fast: str) -> dict[str, Any]:
    """``speedup_over_keras_tf_function`` (per batch size: p50 of ``slow`` over p50 of ``fast``,
    both rows with host IO) and ``speedup_rows`` (the two rows compared)."""
    ratios, compared = {}, {}
    for batch in batches:
        slow_row, fast_row = compared_row(rows, batch, slow), compared_row(rows, batch, fast)
        ratios[str(batch)] = round(slow_row["p50_ms"] / fast_row["p50_ms"], 2)
        compared = {
            "keras": {"method": slow, "io": slow_row["io"]},
            "onnxruntime": {"method": fast, "io": fast_row["io"]},
        }
    return {"speedup_over_keras_tf_function": ratios, "speedup_rows": compared}
