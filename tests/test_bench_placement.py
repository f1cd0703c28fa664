"""Where a bench session's nodes really run, and what its errors mean (issue 15, defect 8 and
two promises): a row labelled TensorRT or CUDA ran there, and only there (``tensorrt+cuda`` when
TensorRT took part of the graph); a node the profile places on the GPU is not reported on the
CPU; a GPU session's error is that error, never "some nodes on the CPU".

This machine has no GPU: ONNX Runtime's sessions and profiles are faked. Each docstring names
the break the test was seen to catch ("Fails if: ...").
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from zoo.bench.sessions import open_session
from zoo.bench.settings import BenchSettings, SessionSettings
from zoo.core.errors import ModelFileError, ProviderUnavailable

GPU_BUILD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
REFUSED = (
    "This session contains graph nodes that are assigned to the default CPU EP, "
    "but fallback to CPU EP has been explicitly disabled by the user."
)


def write_tiny_model(path: Path) -> Path:
    """y = x * 2 + 1 on a (batch, 4) float input, nodes ``mul`` and ``add``."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["t"], name="mul"),
        helper.make_node("Add", ["t", "one"], ["y"], name="add"),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y], initializer=[two, one])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), path)
    return path


@pytest.fixture
def tiny_model(tmp_path):
    return write_tiny_model(tmp_path / "tiny.onnx")


# ---------------------------------------------------------------- a faked GPU build of ONNX Runtime


def node_event(name: str, op: str, provider: str) -> dict:
    """A ``Node`` event of ONNX Runtime's profile, as it writes one per kernel run."""
    return {
        "cat": "Node",
        "ph": "X",
        "name": f"{name}_kernel_time",
        "dur": 5,
        "args": {"op_name": op, "provider": provider},
    }


def profile(*nodes: tuple[str, str, str]) -> list[dict]:
    """A profile of one run: session events, fences (no provider) and a kernel event per node."""
    events: list[dict] = [{"cat": "Session", "ph": "X", "name": "model_run", "dur": 40, "args": {}}]
    for name, op, provider in nodes:
        events.append({"cat": "Node", "ph": "X", "name": f"{name}_fence_before", "args": {"op_name": op}})
        events.append(node_event(name, op, provider))
    return events


class _Input:
    name, shape, type = "x", ["batch", 4], "tensor(float)"


class _FakeSession:
    def __init__(self, providers, events, prefix):
        self._providers, self._events, self._prefix = providers, events, prefix

    def get_providers(self):
        return self._providers

    def get_inputs(self):
        return [_Input()]

    def run(self, output_names, feed, run_options=None):
        return [feed["x"] * 2 + 1]

    def end_profiling(self):
        path = Path(f"{self._prefix}_fake.json")
        path.write_text(json.dumps(self._events), encoding="utf-8")
        return str(path)


def fake_gpu(monkeypatch, events, strict_error: str | None = None):
    """ONNX Runtime on a GPU machine: every provider loads; a session with CPU fallback disabled
    raises ``strict_error`` (if any); a profiled run writes ``events``. Records every session
    made as (providers, strict, profiled)."""
    import onnxruntime as ort

    import zoo.bench.sessions as sessions

    made = []

    def session(path, sess_options=None, providers=(), enable_fallback=1):
        names = [p if isinstance(p, str) else p[0] for p in providers]
        try:
            strict = sess_options.get_session_config_entry("session.disable_cpu_ep_fallback") == "1"
        except RuntimeError:  # not set
            strict = False
        made.append((names, strict, sess_options.enable_profiling))
        if strict and strict_error:
            raise RuntimeError(strict_error)
        return _FakeSession(names, events, sess_options.profile_file_prefix)

    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(ort, "InferenceSession", session)
    monkeypatch.setattr(sessions, "_gpu_runs_anything", lambda ort, provider: True)
    return made


# ---------------------------------------------------------------- where the nodes ran (defect 8, promise a)

