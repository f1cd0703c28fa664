"""Inference benchmarks of an ONNX file through ONNX Runtime, honest about the provider.

onnxruntime-gpu lists ``CUDAExecutionProvider`` as available even where CUDA cannot load, and
then quietly runs on the CPU. So the provider reported here is the one the session really
has after creation; asking for ``cuda`` where it cannot run is an error, and ``auto`` says
why it fell back. No TensorFlow is imported on this path.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import ModelFileError, ProviderUnavailable

PROVIDERS = {"cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
SHORT_NAMES = {v: k for k, v in PROVIDERS.items()}
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}


@dataclass(frozen=True)
class Timing:
    """Latency statistics of one batch size."""

    batch_size: int
    runs: int
    mean_ms: float
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
        p50_ms=float(p50),
        p90_ms=float(p90),
        p99_ms=float(p99),
        samples_per_s=float(batch_size * lat.size / lat.sum()),
    )


def cuda_unavailable_reason(available: list[str]) -> str:
    """Why the CUDA provider did not come up, as far as can be told without CUDA itself."""
    if PROVIDERS["cuda"] not in available:
        return "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libcuda.so.1")
        except OSError:
            return "no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded)"
    return (
        "ONNX Runtime could not load its CUDA provider: the CUDA 13 and cuDNN 9 libraries are "
        "missing (pip install 'onnxruntime-gpu[cuda,cudnn]'; --debug shows ONNX Runtime's log)"
    )


def open_session(model: str | Path, provider: str = "auto", debug: bool = False) -> tuple[Any, str | None]:
    """A session on the provider asked for; returns it and, for ``auto``, why CUDA was not used."""
    import onnxruntime as ort

    path = Path(model)
    if not path.is_file():
        raise ModelFileError(
            f"Model file {str(path)!r} does not exist"
            if not path.exists()
            else f"{str(path)!r} is not a file"
        )
    if provider not in ("auto", *PROVIDERS):
        raise ProviderUnavailable(f"Unknown provider {provider!r}. Available: auto, cpu, cuda")
    available = ort.get_available_providers()
    if provider == "cuda" and PROVIDERS["cuda"] not in available:
        raise ProviderUnavailable(
            f"CUDA was asked for but cannot be used: {cuda_unavailable_reason(available)}"
        )
    want_cuda = provider == "cuda" or (provider == "auto" and PROVIDERS["cuda"] in available)
    providers = [PROVIDERS["cuda"], PROVIDERS["cpu"]] if want_cuda else [PROVIDERS["cpu"]]
    if not debug:
        ort.set_default_logger_severity(4)  # we report a failed CUDA load ourselves, in one line
    try:
        session = ort.InferenceSession(str(path), providers=providers)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"ONNX Runtime cannot load {str(path)!r}: {message}") from exc
    finally:
        ort.set_default_logger_severity(2)
    got_cuda = PROVIDERS["cuda"] in session.get_providers()
    if provider == "cuda" and not got_cuda:
        raise ProviderUnavailable(
            f"CUDA was asked for but cannot be used: {cuda_unavailable_reason(available)}"
        )
    fallback = None
    if provider == "auto" and not got_cuda:
        fallback = f"running on the CPU: {cuda_unavailable_reason(available)}"
    return session, fallback


def input_feed(session: Any, batch_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs in [0, 1) for every model input, the batch axis set to ``batch_size``."""
    rng = np.random.default_rng(seed)
    feed = {}
    for value in session.get_inputs():
        dims = list(value.shape)
        if not dims:
            raise ModelFileError(f"Input {value.name!r} is a scalar; zoo bench needs a batch axis")
        fixed = [d if isinstance(d, int) and d > 0 else None for d in dims[1:]]
        if None in fixed:
            raise ModelFileError(f"Input {value.name!r} has shape {dims}: only the batch axis may be dynamic")
        dtype = _DTYPES.get(value.type)
        if dtype is None:
            raise ModelFileError(f"Input {value.name!r} has type {value.type}, which bench cannot fill")
        feed[value.name] = rng.random((batch_size, *fixed)).astype(dtype)
    return feed


def time_runs(
    session: Any, feed: dict[str, np.ndarray], seconds: float, min_runs: int, warmup: int
) -> list[float]:
    """Run ``warmup`` times, then until ``seconds`` have passed and ``min_runs`` were made."""
    for _ in range(warmup):
        session.run(None, feed)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(latencies) < min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        session.run(None, feed)
        latencies.append(time.perf_counter() - start)
    return latencies


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.platform()}


def bench(
    model: str | Path,
    provider: str = "auto",
    batch_sizes: tuple[int, ...] = (1, 32, 256),
    seconds: float = 1.0,
    min_runs: int = 10,
    warmup: int = 3,
    debug: bool = False,
) -> dict[str, Any]:
    """Benchmark ``model`` at each batch size; the report is JSON-able."""
    import onnxruntime as ort

    session, fallback = open_session(model, provider, debug)
    used = session.get_providers()[0]
    results = []
    for batch in batch_sizes:
        feed = input_feed(session, batch)
        results.append(asdict(summarize(batch, time_runs(session, feed, seconds, min_runs, warmup))))
    return {
        "model": str(model),
        "provider": SHORT_NAMES.get(used, used),
        "execution_providers": session.get_providers(),
        "requested": provider,
        "fallback": fallback,
        "onnxruntime": ort.__version__,
        "machine": machine(),
        "inputs": [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in session.get_inputs()],
        "seconds_per_batch_size": seconds,
        "results": results,
    }
