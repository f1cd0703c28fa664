"""The bench module's logic, independent of timing."""

from __future__ import annotations

import pytest

from zoo.bench import cuda_unavailable_reason, summarize


def test_percentiles_and_throughput():
    timing = summarize(4, [0.001 * i for i in range(1, 101)])  # 1 ms .. 100 ms
    assert timing.runs == 100
    assert timing.p50_ms == pytest.approx(50.5)
    assert timing.p90_ms == pytest.approx(90.1)
    assert timing.p99_ms == pytest.approx(99.01)
    assert timing.mean_ms == pytest.approx(50.5)
    assert timing.samples_per_s == pytest.approx(4 / 0.0505)


def test_summarize_refuses_nonsense():
    with pytest.raises(ValueError):
        summarize(1, [])
    with pytest.raises(ValueError):
        summarize(1, [0.0])


def test_fallback_reasons():
    assert "no CUDA provider" in cuda_unavailable_reason(["CPUExecutionProvider"])
    reason = cuda_unavailable_reason(["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert reason.startswith(("no NVIDIA driver", "ONNX Runtime could not load its CUDA provider"))