TRT_ENGINE = ("TensorrtExecutionProvider_TRTKernel_graph_tiny_1_0_0", "TRTKernel_graph_tiny_1_0", "Tensorrt")


def test_the_profile_places_each_node_on_the_provider_that_ran_it():
    """Fails if: every profiled node is reported on the CPU (the placement read from anything
    but the event's provider), or fence events without a provider are counted as nodes."""
    from zoo.bench.sessions import placements_from_profile

    events = profile(
        ("conv1", "Conv", "CUDAExecutionProvider"),
        (TRT_ENGINE[0], TRT_ENGINE[1], "TensorrtExecutionProvider"),
        ("shape", "Shape", "CPUExecutionProvider"),
    )
    assert placements_from_profile(events) == {
        "Conv conv1": "cuda",
        f"{TRT_ENGINE[1]} {TRT_ENGINE[0]}": "tensorrt",
        "Shape shape": "cpu",
    }


def test_a_profile_with_gpu_nodes_gives_gpu_placement_and_only_the_cpu_node_is_named(monkeypatch, tiny_model):
    """``auto`` on a graph with one node only the CPU takes: the profile's GPU nodes stay on
    the GPU, the one CPU node is named, the label says both ran.

    Fails if: every profiled node is reported on the CPU (in ``placements_from_profile`` or in
    ``open_session``'s choice of the CPU nodes)."""
    events = profile(
        ("mul", "Mul", "CUDAExecutionProvider"),
        ("add", "Add", "CUDAExecutionProvider"),
        ("shape", "Shape", "CPUExecutionProvider"),
    )
    fake_gpu(monkeypatch, events, strict_error=REFUSED)
    opened = open_session(tiny_model, BenchSettings("auto"))
    assert opened.provider == "cuda" and opened.cpu_nodes == ["Shape shape"]
    assert opened.label == "cuda+cpu" and opened.nodes_per_provider == {"cuda": 2, "cpu": 1}
    assert opened.fallback == "1 nodes run on the CPU: Shape shape"
    with pytest.raises(
        ProviderUnavailable, match=r"CUDA was asked for, but 1 nodes run on the CPU: Shape shape;"
    ):
        open_session(tiny_model, BenchSettings("cuda"))


def test_tensorrt_that_took_part_of_the_graph_is_reported_as_tensorrt_and_cuda(monkeypatch, tiny_model):
    """Defect 8: ``provider: tensorrt`` was reported when TensorRT took only part of the graph.

    Fails if: the label is the provider asked for rather than the providers the profile saw
    (``tensorrt`` for a partial engine), TensorRT is profiled only with a CUDA graph (with
    ``--no-cuda-graph`` the label fell back to ``tensorrt``), or a partial engine captures a
    CUDA graph."""
    from zoo.bench.report import session_report

    partial = profile(
        (TRT_ENGINE[0], TRT_ENGINE[1], "TensorrtExecutionProvider"),
        ("resize", "Resize", "CUDAExecutionProvider"),
        ("add", "Add", "CUDAExecutionProvider"),
    )
    fake_gpu(monkeypatch, partial)
    for session in (SessionSettings(), SessionSettings(cuda_graph=False)):
        opened = open_session(tiny_model, BenchSettings("tensorrt", session=session))
        assert opened.provider == "tensorrt" and opened.label == "tensorrt+cuda"
        assert opened.nodes_per_provider == {"tensorrt": 1, "cuda": 2} and not opened.cuda_graph
    report = session_report(opened)
    assert report["provider"] == "tensorrt+cuda" and report["requested"] == "tensorrt"
    assert report["nodes_per_provider"] == {"tensorrt": 1, "cuda": 2} and report["cpu_nodes"] == []
    assert report["session_options"]["cuda_graph"] is False  # the settings of the provider asked for

    fake_gpu(monkeypatch, profile((TRT_ENGINE[0], TRT_ENGINE[1], "TensorrtExecutionProvider")))
    whole = open_session(tiny_model, BenchSettings("tensorrt"))
    assert whole.label == "tensorrt" and whole.nodes_per_provider == {"tensorrt": 1} and whole.cuda_graph


