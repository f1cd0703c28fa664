"""``zoo bench FILE.onnx``: one file at each batch size, through ONNX Runtime and, on request,
OpenVINO, side by side on the same inputs.

Sessions come from ``zoo.bench.sessions``, which never lets a GPU run fall back to the CPU
silently; OpenVINO's compiled models from ``zoo.bench.openvino_models``, which read back the
precision OpenVINO really computes in. At each batch size one feed is made and every runtime is
timed on those same arrays, one after the other, in the order of ``settings.runtimes``. No
TensorFlow is imported on this path, so it runs where only ``onnxruntime`` is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.feeds import DTYPES, check_batch_sizes, input_feed, run_samples
from zoo.bench.measure import measure
from zoo.bench.openvino_models import measure_openvino, open_openvino, openvino_report
from zoo.bench.report import SCHEMA, now, onnxruntime_report
from zoo.bench.sessions import OpenSession, open_session
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import peak_rss_mib


class _Declared:
    """What ``input_feed`` reads of a session (``get_inputs``), from the file itself, where no
    ONNX Runtime session is opened (``--runtime openvino``)."""

    def __init__(self, inputs: list[Any]) -> None:
        self.inputs = inputs

    def get_inputs(self) -> list[Any]:
        return self.inputs


def bench(model: str | Path, settings: BenchSettings | None = None) -> dict[str, Any]:
    """Benchmark ``model`` at each batch size; the report is JSON-able (schema ``zoo-bench/1``,
    docs/bench-json.md). A file with no inputs, inputs bench cannot fill, or a fixed batch other
    than the sizes asked for is refused in one line (``zoo bench`` measures such a file at its
    fixed batch unless sizes were given)."""
    settings = settings or BenchSettings()
    path = Path(model)
    opened: OpenSession | None = None
    if "onnxruntime" in settings.runtimes:
        opened = open_session(model, settings)
    vinos = []
    if "openvino" in settings.runtimes:
        vinos = [open_openvino(path, precision) for precision in settings.precisions]
    source: Any = opened.session if opened is not None else _Declared(vinos[0].inputs)
    inputs = source.get_inputs()
    check_batch_sizes(inputs, path, settings.batch_sizes)
    samples = run_samples(path)
    rows: list[dict[str, Any]] = []
    real = False
    for batch in settings.batch_sizes:
        feed = input_feed(source, batch, sizes=settings.sizes, samples=samples)
        first = feed[inputs[0].name]
        real = samples is not None and tuple(samples.shape[1:]) == tuple(first.shape[1:])
        for runtime in settings.runtimes:
            if runtime == "onnxruntime" and opened is not None:
                rows += measure(opened, feed, settings)
            for vino in vinos if runtime == "openvino" else []:
                rows += measure_openvino(vino, feed, settings, f"openvino {vino.device.lower()}{vino.suffix}")
    random = "random in [0, 1)"
    if any(not np.issubdtype(DTYPES[v.type], np.floating) for v in inputs):
        random += ", 0 for integer and boolean inputs"
    return {
        "schema": SCHEMA,
        "kind": "file",
        "model": str(model),
        "runtimes": list(settings.runtimes),
        **onnxruntime_report(opened),
        "openvino": openvino_report(vinos, _written_precision(path)) if vinos else None,
        "inputs": [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in inputs],
        "input_data": "the run's test samples" if real else random,
        "sizes": dict(settings.sizes),
        "seconds_per_cell": settings.seconds,
        "isolated": False,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "measured": now(),
        "rows": rows,
    }


def _written_precision(path: Path) -> str:
    from zoo.runtimes.onnxruntime import file_precision

    return file_precision(path)
