"""Measure one session at one feed: the rows of a report, one per way inputs and outputs travel.

With IO binding (zoo's default) the inputs and outputs live in the session's device memory, so
on a GPU one row times the compute alone and a second row adds the copies from and to host
memory; a CUDA graph, captured per input shape, needs a session of its own per batch size.
Every call runs under a ``Watchdog``: one that runs past ``ZOO_RUN_TIMEOUT`` is stopped.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np

from zoo.bench import nvml
from zoo.bench.sessions import OpenSession, first_line
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import peak_rss_mib, summarize, time_calls
from zoo.bench.watchdog import Watchdog, session_run
from zoo.core.errors import ModelFileError, ZooError

# How inputs reach the session and outputs leave it, per row.
IO_MODES = {
    "numpy": "session.run on NumPy arrays (ONNX Runtime copies in and out)",
    "bound": "IO binding in host memory (the CPU provider: nothing to copy)",
    "device": "IO binding in GPU memory: the compute alone",
    "device+copies": "IO binding in GPU memory, with the copies from and to host memory",
}

# The IO modes whose time includes taking the inputs from host NumPy arrays and handing the
# outputs back as such, as a Keras call fed and read through NumPy does: what a speed-up over
# Keras compares (``device`` leaves the copies out).
HOST_IO = ("numpy", "bound", "device+copies")


def io_calls(
    opened: OpenSession, feed: dict[str, np.ndarray], outputs: list[np.ndarray], options: Any = None
) -> dict[str, Any]:
    """The calls to time for ``feed``, by IO mode (see ``IO_MODES``), each passing ``options``
    (``ort.RunOptions``: a watchdog's) to ONNX Runtime.

    ``outputs`` are arrays of the outputs' shapes and dtypes: bound outputs are allocated once,
    at a fixed address, as a CUDA graph requires; on the CPU the results land in these arrays.
    """
    import onnxruntime as ort

    session = opened.session
    if not opened.settings.io_binding:
        return {"numpy": lambda: session.run(None, feed, options)}
    device = "cuda" if opened.on_gpu else "cpu"
    binding = session.io_binding()
    inputs = {name: ort.OrtValue.ortvalue_from_numpy(array, device, 0) for name, array in feed.items()}
    for name, value in inputs.items():
        binding.bind_ortvalue_input(name, value)
    # On the CPU the bound outputs are the arrays given (no copy); on a GPU, buffers like them.
    bound_outputs = [ort.OrtValue.ortvalue_from_numpy(array, device, 0) for array in outputs]
    for meta, value in zip(session.get_outputs(), bound_outputs, strict=True):
        binding.bind_ortvalue_output(meta.name, value)

    def compute() -> None:
        session.run_with_iobinding(binding, options)

    if not opened.on_gpu:
        return {"bound": compute}

    def with_copies() -> list[np.ndarray]:
        for name, value in inputs.items():
            value.update_inplace(feed[name])
        # The copies ran on CUDA's default stream, the session runs on its own non-blocking one:
        # wait for them, or a run (a graph replay) may read an input half updated.
        binding.synchronize_inputs()
        session.run_with_iobinding(binding, options)
        return [value.numpy() for value in bound_outputs]

    return {"device": compute, "device+copies": with_copies}


def row(
    method: str,
    io: str,
    batch: int,
    latencies: list[float],
    *,
    cuda_graph: bool = False,
    session_create_ms: float | None = None,
    first_run_ms: float | None = None,
    gpu_memory_used_mib: float | None = None,
    gpu_memory_cell_mib: float | None = None,
    runtime: str = "onnxruntime",
    precision: str | None = None,
) -> dict[str, Any]:
    """One row of a report (docs/bench-json.md); what is not measured is None."""
    return {
        "method": method,
        "runtime": runtime,
        "precision": precision,
        "io": io,
        "cuda_graph": cuda_graph,
        **asdict(summarize(batch, latencies)),
        "session_create_ms": session_create_ms,
        "first_run_ms": first_run_ms,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "gpu_memory_used_mib": gpu_memory_used_mib,
        "gpu_memory_cell_mib": gpu_memory_cell_mib,
    }


def measure(
    opened: OpenSession, feed: dict[str, np.ndarray], settings: BenchSettings, method: str | None = None
) -> list[dict[str, Any]]:
    """Rows for one feed: a CUDA graph gets a session of its own (it is captured for one shape).

    The first run at this feed's shape is timed apart from the runs measured: ONNX Runtime's
    lazy initialization on a session's first shape, cuDNN's algorithm search at every new one
    (each batch size of a sweep is a new shape). A run ONNX Runtime refuses (a batch size the
    graph does not take) is one line naming the file and the batch size.
    """
    batch = len(next(iter(feed.values())))
    what = f"at batch {batch}"
    with Watchdog(opened.path, debug=settings.debug) as dog:
        start = time.perf_counter()
        try:  # the output shapes, and the first run at this shape
            outputs = session_run(dog, opened.session, feed, what)
        except ZooError:
            raise
        except Exception as exc:
            raise ModelFileError(
                f"ONNX Runtime cannot run {str(opened.path)!r} {what}: {first_line(exc)}"
            ) from exc
        first_ms = (time.perf_counter() - start) * 1e3
        cell = opened.reopen(graph=True) if opened.cuda_graph else opened
        baseline = nvml.used_mib() if opened.on_gpu else None
        rows = []
        for io, unwatched in io_calls(cell, feed, outputs, dog.options).items():
            call = dog.watched(unwatched, what)
            if cell is not opened and not rows:  # a new session: its first run (the graph's capture)
                start = time.perf_counter()
                call()
                first_ms = (time.perf_counter() - start) * 1e3
            latencies = time_calls(call, settings.seconds, settings.min_runs, settings.warmup)
            used = nvml.used_mib() if opened.on_gpu else None
            cell_mib = None if used is None or baseline is None else round(used - baseline, 1)
            rows.append(
                row(
                    method or f"onnxruntime {opened.label}",
                    io,
                    batch,
                    latencies,
                    cuda_graph=cell.cuda_graph,
                    session_create_ms=round(cell.create_ms, 3),
                    first_run_ms=round(first_ms, 3),
                    gpu_memory_used_mib=used,
                    gpu_memory_cell_mib=cell_mib,
                    precision=opened.precision,
                )
            )
    return rows
