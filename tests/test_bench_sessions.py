"""Which provider a bench session really gets, and the settings and IO modes around it.

The GPU decisions are tested against a scripted ONNX Runtime (this machine has no GPU); the IO
modes, the tune grid and the isolated cells run for real on the CPU.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import invoke
from zoo.bench.sessions import open_session
from zoo.bench.settings import ORT_DEFAULTS, BenchSettings, SessionSettings
from zoo.core.errors import ProviderUnavailable

REFUSED = (
    "This session contains graph nodes that are assigned to the default CPU EP, "
    "but fallback to CPU EP has been explicitly disabled by the user."
)


@pytest.fixture
def tiny_model(tmp_path):
    """y = x * 2 + 1 on a (batch, 4) float input."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    nodes = [helper.make_node("Mul", ["x", "two"], ["t"]), helper.make_node("Add", ["t", "one"], ["y"])]
    graph = helper.make_graph(nodes, "tiny", [x], [y], initializer=[two, one])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    path = tmp_path / "tiny.onnx"
    onnx.save(model, path)
    return path


class _Scripted:
    """A session whose providers are what the script says."""

    def __init__(self, providers):
        self._providers = providers

    def get_providers(self):
        return self._providers


def scripted_ort(monkeypatch, available, gpu_works, cpu_nodes=(), silently_cpu=False):
    """ONNX Runtime as on a machine with ``available`` providers: the GPU provider loads when
    ``gpu_works``, and refuses strict sessions when the graph has ``cpu_nodes``."""
    import onnxruntime as ort

    import zoo.bench.sessions as sessions

    def session(path, sess_options=None, providers=(), enable_fallback=1):
        # ONNX Runtime's own fallback would print on stdout and retry elsewhere: always off
        assert enable_fallback == 0
        names = [p if isinstance(p, str) else p[0] for p in providers]
        try:
            strict = sess_options.get_session_config_entry("session.disable_cpu_ep_fallback") == "1"
        except Exception:
            strict = False
        if names == ["CPUExecutionProvider"]:
            return _Scripted(names)
        if not gpu_works:
            raise RuntimeError("Failed to load library libonnxruntime_providers_cuda.so")
        if silently_cpu:
            return _Scripted(["CPUExecutionProvider"])
        if strict and cpu_nodes:
            raise RuntimeError(REFUSED)
        return _Scripted(names)

    monkeypatch.setattr(ort, "get_available_providers", lambda: available)
    monkeypatch.setattr(ort, "InferenceSession", session)
    monkeypatch.setattr(sessions, "_gpu_runs_anything", lambda ort, provider: gpu_works)
    monkeypatch.setattr(
        sessions,
        "node_placements",
        lambda path, provider, *args, **kwargs: {"Add y": provider, **dict.fromkeys(cpu_nodes, "cpu")},
    )


def quick(registry, model, *args: str):
    """``zoo bench MODEL`` on the CPU with no time budget (10 runs per cell)."""
    return invoke(registry, "bench", str(model), "--provider", "cpu", "--seconds", "0", *args)


GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]


def test_a_graph_with_cpu_nodes_is_refused_for_cuda_and_listed_under_auto(monkeypatch, tiny_model):
    scripted_ort(
        monkeypatch, GPU_BUILD, gpu_works=True, cpu_nodes=["Shape flatten/Shape", "Gather flatten/Gather"]
    )
    with pytest.raises(
        ProviderUnavailable,
        match=r"CUDA was asked for, but 2 nodes run on the CPU: Shape flatten/Shape, Gather",
    ):
        open_session(tiny_model, BenchSettings("cuda"))
    opened = open_session(tiny_model, BenchSettings("auto"))
    assert opened.provider == "cuda" and opened.cpu_nodes == ["Shape flatten/Shape", "Gather flatten/Gather"]
    assert opened.fallback.startswith("2 nodes run on the CPU")
    assert not opened.cuda_graph  # a graph cannot be captured around CPU nodes


def test_a_gpu_ready_graph_gets_a_strict_cuda_session(monkeypatch, tiny_model):
    scripted_ort(monkeypatch, GPU_BUILD, gpu_works=True)
    opened = open_session(tiny_model, BenchSettings("auto"))
    assert opened.provider == "cuda" and opened.cpu_nodes == [] and opened.fallback is None
    assert opened.cuda_graph  # zoo's default: IO binding and a CUDA graph
    assert not open_session(tiny_model, BenchSettings("cuda", session=ORT_DEFAULTS)).cuda_graph


def test_cuda_that_cannot_load_falls_back_to_the_cpu_only_under_auto(monkeypatch, tiny_model):
    scripted_ort(monkeypatch, GPU_BUILD, gpu_works=False)
    opened = open_session(tiny_model, BenchSettings("auto"))
    assert opened.provider == "cpu" and opened.fallback.startswith("running on the CPU: ")
    with pytest.raises(ProviderUnavailable, match="CUDA was asked for but cannot be used: "):
        open_session(tiny_model, BenchSettings("cuda"))


