"""Inference benchmarks of an ONNX file through ONNX Runtime.

Every batch size is warmed up, then run for a time budget (with a minimum count). With IO
binding (zoo's default) the inputs and outputs live in the session's device memory, so on a GPU
one row times the compute alone and a second row adds the copies from and to host memory; a
CUDA graph, captured per input shape, needs a session per batch size. Sessions come from
``zoo.bench.sessions``, which never lets a GPU run fall back to the CPU silently. No TensorFlow is
imported on this path.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench import nvml
from zoo.bench.machine import machine
from zoo.bench.sessions import OpenSession, SessionSettings, open_session
from zoo.core.errors import InvalidOption, ModelFileError

SCHEMA = "zoo-bench/1"
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}
# How inputs reach the session and outputs leave it, per row.
IO_MODES = {
    "numpy": "session.run on NumPy arrays (ONNX Runtime copies in and out)",
    "bound": "IO binding in host memory (the CPU provider: nothing to copy)",
    "device": "IO binding in GPU memory: the compute alone",
    "device+copies": "IO binding in GPU memory, with the copies from and to host memory",
}


@dataclass(frozen=True)
class Timing:
    """Latency statistics of one batch size."""

    batch_size: int
    runs: int
    mean_ms: float
    std_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    samples_per_s: float


def summarize(batch_size: int, latencies_s: list[float] | np.ndarray) -> Timing:
    """Percentiles (linear interpolation) and throughput from per-run latencies in seconds."""
    lat = np.asarray(latencies_s, dtype=np.float64)
    if lat.size == 0 or np.any(lat <= 0):
        raise ValueError("latencies must be a non-empty list of positive durations")
    p50, p90, p99 = np.percentile(lat, [50, 90, 99]) * 1e3
    return Timing(
        batch_size=batch_size,
        runs=int(lat.size),
        mean_ms=float(lat.mean() * 1e3),
        std_ms=float(lat.std() * 1e3),
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        samples_per_s=float(batch_size * lat.size / lat.sum()),
    )


def input_feed(
    session: Any,
    batch_size: int,
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    samples: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Inputs for every model input, the batch axis set to ``batch_size``.

    Named free axes (``height``, ``width``) take their value from ``sizes``. ``samples``, real
    test inputs of the right shape, are repeated up to the batch size; otherwise the inputs are
    random in [0, 1).
    """
    rng = np.random.default_rng(seed)
    sizes = sizes or {}
    feed = {}
    for value in session.get_inputs():
        dims = list(value.shape)
        if not dims:
            raise ModelFileError(f"Input {value.name!r} is a scalar; zoo bench needs a batch axis")
        fixed = [d if isinstance(d, int) and d > 0 else sizes.get(str(d)) for d in dims[1:]]
        if None in fixed:
            free = [str(d) for d in dims[1:] if not (isinstance(d, int) and d > 0)]
            options = [f"--{n} N" if n in ("height", "width") else f"--axis {n}=N" for n in free]
            raise ModelFileError(
                f"Input {value.name!r} has shape {dims}: give its free axes a size ({', '.join(options)})"
            )
        dtype = _DTYPES.get(value.type)
        if dtype is None:
            raise ModelFileError(f"Input {value.name!r} has type {value.type}, which bench cannot fill")
        shape = (batch_size, *fixed)
        _check_fits_in_memory(shape, dtype, value.name)
        if samples is not None and tuple(samples.shape[1:]) == tuple(fixed) and len(feed) == 0:
            repeats = -(-batch_size // len(samples))
            feed[value.name] = np.concatenate([samples] * repeats)[:batch_size].astype(dtype)
        else:
            feed[value.name] = rng.random(shape).astype(dtype)
    return feed


def _check_fits_in_memory(shape: tuple[int, ...], dtype: Any, name: str) -> None:
    """Refuse a batch whose input alone would take half the free memory (outputs and
    activations need more), in one line rather than an allocation failure."""
    need = float(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > free / 2:
        raise InvalidOption(
            f"batch size {shape[0]:,} needs {need / 2**30:.1f} GiB for input {name!r} alone; "
            f"this machine has {free / 2**30:.1f} GiB free: choose smaller --batch-sizes"
        )


def run_samples(model: Path) -> np.ndarray | None:
    """The run's real test inputs when ``model`` lies in a run's export folder
    (``RUN/onnx*/file.onnx``, ``samples.npz`` in RUN), else None."""
    candidate = model.resolve().parent.parent / "samples.npz"
    if not candidate.is_file():
        return None
    try:
        with np.load(candidate, allow_pickle=False) as data:
            return np.asarray(data["x"], dtype=np.float32)
    except (OSError, ValueError, KeyError):
        return None


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def time_calls(fn: Callable[[], Any], seconds: float, min_runs: int, warmup: int) -> list[float]:
    """Call ``fn`` ``warmup`` times, then until ``seconds`` have passed and ``min_runs`` were made;
    the latencies in seconds."""
    for _ in range(warmup):
        fn()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(latencies) < min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - start)
    return latencies


def io_calls(opened: OpenSession, feed: dict[str, np.ndarray], outputs: list[np.ndarray]) -> dict[str, Any]:
    """The calls to time for ``feed``, by IO mode (see ``IO_MODES``).

    ``outputs`` are arrays of the outputs' shapes and dtypes: bound outputs are allocated once,
    at a fixed address, as a CUDA graph requires; on the CPU the results land in these arrays.
    """
    import onnxruntime as ort

    session = opened.session
    if not opened.settings.io_binding:
        return {"numpy": lambda: session.run(None, feed)}
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
        session.run_with_iobinding(binding)

    if not opened.on_gpu:
        return {"bound": compute}

    def with_copies() -> list[np.ndarray]:
        for name, value in inputs.items():
            value.update_inplace(feed[name])
        # The copies ran on CUDA's default stream, the session runs on its own non-blocking one:
        # wait for them, or a run (a graph replay) may read an input half updated.
        binding.synchronize_inputs()
        session.run_with_iobinding(binding)
        return [value.numpy() for value in bound_outputs]

    return {"device": compute, "device+copies": with_copies}


def measure(
    opened: OpenSession,
    feed: dict[str, np.ndarray],
    seconds: float,
    min_runs: int = 10,
    warmup: int = 3,
    method: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for one feed: a CUDA graph gets a session of its own (it is captured for one shape).

    The first run at this feed's shape is timed apart from the runs measured: ONNX Runtime's
    lazy initialization on a session's first shape, cuDNN's algorithm search at every new one
    (each batch size of a sweep is a new shape).
    """
    batch = len(next(iter(feed.values())))
    start = time.perf_counter()
    outputs = opened.session.run(None, feed)  # the output shapes, and the first run at this shape
    first_ms = (time.perf_counter() - start) * 1e3
    cell = opened.reopen(graph=True) if opened.cuda_graph else opened
    baseline = nvml.used_mib() if opened.on_gpu else None
    rows = []
    for io, call in io_calls(cell, feed, outputs).items():
        if cell is not opened and not rows:  # a new session: its first run (the graph's capture)
            start = time.perf_counter()
            call()
            first_ms = (time.perf_counter() - start) * 1e3
        timing = summarize(batch, time_calls(call, seconds, min_runs, warmup))
        used = nvml.used_mib() if opened.on_gpu else None
        rows.append(
            {
                "method": method or f"onnxruntime {opened.provider}",
                "io": io,
                "cuda_graph": cell.cuda_graph,
                **asdict(timing),
                "session_create_ms": round(cell.create_ms, 3),
                "first_run_ms": round(first_ms, 3),
                "peak_rss_mib": round(peak_rss_mib(), 1),
                "gpu_memory_used_mib": used,
                "gpu_memory_cell_mib": None
                if used is None or baseline is None
                else round(used - baseline, 1),
            }
        )
    return rows


def session_report(opened: OpenSession) -> dict[str, Any]:
    """What every report says about the session: provider asked for and really used, why not
    the GPU, the nodes a GPU session runs on the CPU, the settings."""
    import onnxruntime as ort

    return {
        "provider": opened.provider,
        "requested": opened.requested,
        "execution_providers": opened.session.get_providers(),
        "fallback": opened.fallback,
        "cpu_nodes": opened.cpu_nodes,
        "cpu_ep_fallback": "disabled" if opened.on_gpu and not opened.cpu_nodes else "allowed",
        "session_options": opened.settings.recorded(opened.provider),
        "onnxruntime": ort.__version__,
        "machine": machine(),
    }


def bench(
    model: str | Path,
    provider: str = "auto",
    batch_sizes: tuple[int, ...] = (1, 32, 256),
    seconds: float = 1.0,
    min_runs: int = 10,
    warmup: int = 3,
    debug: bool = False,
    settings: SessionSettings | None = None,
    sizes: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Benchmark ``model`` at each batch size; the report is JSON-able (schema ``zoo-bench/1``,
    docs/bench-json.md)."""
    opened = open_session(model, provider, debug, settings, sizes)
    samples = run_samples(Path(model))
    rows: list[dict[str, Any]] = []
    real = False
    for batch in batch_sizes:
        feed = input_feed(opened.session, batch, sizes=sizes, samples=samples)
        first = feed[opened.session.get_inputs()[0].name]
        real = samples is not None and tuple(samples.shape[1:]) == tuple(first.shape[1:])
        rows += measure(opened, feed, seconds, min_runs, warmup)
    return {
        "schema": SCHEMA,
        "kind": "file",
        "model": str(model),
        **session_report(opened),
        "inputs": [
            {"name": v.name, "shape": list(v.shape), "type": v.type} for v in opened.session.get_inputs()
        ],
        "input_data": "the run's test samples" if real else "random in [0, 1)",
        "sizes": dict(sizes or {}),
        "seconds_per_cell": seconds,
        "isolated": False,
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "rows": rows,
    }
