"""Benchmark a whole run: every exported part, the parts chained, and, on request, the run's
Keras model on the same inputs in the same process, so the speed-up is a measured ratio.

Inputs are the run's real test samples, repeated up to each batch size; a later part gets what
the part before it makes of them (through ONNX Runtime).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.file import SCHEMA, measure, peak_rss_mib, session_report, summarize, time_calls
from zoo.bench.sessions import OpenSession, SessionSettings, open_session
from zoo.core.errors import RunFolderError
from zoo.runs.onnx_trust import check_digest
from zoo.runs.run_folder import Run

EXPORT_FOLDER = "onnx"


def _tile(samples: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([samples] * -(-batch // len(samples)))[:batch].astype(np.float32)


def _keras_callables(run: Run, registry: Any) -> tuple[Any, Any]:
    """The run's Keras model as a compiled ``tf.function`` and as ``predict``, both returning
    NumPy arrays as ONNX Runtime does."""
    import tensorflow as tf

    from zoo.core.registry import resolve
    from zoo.training.keras_env import import_keras

    import_keras()
    spec = registry.architecture(run.architecture)
    resolve(spec.builder, owner=f"architecture {spec.name!r}")  # registers custom layers, if any
    model = run.load_model()
    signature = [tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)]
    compiled = tf.function(lambda x: model(x, training=False), input_signature=signature)

    def function(x: np.ndarray) -> np.ndarray:
        return compiled(x).numpy()

    def predict(x: np.ndarray) -> np.ndarray:
        return model.predict(x, batch_size=len(x), verbose=0)

    return function, predict


def bench_run(
    run_dir: str | Path,
    provider: str = "auto",
    batch_sizes: tuple[int, ...] = (1, 32, 256),
    seconds: float = 1.0,
    settings: SessionSettings | None = None,
    against_keras: bool = False,
    registry: Any = None,
    debug: bool = False,
    min_runs: int = 10,
    warmup: int = 3,
) -> dict[str, Any]:
    """Every exported file of ``run_dir`` and their chain at each batch size; JSON-able
    (schema ``zoo-bench/1``, docs/bench-json.md)."""
    run = Run.open(run_dir)
    folder = run.path / EXPORT_FOLDER
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = [(f["part"], folder / f["file"], f["sha256"]) for f in manifest["files"]]
        if not all(isinstance(v, str) for entry in entries for v in (entry[0], entry[2])):
            raise TypeError("a part or sha256 is not a string")
    except FileNotFoundError as exc:
        raise RunFolderError(
            f"{str(run.path)!r} has no readable {EXPORT_FOLDER}/manifest.json: "
            f"run `zoo export {run.path}` first"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise RunFolderError(
            f"{str(manifest_path)!r} is damaged ({type(exc).__name__}): run `zoo export {run.path}` again"
        ) from exc
    for _, path, sha256 in entries:
        if folder.resolve() not in path.resolve().parents:
            raise RunFolderError(f"{str(manifest_path)!r} names {str(path)!r}, outside its folder")
        check_digest(path, sha256, manifest_path)  # the files are the ones exported, before any loads
    parts = [part for part, _, _ in entries if part != "full"]
    sessions: dict[str, OpenSession] = {
        part: open_session(path, provider, debug, settings) for part, path, _ in entries
    }
    samples, _ = run.samples()
    keras_methods = _keras_callables(run, registry) if against_keras else None

    def call(part: str) -> Any:
        session = sessions[part].session
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]

    rows: list[dict[str, Any]] = []

    def record(method: str, fn: Any, x: np.ndarray, batch: int) -> None:
        latencies = time_calls(lambda: fn(x), seconds, min_runs, warmup)
        rows.append(
            {
                "method": method,
                "io": "numpy",
                "cuda_graph": False,
                **asdict(summarize(batch, latencies)),
                "session_create_ms": None,
                "first_run_ms": None,
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "gpu_memory_used_mib": None,
                "gpu_memory_cell_mib": None,
            }
        )

    def record_part(part: str, x: np.ndarray) -> None:
        opened = sessions[part]
        feed = {opened.session.get_inputs()[0].name: x}
        rows.extend(measure(opened, feed, seconds, min_runs, warmup, f"onnxruntime {part}"))

    for batch in batch_sizes:
        images = _tile(samples, batch)
        if "full" in sessions:
            record_part("full", images)
        h = images
        for part in parts:
            record_part(part, h)
            h = call(part)(h)
        if len(parts) > 1:

            def chain(x: np.ndarray) -> np.ndarray:
                for part in parts:
                    x = call(part)(x)
                return x

            record(f"onnxruntime chain {'->'.join(parts)}", chain, images, batch)
        if keras_methods is not None:
            record("keras tf.function", keras_methods[0], images, batch)
            record("keras predict", keras_methods[1], images, batch)
    first = next(iter(sessions.values()))
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "run",
        "run": str(run.path),
        "architecture": run.architecture,
        "export": str(folder),
        **session_report(first),
        "cpu_nodes": _cpu_nodes(sessions),
        "input_data": "the run's test samples, repeated up to the batch size",
        "seconds_per_cell": seconds,
        "isolated": False,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
    }
    if against_keras and "full" in sessions:
        report["speedup_over_keras_tf_function"] = {
            str(batch): _ratio(rows, batch, "keras tf.function", "onnxruntime full") for batch in batch_sizes
        }
    return report


def _cpu_nodes(sessions: dict[str, OpenSession]) -> list[str] | None:
    """The nodes GPU sessions run on the CPU, named ``part: op name``; None on the CPU."""
    if not any(s.on_gpu for s in sessions.values()):
        return None
    return [f"{part}: {node}" for part, s in sessions.items() for node in s.cpu_nodes or []]


def _ratio(rows: list[dict[str, Any]], batch: int, slow: str, fast: str) -> float:
    """p50 of ``slow`` over the fastest p50 of ``fast`` at ``batch`` (any IO mode)."""
    slow_ms = min(r["p50_ms"] for r in rows if r["batch_size"] == batch and r["method"] == slow)
    fast_ms = min(r["p50_ms"] for r in rows if r["batch_size"] == batch and r["method"] == fast)
    return round(slow_ms / fast_ms, 2)
