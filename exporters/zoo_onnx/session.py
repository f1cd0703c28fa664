"""ONNX Runtime on the CPU, the runtime every exported file is checked in, fed and read in NHWC
whatever the file's layout, so that its outputs compare with Keras' as they are."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort


def cpu_session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def run(session: ort.InferenceSession, x: np.ndarray) -> list[np.ndarray]:
    """Every output for ``x`` fed to the first input."""
    return session.run(None, {session.get_inputs()[0].name: x})


def to_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """An NHWC array as a file of ``layout`` takes it (4-D arrays only)."""
    return (
        np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if layout == "nchw" and array.ndim == 4 else array
    )


def from_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """An output of a file of ``layout`` back in NHWC."""
    return array.transpose(0, 2, 3, 1) if layout == "nchw" and array.ndim == 4 else array


def run_nhwc(session: ort.InferenceSession, x: np.ndarray, layout: str) -> list[np.ndarray]:
    return [from_layout(o, layout) for o in run(session, to_layout(x, layout))]