def test_a_session_that_silently_runs_on_the_cpu_is_not_called_cuda(monkeypatch, tiny_model):
    scripted_ort(monkeypatch, GPU_BUILD, gpu_works=True, silently_cpu=True)
    assert open_session(tiny_model, BenchSettings("auto")).provider == "cpu"
    with pytest.raises(ProviderUnavailable):
        open_session(tiny_model, BenchSettings("cuda"))


def test_tensorrt_is_asked_for_by_name_and_refused_where_the_build_lacks_it(monkeypatch, tiny_model):
    scripted_ort(monkeypatch, ["CUDAExecutionProvider", "CPUExecutionProvider"], gpu_works=True)
    with pytest.raises(ProviderUnavailable, match="no TensorRT provider"):
        open_session(tiny_model, BenchSettings("tensorrt"))
    scripted_ort(monkeypatch, GPU_BUILD, gpu_works=True)
    assert open_session(tiny_model, BenchSettings("tensorrt")).provider == "tensorrt"


def test_a_cpu_only_build_under_auto_is_no_fallback(monkeypatch, tiny_model):
    scripted_ort(monkeypatch, ["CPUExecutionProvider"], gpu_works=False)
    opened = open_session(tiny_model, BenchSettings("auto"))
    assert opened.provider == "cpu" and opened.fallback is None and opened.cpu_nodes is None


def test_provider_options_are_those_measured_fastest_and_ort_defaults_are_ort_s():
    cuda = SessionSettings().providers("cuda", graph=True)
    assert cuda == [
        (
            "CUDAExecutionProvider",
            {
                "cudnn_conv_algo_search": "HEURISTIC",
                "prefer_nhwc": "1",
                "use_tf32": "1",
                "enable_cuda_graph": "1",
            },
        )
    ]
    trt = SessionSettings().providers("tensorrt", graph=False)
    assert [p[0] for p in trt] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]
    assert ORT_DEFAULTS.cuda_options(graph=False)["cudnn_conv_algo_search"] == "EXHAUSTIVE"
    assert not ORT_DEFAULTS.io_binding and not ORT_DEFAULTS.prefer_nhwc
    assert set(SessionSettings().recorded("cpu")) == {"threads", "optimization", "spinning", "io_binding"}
    with pytest.raises(ProviderUnavailable, match="Unknown cuDNN algorithm search"):
        SessionSettings(conv_algo="fast")


def test_nodes_are_placed_from_ort_s_profile(tiny_model):
    from zoo.bench.sessions import node_placements, nodes_on_cpu

    placements = node_placements(tiny_model, "cpu", SessionSettings())
    assert placements and set(placements.values()) == {"cpu"}
    assert any(node.startswith(("Mul ", "Add ")) for node in placements)
    assert nodes_on_cpu(tiny_model, "cpu", SessionSettings()) == list(placements)


def test_bound_io_gives_the_outputs_of_a_plain_run(tiny_model):
    from zoo.bench.measure import io_calls

    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = np.zeros((3, 4), np.float32)
    calls = io_calls(open_session(tiny_model, BenchSettings("cpu")), {"x": x}, [out])
    assert list(calls) == ["bound"]
    calls["bound"]()
    np.testing.assert_array_equal(out, x * 2 + 1)  # on the CPU the bound output is the array given
    plain = open_session(tiny_model, BenchSettings("cpu", session=SessionSettings(io_binding=False)))
    numpy_calls = io_calls(plain, {"x": x}, [np.empty((3, 4), np.float32)])
    assert list(numpy_calls) == ["numpy"]
    np.testing.assert_array_equal(numpy_calls["numpy"]()[0], x * 2 + 1)


def test_ort_defaults_and_explicit_flags_on_the_command_line(tiny_model, registry):
    def options(*args):
        result = quick(registry, tiny_model, "--batch-sizes", "2", "--json", *args)
        assert result.exit_code == 0, result.stderr
        report = json.loads(result.stdout)
        return report["session_options"], {r["io"] for r in report["rows"]}

    assert options() == (
        {"threads": 0, "optimization": "all", "spinning": True, "io_binding": True},
        {"bound"},
    )
    assert options("--ort-defaults") == (
        {"threads": 0, "optimization": "all", "spinning": True, "io_binding": False},
        {"numpy"},
    )
    assert options("--ort-defaults", "--io-binding", "--threads", "1")[0] == {
        "threads": 1,
        "optimization": "all",
        "spinning": True,
        "io_binding": True,
    }


