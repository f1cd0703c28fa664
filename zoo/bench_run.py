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

from zoo.bench import SessionSettings, machine, open_session, peak_rss_mib, summarize, time_calls
from zoo.errors import RunFolderError
from zoo.runs import Run

EXPORT_FOLDER = "onnx"


def _tile(samples: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([samples] * -(-batch // len(samples)))[:batch].astype(np.float32)


def _keras_callables(run: Run, registry: Any) -> tuple[Any, Any]:
    """The run's Keras model as a compiled ``tf.function`` and as ``predict``, both returning
    NumPy arrays as ONNX Runtime does."""
    import tensorflow as tf

    from zoo.keras_env import import_keras
    from zoo.registry import resolve

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
    """Every exported file of ``run_dir`` and their chain at each batch size; JSON-able."""
    import onnxruntime as ort

    run = Run.open(run_dir)
    folder = run.path / EXPORT_FOLDER
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(
            f"{str(run.path)!r} has no readable {EXPORT_FOLDER}/manifest.json: "
            f"run `zoo export {run.path}` first"
        ) from exc
    parts = [f["part"] for f in manifest["files"] if f["part"] != "full"]
    sessions, fallback = {}, None
    for entry in manifest["files"]:
        sessions[entry["part"]], fallback = open_session(folder / entry["file"], provider, debug, settings)
    used = next(iter(sessions.values())).get_providers()[0]
    samples, _ = run.samples()
    keras_methods = _keras_callables(run, registry) if against_keras else None

    def call(part: str) -> Any:
        session = sessions[part]
        name = session.get_inputs()[0].name
        return lambda x: session.run(None, {name: x})[0]

    rows: list[dict[str, Any]] = []

    def record(method: str, fn: Any, x: np.ndarray, batch: int) -> None:
        latencies = time_calls(lambda: fn(x), seconds, min_runs, warmup)
        rows.append({"method": method, **asdict(summarize(batch, latencies))})

    for batch in batch_sizes:
        images = _tile(samples, batch)
        if "full" in sessions:
            record("onnxruntime full", call("full"), images, batch)
        h = images
        for part in parts:
            record(f"onnxruntime {part}", call(part), h, batch)
            h = call(part)(h)
        if len(parts) > 1 and all(p in sessions for p in parts):

            def chain(x: np.ndarray) -> np.ndarray:
                for part in parts:
                    x = call(part)(x)
                return x

            record(f"onnxruntime chain {'->'.join(parts)}", chain, images, batch)
        if keras_methods is not None:
            record("keras tf.function", keras_methods[0], images, batch)
            record("keras predict", keras_methods[1], images, batch)
    report: dict[str, Any] = {
        "run": str(run.path),
        "architecture": run.architecture,
        "export": str(folder),
        "provider": {"CUDAExecutionProvider": "cuda", "CPUExecutionProvider": "cpu"}.get(used, used),
        "requested": provider,
        "fallback": fallback,
        "onnxruntime": ort.__version__,
        "machine": machine(),
        "session_options": asdict(settings or SessionSettings()),
        "input_data": "the run's test samples, repeated up to the batch size",
        "seconds_per_cell": seconds,
        "rows": rows,
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if against_keras and "full" in sessions:
        report["speedup_over_keras_tf_function"] = {
            str(batch): _ratio(rows, batch, "keras tf.function", "onnxruntime full") for batch in batch_sizes
        }
    report["peak_rss_mib"] = round(peak_rss_mib(), 1)
    return report


def _ratio(rows: list[dict[str, Any]], batch: int, slow: str, fast: str) -> float:
    """p50 of ``slow`` over p50 of ``fast`` at ``batch``."""
    pick = {r["method"]: r["p50_ms"] for r in rows if r["batch_size"] == batch}
    return round(pick[slow] / pick[fast], 2)