def test_a_file_report_and_its_rows_name_the_providers_that_really_ran(monkeypatch, tiny_model):
    """``zoo bench FILE --provider tensorrt`` where TensorRT took part of the graph, measured
    through the faked session (NumPy IO, no time budget).

    Fails if: the report or the rows' method say ``tensorrt`` alone for a partial engine."""
    from zoo.bench.file import bench

    fake_gpu(
        monkeypatch,
        profile(
            (TRT_ENGINE[0], TRT_ENGINE[1], "TensorrtExecutionProvider"),
            ("add", "Add", "CUDAExecutionProvider"),
        ),
    )
    plain = SessionSettings(io_binding=False, cuda_graph=False)
    report = bench(tiny_model, BenchSettings("tensorrt", batch_sizes=(1, 2), seconds=0.0, session=plain))
    assert report["provider"] == "tensorrt+cuda" and report["nodes_per_provider"] == {
        "tensorrt": 1,
        "cuda": 1,
    }
    assert [r["method"] for r in report["rows"]] == ["onnxruntime tensorrt+cuda"] * 2


def test_a_run_report_joins_the_providers_of_every_file():
    """A run's files: one on TensorRT whole, one split with CUDA, one strict CUDA (no profile).

    Fails if: the run's provider is its first file's alone, or the counts leave a file out."""
    from zoo.bench.run import _placement
    from zoo.bench.sessions import OpenSession

    def opened(provider, placements):
        return OpenSession(None, Path("m.onnx"), provider, provider, SessionSettings(), placements=placements)

    sessions = {
        "full": opened("tensorrt", {"TRT engine": "tensorrt"}),
        "encoder": opened("tensorrt", {"TRT engine": "tensorrt", "Resize r": "cuda"}),
        "decoder": opened("cuda", None),
    }
    assert _placement(sessions) == {
        "provider": "tensorrt+cuda",
        "nodes_per_provider": {"tensorrt": 2, "cuda": 1},
    }
    cpu = {"full": opened("cpu", None)}
    assert _placement(cpu) == {"provider": "cpu", "nodes_per_provider": None}


# ---------------------------------------------------------------- a GPU session's errors (promise b)


@pytest.mark.parametrize(
    "error",
    [
        "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : CUDA failure 2: out of memory ; GPU=0",
        "[ONNXRuntimeError] : 1 : FAIL : TensorRT EP failed to create engine from network for fused node",
        "[ONNXRuntimeError] : 1 : FAIL : CUDNN_STATUS_INTERNAL_ERROR (no CPU fallback tried)",
    ],
    ids=["out-of-memory", "tensorrt-engine", "cudnn"],
)
@pytest.mark.parametrize("provider", ["auto", "cuda", "tensorrt"])
def test_a_gpu_session_error_is_reported_as_itself_not_as_cpu_nodes(monkeypatch, tiny_model, error, provider):
    """ONNX Runtime refuses a GPU-only session for many reasons; only its refusal of nodes it
    would assign to the CPU means CPU placement.

    Fails if: every GPU session error is read as "some nodes on the CPU" (``_gpu_session``
    returning no reason for any exception: ``auto`` then opens a mixed session and profiles it,
    ``cuda`` says "N nodes run on the CPU"), or any message mentioning a fallback is."""
    made = fake_gpu(monkeypatch, profile(("add", "Add", "CUDAExecutionProvider")), strict_error=error)
    with pytest.raises(ModelFileError, match=f"ONNX Runtime cannot load .*: {re.escape(error)}$"):
        open_session(tiny_model, BenchSettings(provider))
    assert [strict for _, strict, _ in made] == [True]  # no mixed session, no profile after it
