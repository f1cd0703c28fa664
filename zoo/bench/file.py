"""``zoo bench FILE.onnx``: one file through ONNX Runtime at each batch size.

Sessions come from ``zoo.bench.sessions``, which never lets a GPU run fall back to the CPU
silently. No TensorFlow is imported on this path, so it runs where only ``onnxruntime`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.feeds import DTYPES, check_batch_sizes, input_feed, run_samples
from zoo.bench.measure import measure
from zoo.bench.report import SCHEMA, now, session_report
from zoo.bench.sessions import open_session
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import peak_rss_mib


def bench(model: str | Path, settings: BenchSettings | None = None) -> dict[str, Any]:
    """Benchmark ``model`` at each batch size; the report is JSON-able (schema ``zoo-bench/1``,
    docs/bench-json.md). A file with no inputs, inputs bench cannot fill, or a fixed batch other
    than the sizes asked for is refused in one line (``zoo bench`` measures such a file at its
    fixed batch unless sizes were given)."""
    settings = settings or BenchSettings()
    opened = open_session(model, settings)
    inputs = opened.session.get_inputs()
    check_batch_sizes(inputs, Path(model), settings.batch_sizes)
    samples = run_samples(Path(model))
    rows: list[dict[str, Any]] = []
    real = False
    for batch in settings.batch_sizes:
        feed = input_feed(opened.session, batch, sizes=settings.sizes, samples=samples)
        first = feed[inputs[0].name]
        real = samples is not None and tuple(samples.shape[1:]) == tuple(first.shape[1:])
        rows += measure(opened, feed, settings)
    random = "random in [0, 1)"
    if any(not np.issubdtype(DTYPES[v.type], np.floating) for v in inputs):
        random += ", 0 for integer and boolean inputs"
    return {
        "schema": SCHEMA,
        "kind": "file",
        "model": str(model),
        **session_report(opened),
        "inputs": [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in inputs],
        "input_data": "the run's test samples" if real else random,
        "sizes": dict(settings.sizes),
        "seconds_per_cell": settings.seconds,
        "isolated": False,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "measured": now(),
        "rows": rows,
    }
