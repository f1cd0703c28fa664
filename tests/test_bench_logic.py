"""The bench module's logic, independent of timing."""

from __future__ import annotations

import pytest

from zoo.bench.sessions import cuda_unavailable_reason
from zoo.bench.timing import summarize


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


class _Input:
    def __init__(self, name, shape, type_="tensor(float)"):
        self.name, self.shape, self.type = name, shape, type_


class _Session:
    def __init__(self, *inputs):
        self._inputs = list(inputs)

    def get_inputs(self):
        return self._inputs


def test_free_axes_take_the_sizes_given_and_say_which_option_is_missing():
    import numpy as np

    from zoo.bench.feeds import input_feed
    from zoo.core.errors import ModelFileError

    session = _Session(_Input("image", ["batch", "height", "width", 1]))
    feed = input_feed(session, 3, sizes={"height": 20, "width": 36})
    assert feed["image"].shape == (3, 20, 36, 1) and feed["image"].dtype == np.float32
    with pytest.raises(ModelFileError, match=r"give its free axes a size \(--height N, --width N\)"):
        input_feed(session, 1)
    code = _Session(_Input("code", ["batch", "code_height", "code_width", 64]))
    with pytest.raises(ModelFileError, match="--axis code_height=N, --axis code_width=N"):
        input_feed(code, 1)


def test_a_file_with_several_inputs_gets_each_and_one_line_naming_every_free_axis():
    """A U-Net decoder's code and skips: a feed for each, every unsized axis named at once."""
    from zoo.bench.feeds import input_feed
    from zoo.core.errors import ModelFileError

    session = _Session(
        _Input("code", ["batch", "code_height", "code_width", 64]),
        _Input("skip1", ["batch", "skip1_height", "skip1_width", 16]),
        _Input("skip2", ["batch", 14, 14, 32]),
    )
    axes = "--axis code_height=N, --axis code_width=N, --axis skip1_height=N, --axis skip1_width=N"
    with pytest.raises(ModelFileError, match=f"give their free axes a size \\({axes}\\)"):
        input_feed(session, 1)
    sizes = {"code_height": 7, "code_width": 7, "skip1_height": 28, "skip1_width": 28}
    feed = input_feed(session, 2, sizes=sizes)
    assert {k: v.shape for k, v in feed.items()} == {
        "code": (2, 7, 7, 64),
        "skip1": (2, 28, 28, 16),
        "skip2": (2, 14, 14, 32),
    }


def test_real_samples_are_repeated_up_to_the_batch_size():
    import numpy as np

    from zoo.bench.feeds import input_feed

    samples = np.arange(3 * 4, dtype=np.float32).reshape(3, 4)
    feed = input_feed(_Session(_Input("x", ["batch", 4])), 7, samples=samples)
    np.testing.assert_array_equal(feed["x"], np.concatenate([samples, samples, samples])[:7])


def test_session_settings_and_the_disabled_cpu_fallback_for_cuda():
    import onnxruntime as ort

    from zoo.bench.settings import SessionSettings

    options = SessionSettings(threads=2, optimization="basic").options(strict=True)
    assert options.intra_op_num_threads == 2
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert options.get_session_config_entry("session.disable_cpu_ep_fallback") == "1"
    cpu = SessionSettings().options()
    assert cpu.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_run_samples_are_found_beside_the_export_folder(tmp_path):
    import numpy as np

    from zoo.bench.feeds import run_samples

    (tmp_path / "onnx").mkdir()
    np.savez(tmp_path / "samples.npz", x=np.ones((2, 5), np.float32), y=np.zeros(2))
    assert run_samples(tmp_path / "onnx" / "model.onnx").shape == (2, 5)
    assert run_samples(tmp_path / "model.onnx") is None
