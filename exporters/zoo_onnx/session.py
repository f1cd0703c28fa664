"""ONNX Runtime on the CPU, the runtime every exported file is checked in, fed and read in NHWC
whatever the file's layout, so that its outputs compare with Keras' as they are.

A file's inputs are a list of arrays, one per graph input in the file's order (a U-Net's decoder
takes ``[code, skip1, skip2]``); the first part and the full model take ``[image]``.

Every run is held to a time limit, ``ZOO_RUN_TIMEOUT`` seconds (60 by default): a file from
elsewhere may hold a Loop of 10^12 iterations. A timer sets the run's ``RunOptions.terminate``,
which ONNX Runtime checks between nodes and between a Loop's or Scan's iterations; the run then
fails with ``RunTimedOut``, naming the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
import onnx
import onnxruntime as ort

from zoo.api import ModelFileError, limit

# zoo.core.settings.RUN_TIMEOUT: a plugin reads the environment itself (it imports zoo.api only)
RUN_TIMEOUT = "ZOO_RUN_TIMEOUT"
DEFAULT_SECONDS = 60.0
T = TypeVar("T")


class RunTimedOut(ModelFileError):
    """A run of a file that went past the time limit and was stopped."""


def run_limit() -> float:
    """Seconds one run may take: ``ZOO_RUN_TIMEOUT``, else 60; ``InvalidOption`` for a value that is
    no positive number."""
    return limit(RUN_TIMEOUT, DEFAULT_SECONDS)


def timed_out(runtime: str, seconds: float) -> RunTimedOut:
    return RunTimedOut(
        f"{runtime} stopped after {seconds:g} s, the limit on one run "
        f"(raise {RUN_TIMEOUT} for a model this slow)"
    )


def limited(call: Callable[[ort.RunOptions], T]) -> T:
    """``call(options)``, whose run ONNX Runtime stops once it passes ``run_limit()`` seconds."""
    seconds = run_limit()
    options = ort.RunOptions()
    options.log_severity_level = 4  # the stop is reported in one line, not logged as well
    timer = threading.Timer(seconds, lambda: setattr(options, "terminate", True))
    timer.start()
    try:
        return call(options)
    except Exception as exc:
        if options.terminate:
            raise timed_out("ONNX Runtime", seconds) from exc
        raise
    finally:
        timer.cancel()


def cpu_session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def feed(session: ort.InferenceSession, inputs: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """``inputs`` by the names of the session's inputs, in order; as many as it takes."""
    names = [v.name for v in session.get_inputs()]
    if len(names) != len(inputs):
        raise ValueError(f"the file takes {len(names)} inputs ({', '.join(names)}), given {len(inputs)}")
    return dict(zip(names, inputs, strict=True))


def run(session: ort.InferenceSession, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every output for ``inputs``, one array per input of the file, within the time limit."""
    fed = feed(session, inputs)
    return limited(lambda options: session.run(None, fed, options))


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
