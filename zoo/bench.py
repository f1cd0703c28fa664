"""Inference benchmarks of an ONNX file through ONNX Runtime, honest about the provider.

onnxruntime-gpu lists ``CUDAExecutionProvider`` as available even where CUDA cannot load, and
then quietly runs on the CPU. So the provider reported here is the one the session really
has after creation; asking for ``cuda`` where it cannot run is an error, and ``auto`` says
why it fell back. No TensorFlow is imported on this path.
"""

from __future__ import annotations

import ctypes
import functools
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


OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")


@dataclass(frozen=True)
class SessionSettings:
    """The ONNX Runtime session options that change CPU numbers, recorded with every report.

    ``threads`` 0 lets ONNX Runtime choose (one intra-op thread per physical core).
    """

    threads: int = 0
    optimization: str = "all"

    def options(self, cuda: bool) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.optimization]
        if cuda:
            # A node the CUDA provider cannot take would otherwise run on the CPU, silently.
            opts.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        return opts


def open_session(
    model: str | Path, provider: str = "auto", debug: bool = False, settings: SessionSettings | None = None
) -> tuple[Any, str | None]:
    """A session on the provider asked for; returns it and, for ``auto``, why CUDA was not used.

    With CUDA, CPU fallback is disabled: a graph with a node CUDA cannot run is refused, with
    ONNX Runtime's reason, instead of running partly on the CPU.
    """
    import onnxruntime as ort

    settings = settings or SessionSettings()
    if settings.optimization not in OPTIMIZATION_LEVELS:
        raise ProviderUnavailable(
            f"Unknown optimization level {settings.optimization!r}. "
            f"Available: {', '.join(OPTIMIZATION_LEVELS)}"
        )

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
    fallback = None
    if want_cuda:
        session, reason = _cuda_session(ort, path, settings, debug, available)
        if session is not None:
            return session, None
        if provider == "cuda":
            raise ProviderUnavailable(f"CUDA was asked for but cannot be used: {reason}")
        fallback = f"running on the CPU: {reason}"
    try:
        session = ort.InferenceSession(
            str(path), sess_options=settings.options(cuda=False), providers=[PROVIDERS["cpu"]]
        )
    except Exception as exc:
        raise ModelFileError(f"ONNX Runtime cannot load {str(path)!r}: {_first_line(exc)}") from exc
    return session, fallback


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _cuda_session(
    ort: Any, path: Path, settings: SessionSettings, debug: bool, available: list[str]
) -> tuple[Any | None, str]:
    """A CUDA-only session (no CPU fallback), or None and the reason it cannot be had."""
    if not debug:
        ort.set_default_logger_severity(4)  # we report a failed CUDA load ourselves, in one line
    try:
        session = ort.InferenceSession(
            str(path), sess_options=settings.options(cuda=True), providers=[PROVIDERS["cuda"]]
        )
    except Exception as exc:
        if not _cuda_runs_anything(ort):
            return None, cuda_unavailable_reason(available)
        return None, f"the graph has nodes the CUDA provider cannot run ({_first_line(exc)})"
    finally:
        ort.set_default_logger_severity(2)
    if PROVIDERS["cuda"] not in session.get_providers():
        return None, cuda_unavailable_reason(available)
    return session, ""


@functools.cache
def _cuda_runs_anything(ort: Any) -> bool:
    """Whether a one-node graph (Add) gets a CUDA-only session: tells a CUDA provider that
    cannot load apart from a graph it cannot run entirely."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    options = ort.SessionOptions()
    options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    try:
        ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=[PROVIDERS["cuda"]])
    except Exception:
        return False
    return True


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
        if samples is not None and tuple(samples.shape[1:]) == tuple(fixed) and len(feed) == 0:
            repeats = -(-batch_size // len(samples))
            feed[value.name] = np.concatenate([samples] * repeats)[:batch_size].astype(dtype)
        else:
            feed[value.name] = rng.random(shape).astype(dtype)
    return feed


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


def time_calls(fn: Any, seconds: float, min_runs: int, warmup: int) -> list[float]:
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


def time_runs(
    session: Any, feed: dict[str, np.ndarray], seconds: float, min_runs: int, warmup: int
) -> list[float]:
    """``time_calls`` of one session on one feed."""
    return time_calls(lambda: session.run(None, feed), seconds, min_runs, warmup)


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
    settings: SessionSettings | None = None,
    sizes: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Benchmark ``model`` at each batch size; the report is JSON-able.

    Besides each batch size's latencies it records how long the session took to create, the
    first run apart (it includes ONNX Runtime's lazy initialization), and the peak RSS.
    """
    import onnxruntime as ort

    settings = settings or SessionSettings()
    started = time.perf_counter()
    session, fallback = open_session(model, provider, debug, settings)
    session_seconds = time.perf_counter() - started
    used = session.get_providers()[0]
    samples = run_samples(Path(model))
    results = []
    first_run_ms = None
    real = False
    for batch in batch_sizes:
        feed = input_feed(session, batch, sizes=sizes, samples=samples)
        first = feed[session.get_inputs()[0].name]
        real = samples is not None and tuple(samples.shape[1:]) == tuple(first.shape[1:])
        if first_run_ms is None:
            start = time.perf_counter()
            session.run(None, feed)
            first_run_ms = (time.perf_counter() - start) * 1e3
        results.append(asdict(summarize(batch, time_runs(session, feed, seconds, min_runs, warmup))))
    return {
        "model": str(model),
        "provider": SHORT_NAMES.get(used, used),
        "execution_providers": session.get_providers(),
        "requested": provider,
        "fallback": fallback,
        "onnxruntime": ort.__version__,
        "machine": machine(),
        "session_options": {
            **asdict(settings),
            "cpu_ep_fallback": "disabled" if used == PROVIDERS["cuda"] else "n/a",
        },
        "inputs": [{"name": v.name, "shape": list(v.shape), "type": v.type} for v in session.get_inputs()],
        "input_data": "the run's test samples" if real else "random in [0, 1)",
        "sizes": dict(sizes or {}),
        "session_create_ms": round(session_seconds * 1e3, 3),
        "first_run_ms": round(first_run_ms or 0.0, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "seconds_per_batch_size": seconds,
        "results": results,
    }
