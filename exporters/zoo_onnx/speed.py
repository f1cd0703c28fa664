"""A lower-precision file timed against its float32 original on this machine's CPU.

int8 and float16 make files smaller, not faster everywhere: LeNet-5's static int8 ran 2 to 3
times slower than float32 on a 2-core AMD EPYC (``benchmarks/quantization.py``). So the export
times what it made and says so, and among int8 variants keeps the fastest. The figures are
medians of repeated runs in ONNX Runtime's CPU provider with default options, on the run's own
samples; a GPU is another matter (``zoo bench``).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

from zoo_onnx.session import cpu_session, feed, first, to_layout

SECONDS = 0.2  # per file and batch size: enough for a stable median of a small model
MIN_RUNS = 5
SLOWER_BELOW = 0.95  # a speed-up under this is "slower"; medians of tiny models move by a few %


def median_ms(proto: onnx.ModelProto, inputs: Sequence[np.ndarray]) -> float:
    """Median milliseconds of one run of ``proto`` on ``inputs`` (laid out as it takes them)."""
    session = cpu_session(proto)
    fed = feed(session, inputs)
    session.run(None, fed)  # the first run allocates; not timed
    times: list[float] = []
    deadline = time.perf_counter() + SECONDS
    while len(times) < MIN_RUNS or time.perf_counter() < deadline:
        started = time.perf_counter()
        session.run(None, fed)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def laid_out(inputs: Sequence[np.ndarray], layout: str, batch: int) -> list[np.ndarray]:
    return [to_layout(a, layout) for a in first(inputs, batch)]


def fastest(candidates: dict[str, onnx.ModelProto], inputs: list[np.ndarray]) -> tuple[str, dict[str, float]]:
    """The name of the fastest candidate at the inputs' batch size, and each one's milliseconds."""
    timed = {name: median_ms(proto, inputs) for name, proto in candidates.items()}
    return min(timed, key=lambda name: timed[name]), timed


def versus_float32(
    float32: onnx.ModelProto,
    lowered: onnx.ModelProto,
    inputs: Sequence[np.ndarray],
    layout: str,
    batches: list[int],
) -> dict[str, Any]:
    """Both files timed at each batch size: milliseconds, and the speed-up of the lowered file
    over float32 (below 1: slower)."""
    found: dict[str, Any] = {"batch_sizes": batches, "float32_ms": {}, "ms": {}, "speedup": {}}
    for batch in batches:
        fed = laid_out(inputs, layout, batch)
        base, mine = median_ms(float32, fed), median_ms(lowered, fed)
        found["float32_ms"][str(batch)] = round(base, 6)
        found["ms"][str(batch)] = round(mine, 6)
        found["speedup"][str(batch)] = round(base / mine, 3)
    found["slower"] = any(s < SLOWER_BELOW for s in found["speedup"].values())
    found["on"] = "onnxruntime CPUExecutionProvider, this machine, median of repeated runs"
    return found
