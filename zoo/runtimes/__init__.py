"""Runtimes that run an exported ONNX file: ``get(name)`` one, ``parse("a,b")`` a list.

Nothing here imports a runtime's package; each module imports its own only when loading a file.
"""

from __future__ import annotations

import importlib

from zoo.core.errors import InvalidOption
from zoo.runtimes.base import Loaded, Runtime, RuntimeRefused

RUNTIME_NAMES = ("onnxruntime", "reference", "openvino", "opencv", "tensorrt")

_CLASSES = {
    "onnxruntime": "zoo.runtimes.onnxruntime:OnnxRuntime",
    "reference": "zoo.runtimes.reference:Reference",
    "openvino": "zoo.runtimes.openvino:OpenVino",
    "opencv": "zoo.runtimes.opencv:OpenCv",
    "tensorrt": "zoo.runtimes.tensorrt:TensorRt",
}


def get(name: str) -> Runtime:
    """The runtime called ``name``; ``InvalidOption`` naming the known ones otherwise."""
    if name not in _CLASSES:
        raise InvalidOption(f"Unknown runtime {name!r}; known runtimes: {', '.join(RUNTIME_NAMES)}")
    module, attr = _CLASSES[name].split(":")
    return getattr(importlib.import_module(module), attr)()


def parse(list_text: str) -> list[Runtime]:
    """``"onnxruntime,openvino"`` -> those runtimes, in that order, each once."""
    names = [n.strip().lower() for n in list_text.split(",") if n.strip()]
    if not names:
        raise InvalidOption(f"--runtime names no runtime; known runtimes: {', '.join(RUNTIME_NAMES)}")
    return [get(n) for n in dict.fromkeys(names)]


__all__ = ["RUNTIME_NAMES", "Loaded", "Runtime", "RuntimeRefused", "get", "parse"]
