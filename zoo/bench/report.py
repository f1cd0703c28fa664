"""What every benchmark report says besides its rows (schema ``zoo-bench/1``,
docs/bench-json.md): the session asked for and really used, and the machine."""

from __future__ import annotations

import time
from typing import Any

from zoo.bench.machine import machine
from zoo.bench.sessions import OpenSession

SCHEMA = "zoo-bench/1"


def session_report(opened: OpenSession) -> dict[str, Any]:
    """Provider asked for and the providers really used (``tensorrt+cuda`` when TensorRT took
    only part of the graph), why not the GPU, the nodes a GPU session runs on the CPU, the
    settings."""
    import onnxruntime as ort

    return {
        "provider": opened.label,
        "requested": opened.requested,
        "nodes_per_provider": opened.nodes_per_provider,
        "execution_providers": opened.session.get_providers(),
        "fallback": opened.fallback,
        "cpu_nodes": opened.cpu_nodes,
        "cpu_ep_fallback": "disabled" if opened.on_gpu and not opened.cpu_nodes else "allowed",
        "session_options": opened.settings.recorded(opened.provider),
        "onnxruntime": ort.__version__,
        "machine": machine(),
    }


# The keys of ``session_report`` that only ONNX Runtime has: null when it was not timed
# (``--runtime openvino``).
ONNXRUNTIME_KEYS = (
    "provider",
    "requested",
    "nodes_per_provider",
    "execution_providers",
    "fallback",
    "cpu_nodes",
    "cpu_ep_fallback",
    "session_options",
    "onnxruntime",
)


def onnxruntime_report(opened: OpenSession | None) -> dict[str, Any]:
    """``session_report`` of ``opened``, or every one of its keys null where ONNX Runtime was
    not timed; the machine either way."""
    if opened is None:
        return {**dict.fromkeys(ONNXRUNTIME_KEYS), "machine": machine()}
    return session_report(opened)


def now() -> str:
    """When a report was measured (UTC, ISO 8601)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