def test_tune_tries_the_grid_and_measures_the_defaults_against_the_best(tiny_model, registry):
    from zoo.bench.tune import grid

    assert SessionSettings() in grid("cpu", cores=4) and len(grid("cpu", cores=4)) == 3 * 3 * 2 * 2
    assert SessionSettings() in grid("cuda") and len(grid("cuda")) == 24
    result = quick(registry, tiny_model, "--tune", "--batch-sizes", "1,5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["cells"]) == 2 * report["configurations"]
    for verdict, best in zip(report["defaults"], report["best"], strict=True):
        assert (
            verdict["best_p50_ms"]
            == best["p50_ms"]
            == min(c["p50_ms"] for c in report["cells"] if c["batch_size"] == verdict["batch_size"])
        )
        assert verdict["defaults_over_best"] >= 1.0
    table = quick(registry, tiny_model, "--tune", "--batch-sizes", "1")
    assert table.exit_code == 0 and "DEFAULTS/BEST" in table.stdout


def test_isolate_measures_each_batch_size_in_a_child_process(tiny_model, registry, monkeypatch):
    result = quick(registry, tiny_model, "--isolate", "--batch-sizes", "1,7", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["isolated"] is True and [r["batch_size"] for r in report["rows"]] == [1, 7]
    monkeypatch.setenv("ZOO_ORT_PRELOAD", "no_such_module_here")
    failed = quick(registry, tiny_model, "--isolate", "--batch-sizes", "1")
    assert failed.exit_code == 2
    assert "the process measuring batch size 1 failed: ModuleNotFoundError" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_without_an_nvidia_driver_nvml_answers_nothing(monkeypatch):
    import ctypes

    from zoo.bench import machine, nvml

    def no_library(name, *args, **kwargs):
        raise OSError(f"{name}: cannot open shared object file")

    nvml._library.cache_clear()
    monkeypatch.setattr(ctypes, "CDLL", no_library)
    try:
        assert nvml.gpus() == [] and nvml.used_mib() is None
        assert machine.describe(machine.machine()).endswith("no GPU seen by the NVIDIA driver")
    finally:
        nvml._library.cache_clear()


def test_tune_of_a_graph_with_cpu_nodes_tries_every_configuration_under_auto(monkeypatch, tiny_model):
    """A strict cuda session would refuse the graph: the configurations stay on what auto got."""
    import zoo.bench.tune as bench_tune

    scripted_ort(monkeypatch, GPU_BUILD, gpu_works=True, cpu_nodes=["Shape flatten/Shape"])
    asked = []
    real = bench_tune.open_session

    def spy(model, settings):
        asked.append(settings.provider)
        return real(model, settings)

    monkeypatch.setattr(bench_tune, "open_session", spy)
    monkeypatch.setattr(bench_tune, "input_feed", lambda *args, **kwargs: {})
    row = {"io": "device", "p50_ms": 1.0, "samples_per_s": 1.0}
    monkeypatch.setattr(bench_tune, "measure", lambda *args, **kwargs: [row])
    monkeypatch.setattr(bench_tune, "session_report", lambda opened: {})
    report = bench_tune.tune(tiny_model, BenchSettings("auto", batch_sizes=(1,), seconds=0.0))
    assert set(asked) == {"auto"} and report["configurations"] == len(asked) == 24


def test_tensorrt_captures_a_graph_only_when_it_runs_every_node(monkeypatch, tiny_model):
    import zoo.bench.sessions as sessions

    scripted_ort(monkeypatch, GPU_BUILD, gpu_works=True)
    placements = {"Mul mul": "tensorrt", "Add add": "cuda"}
    monkeypatch.setattr(sessions, "node_placements", lambda *args, **kwargs: dict(placements))
    assert not open_session(tiny_model, BenchSettings("tensorrt")).cuda_graph  # Add left to CUDA: no graph
    placements["Add add"] = "tensorrt"
    assert open_session(tiny_model, BenchSettings("tensorrt")).cuda_graph
    assert open_session(
        tiny_model, BenchSettings("cuda")
    ).cuda_graph  # CUDA: every node on it (strict) suffices


def test_no_provider_failure_prints_on_stdout(tiny_model, capfd):
    """onnxruntime-gpu on this machine lists TensorRT and CUDA, which cannot load here: ONNX
    Runtime's own fallback would print a banner on stdout (into --json) and retry elsewhere."""
    for provider in ("tensorrt", "cuda"):
        with pytest.raises(ProviderUnavailable):
            open_session(tiny_model, BenchSettings(provider))
    assert open_session(tiny_model, BenchSettings("auto")).provider == "cpu"
    out, _ = capfd.readouterr()
    assert "EP Error" not in out and "Falling back" not in out and out == ""


def test_each_batch_size_reports_its_own_first_run(tiny_model):
    """A new shape is a first run again (cuDNN searches its algorithms per shape on a GPU)."""
    from zoo.bench.file import bench

    report = bench(tiny_model, BenchSettings("cpu", batch_sizes=(1, 64), seconds=0.0))
    firsts = [row["first_run_ms"] for row in report["rows"]]
    assert len(firsts) == 2 and all(f > 0 for f in firsts) and firsts[0] != firsts[1]
