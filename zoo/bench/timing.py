"""Timing: call a function for a time budget, and latency statistics of the calls."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


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


def time_calls(
    fn: Callable[[], Any],
    seconds: float,
    min_runs: int,
    warmup: int,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Call ``fn`` ``warmup`` times, then until ``seconds`` have passed on ``clock`` and
    ``min_runs`` were made; the latencies in seconds."""
    for _ in range(warmup):
        fn()
    latencies: list[float] = []
    deadline = clock() + seconds
    while len(latencies) < min_runs or clock() < deadline:
        start = clock()
        fn()
        latencies.append(clock() - start)
    return latencies


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB (Linux reports KiB, macOS bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
