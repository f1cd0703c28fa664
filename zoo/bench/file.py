"""``zoo bench FILE.onnx``: one file through ONNX Runtime at each batch size.

Sessions come from ``zoo.bench.sessions``, which never lets a GPU run fall back to the CPU
silently. No TensorFlow is imported on this path, so it runs where only ``onnxruntime`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.bench.feeds import input_feed, run_samples
from zoo.bench.measure import measure
from zoo.bench.report import SCHEMA, now, session_report
from zoo.bench.sessions import open_session
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import peak_rss_mib


def bench(model: str | Path, settings: BenchSettings | None = None) -> dict[str, Any]:
    """Benchmark ``model`` at each batch size; the report is JSON-able (schema ``zoo-bench/1``,
    docs/bench-json.md)."""
    settings = settings or BenchSettings()
    opened = open_session(model, settings)
    samples = run_samples(Path(model))
    rows: list[dict[str, Any]] = []
    real = False
    for batch in settings.batch_sizes:
        feed = input_feed(opened.session, batch, sizes=settings.sizes, samples=samples)
        first = feed[opened.session.get_inputs()[0].name]
        real = samples is not None and tuple(samples.shape[1:]) == tuple(first.shape[1:])
        rows += measure(opened, feed, settings)
    return {
        "schema": SCHEMA,
        "kind": "file",
        "model": str(model),
        **session_report(opened),
        "inputs": [
            {"name": v.name, "shape": list(v.shape), "type": v.type} for v in opened.session.get_inputs()
        ],
        "input_data": "the run's test samples" if real else "random in [0, 1)",
        "sizes": dict(settings.sizes),
        "seconds_per_cell": settings.seconds,
        "isolated": False,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "measured": now(),
        "rows": rows,
    }
