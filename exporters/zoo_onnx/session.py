"""ONNX Runtime on the CPU, the runtime every exported file is checked in, fed and read in NHWC
whatever the file's layout, so that its outputs compare with Keras' as they are.

A file's inputs are a list of arrays, one per graph input in the file's order (a U-Net's decoder
takes ``[code, skip1, skip2]``); the first part and the full model take ``[image]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort


def cpu_session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def feed(session: ort.InferenceSession, inputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """``inputs`` by the names of the session's inputs, in order; as many as it takes."""
    names = [v.name for v in session.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"the file takes {len(names)} inputs ({', '.join(names)}), given {len(inputs)}")
    return dict(zip(names, inputs, strict=True))


def run(session: ort.InferenceSession, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every output for ``inputs``, one array per input of the file."""
    return session.run(None, feed(session, inputs))


def first(inputs: Sequence[np.ndarray], batch: int) -> list[np.ndarray]:
    """The first ``batch`` rows of each input."""
    return [a[:batch] for a in inputs]


def to_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """An NHWC array as a file of ``layout`` takes it (4-D arrays only)."""
    return (
        np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if layout == "nchw" and array.ndim == 4 else array
    )


def from_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """An output of a file of ``layout`` back in NHWC."""
    return array.transpose(0, 2, 3, 1) if layout == "nchw" and array.ndim == 4 else array


def run_nhwc(session: ort.InferenceSession, inputs: Sequence[np.ndarray], layout: str) -> list[np.ndarray]:
    """Every output, in NHWC, of a file of ``layout`` fed ``inputs`` in NHWC (each 4-D one
    transposed as the file takes it)."""
    return [from_layout(o, layout) for o in run(session, [to_layout(a, layout) for a in inputs])]
