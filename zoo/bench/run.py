"""``zoo bench RUN``: every exported part, the parts chained, and, on request, the run's Keras
model on the same inputs in the same process, so the speed-up is a measured ratio.

The speed-up compares like with like: Keras is fed and read through NumPy, so its time includes
the copies from and to host memory, and it is set against ONNX Runtime's row whose IO does the
same (``HOST_IO``: ``device+copies`` on a GPU, never the compute-only ``device`` row). The report
names both rows (``speedup_rows``) and the device Keras ran on (``keras_device``).

Inputs are the run's real test samples, repeated up to each batch size; a later part gets what
the part before it makes of them (through ONNX Runtime): every tensor it takes, by name, from the
outputs of the part before (a U-Net's decoder takes ``code``, ``skip1`` and ``skip2``; the
names are the same on both sides of a link).
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.feeds import tile
from zoo.bench.measure import HOST_IO, measure, row
from zoo.bench.report import SCHEMA, now, session_report
from zoo.bench.sessions import OpenSession, count_nodes, open_session, provider_label
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import peak_rss_mib, time_calls
from zoo.bench.watchdog import Watchdog
from zoo.core.errors import ModelFileError, RunFolderError
from zoo.core.registry import Registry
from zoo.runs import exports
from zoo.runs.onnx_trust import check_digest
from zoo.runs.run_folder import Run
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
    """Every exported file of ``run_dir`` and their chain at each batch size; JSON-able
    (schema ``zoo-bench/1``, docs/bench-json.md). ``against_keras`` needs the ``registry``."""
    settings = settings or BenchSettings()
    run = Run.open(run_dir)
    files = _exported_files(run)
    parts = [part for part, _ in files if part != exports.FULL]
    sessions: dict[str, OpenSession] = {part: open_session(path, settings) for part, path in files}
    samples, _ = run.samples()
    if against_keras and registry is None:
        raise ValueError("against_keras needs the registry the run's architecture is in")
    keras = _keras_callables(run, registry, samples[:1].astype(np.float32)) if against_keras else None

    rows: list[dict[str, Any]] = []
    dog = Watchdog(exports.run_export(run.path), debug=settings.debug)

    def record(method: str, fn: Any, x: np.ndarray, batch: int, onnx: bool = False) -> None:
        call = functools.partial(fn, x)
        timed = dog.watched(call, f"at batch {batch}") if onnx else call
        latencies = time_calls(timed, settings.seconds, settings.min_runs, settings.warmup)
        rows.append(row(method, "numpy", batch, latencies))

    def record_part(part: str, feed: dict[str, np.ndarray]) -> None:
        rows.extend(measure(sessions[part], feed, settings, f"onnxruntime {part}"))

    def images_feed(part: str, images: np.ndarray) -> dict[str, np.ndarray]:
        return {sessions[part].session.get_inputs()[0].name: images}

    def chain(images: np.ndarray) -> np.ndarray:
        tensors = images_feed(parts[0], images)
        for part in parts:
            tensors = _run_part(sessions[part].session, part, tensors, dog.options)
        return next(iter(tensors.values()))

    with dog:
        for batch in settings.batch_sizes:
            images = tile(samples, batch).astype(np.float32)
            if exports.FULL in sessions:
                record_part(exports.FULL, images_feed(exports.FULL, images))
            if parts:
                tensors = images_feed(parts[0], images)
                for part in parts:
                    feed = _part_feed(sessions[part].session, part, tensors)
                    record_part(part, feed)
                    step = functools.partial(_run_part, sessions[part].session, part, tensors, dog.options)
                    tensors = dog.run(step, f"part {part!r} at batch {batch}")
            if len(parts) > 1:
                record(f"onnxruntime chain {'->'.join(parts)}", chain, images, batch, onnx=True)
            if keras is not None:
                record(KERAS_COMPARED, keras[0], images, batch)
                record("keras predict", keras[1], images, batch)
    first = next(iter(sessions.values()))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "run",
        "run": str(run.path),
        "architecture": run.architecture,
        "export": str(exports.run_export(run.path)),
        **session_report(first),
        **_placement(sessions),
        "cpu_nodes": _cpu_nodes(sessions),
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


def _part_feed(session: Any, part: str, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every input ``part`` takes, by name, from ``tensors`` (what the part before handed on)."""
    names = [v.name for v in session.get_inputs()]
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
    outputs = session.run(None, _part_feed(session, part, tensors), options)
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
