"""ONNX Runtime: the CPU provider, and the CUDA provider only where a GPU really runs.

onnxruntime-gpu lists ``CUDAExecutionProvider`` even where CUDA cannot load, and then runs on the
CPU without a word; so CUDA counts as available only when a one-node graph gets a session on it
with CPU fallback disabled (as ``zoo bench`` checks), and a file is loaded the same way: a node
the GPU provider cannot take is a refusal naming it, never a quiet run on the CPU.
"""

from __future__ import annotations

import ctypes
import functools
import sys
import threading
import time
from pathlib import Path
from typing import Any

from zoo.runtimes.base import Loaded, RuntimeRefused, one_line, since
from zoo.runtimes.limits import RunTimedOut, run_limit

PROVIDERS = {
    "CPU": "CPUExecutionProvider",
    "CUDA": "CUDAExecutionProvider",
    "TensorRT": "TensorrtExecutionProvider",
}
INSTALL = "not installed: pip install onnxruntime (onnxruntime-gpu for CUDA and TensorRT)"
# ONNX Runtime's words when a session without CPU fallback has nodes only the CPU takes
REFUSED_CPU_NODES = "assigned to the default CPU EP"


def _ort() -> Any | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def file_precision(path: Path) -> str:
    """What a file computes in, as written: ``float16`` where its weights are, ``int8`` where it
    quantizes, else ``float32`` (ONNX Runtime and the reference evaluator compute as written)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    if any(
        n.op_type in ("QuantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger")
        for n in proto.graph.node
    ):
        return "int8"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in proto.graph.initializer):
        return "float16"
    return "float32"


def missing_library(tensorrt: bool = False) -> str | None:
    """The first library a GPU provider needs that cannot be loaded here, said for a user (Linux;
    elsewhere None): what tells "no GPU" from a provider that failed to start."""
    if not sys.platform.startswith("linux"):
        return None
    needed = [("libcuda.so.1", "no NVIDIA driver on this machine (libcuda.so.1 cannot be loaded)")]
    if tensorrt:
        trt = ("libnvinfer.so.10", "TensorRT 10 is not installed (libnvinfer.so.10 cannot be loaded)")
        needed.append(trt)
    for library, reason in needed:
        try:
            ctypes.CDLL(library)
        except OSError:
            return reason
    return None


def gpu_unavailable(device: str) -> str | None:
    """Why ONNX Runtime cannot run on ``device`` (CUDA, TensorRT) here; None when a one-node graph
    really runs there."""
    ort = _ort()
    if ort is None:
        return INSTALL
    provider = PROVIDERS[device]
    if provider not in ort.get_available_providers():
        return "no GPU: this onnxruntime build has no " + device + " provider (pip install onnxruntime-gpu)"
    missing = missing_library(tensorrt=device == "TensorRT")
    if missing:
        return f"no GPU: {missing}" if missing.startswith("no NVIDIA driver") else missing
    if not _runs_anything(device):
        return (
            f"ONNX Runtime cannot start its {device} provider here (CUDA 13 and cuDNN 9 libraries missing?)"
        )
    return None


@functools.cache
def _runs_anything(device: str) -> bool:
    """Whether a one-node graph (Add) gets a session on ``device`` alone."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    try:
        session = _session(ort, model.SerializeToString(), device)
    except Exception:
        return False
    return PROVIDERS[device] in session.get_providers()


def _session(ort: Any, model: str | bytes, device: str) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 4  # a refusal is reported in one line, not logged as well
    providers = [PROVIDERS[device]]
    if device != "CPU":
        options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        if device == "TensorRT":
            providers.append(PROVIDERS["CUDA"])
    return ort.InferenceSession(model, sess_options=options, providers=providers, enable_fallback=0)


def limited_run(session: Any, feeds: dict[str, Any], runtime: str) -> list[Any]:
    """``session.run``, stopped past ``ZOO_RUN_TIMEOUT`` seconds (ONNX Runtime checks
    ``RunOptions.terminate`` between nodes and a Loop's iterations)."""
    import onnxruntime as ort

    seconds = run_limit()
    options = ort.RunOptions()
    options.log_severity_level = 4
    timer = threading.Timer(seconds, lambda: setattr(options, "terminate", True))
    timer.start()
    try:
        return session.run(None, feeds, options)
    except Exception as exc:
        if options.terminate:
            raise RunTimedOut(runtime, seconds) from exc
        raise
    finally:
        timer.cancel()


def load_session(path: Path, device: str, runtime: str) -> Loaded:
    """``path`` in ONNX Runtime on ``device`` alone; ``RuntimeRefused`` in one line."""
    import onnxruntime as ort

    started = time.perf_counter()
    try:
        session = _session(ort, str(path), device)
    except Exception as exc:
        text = str(exc)
        if REFUSED_CPU_NODES in text:
            raise RuntimeRefused(
                f"{device} cannot run every node (some would run on the CPU): {one_line(text)}"
            ) from exc
        raise RuntimeRefused(f"ONNX Runtime cannot load it: {one_line(text)}", _unimplemented(text)) from exc
    loaded = since(started)
    if PROVIDERS[device] not in session.get_providers():  # never a quiet run elsewhere
        raise RuntimeRefused(f"ONNX Runtime did not put the graph on {device}")
    names = [o.name for o in session.get_outputs()]
    return Loaded(
        input_names=[i.name for i in session.get_inputs()],
        output_names=names,
        precision=file_precision(path),
        device=device,
        load_seconds=loaded,
        runner=lambda feeds: list(limited_run(session, feeds, f"ONNX Runtime ({device})")),
        detail=f"onnxruntime {ort.__version__}",
    )


def _unimplemented(text: str) -> tuple[str, ...]:
    """The op ONNX Runtime names in 'Could not find an implementation for OP(N) node ...'."""
    import re

    found = re.findall(r"Could not find an implementation for (\w+)\(", text)
    return tuple(dict.fromkeys(found))


class OnnxRuntime:
    """ONNX Runtime on one device: ``CPU`` (the default) or ``CUDA``."""

    name = "onnxruntime"

    def __init__(self, device: str = "CPU") -> None:
        self.device = device

    def unavailable(self) -> str | None:
        if self.device != "CPU":
            return gpu_unavailable(self.device)
        return INSTALL if _ort() is None else None

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        if precision not in (None, "float32"):  # float32: nothing lowered beyond what the file holds
            raise RuntimeRefused(
                f"ONNX Runtime computes as the file is written; it takes no {precision} hint"
            )
        return load_session(Path(path), self.device, self.name)
