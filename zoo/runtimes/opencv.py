"""OpenCV DNN (``cv2.dnn.readNetFromONNX``) on the CPU, in float32.

OpenCV 5 parses a file with its new engine and, where that lacks an op, falls back to its
classic one (``ENGINE_AUTO``); either may refuse the file. Its log lines (warnings on stderr
about that fallback) are silenced while loading: a refusal is reported in one line naming the op.
Inputs are set by name and outputs asked for by the graph's output names.

OpenCV gives no way to stop a run: the matrix runs it only on files ONNX Runtime has already run
within ``ZOO_RUN_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.runtimes.base import Loaded, RuntimeRefused, one_line, since

INSTALL = "not installed: pip install 'keras-zoo[opencv]'"


def _cv2() -> Any | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2 if hasattr(cv2, "dnn") else None


@contextlib.contextmanager
def quiet(cv2: Any) -> Iterator[None]:
    """OpenCV's log silenced: its multi-line warnings would reach the user's terminal (OpenCV 5
    says so each time its new engine hands a file to the classic one)."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    get, set_ = (logging.getLogLevel, logging.setLogLevel) if logging else (None, None)
    if get is None and hasattr(cv2, "setLogLevel"):  # OpenCV 4
        get, set_ = cv2.getLogLevel, cv2.setLogLevel
    if get is None:
        yield
        return
    level = get()
    set_(0)  # LOG_LEVEL_SILENT
    try:
        yield
    finally:
        set_(level)


def missing_ops(text: str) -> tuple[str, ...]:
    """The op types OpenCV says it cannot create a layer for."""
    return tuple(dict.fromkeys(re.findall(r'of type "([\w.]+)"', text)))


def refusal(exc: BaseException, doing: str) -> RuntimeRefused:
    """OpenCV's error as one line: the op it has no layer for, else the node it failed on and
    the innermost assertion (``zpshape == scshape (in dequantizeLinear)``), not source paths."""
    text = str(exc)
    ops = missing_ops(text)
    if ops:
        return RuntimeRefused(f"OpenCV DNN has no layer for {', '.join(ops)}", ops)
    node = re.search(r"Node \[([\w.]+)@[\w.]*\]:\(([^)]*)\)", text)
    errors = re.findall(r"error: \([^)]*\)\s*(.+?)(?: in function '(\w+)')?\s*$", text, re.MULTILINE)
    said = ""
    if errors:
        message, function = errors[-1]
        said = message.strip() + (f" (in {function})" if function else "")
    where = f" at its {node.group(1)} node ({node.group(2).split('!')[-1]})" if node else ""
    return RuntimeRefused(f"OpenCV DNN cannot {doing} it{where}: {one_line(said or text)}")


class OpenCv:
    name = "opencv"

    def unavailable(self) -> str | None:
        return INSTALL if _cv2() is None else None

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        import cv2
        import numpy as np
        import onnx

        if precision not in (None, "float32"):
            raise RuntimeRefused(f"OpenCV DNN on the CPU computes in float32; no {precision} hint")
        proto = onnx.load(str(path), load_external_data=False)
        initializers = {t.name for t in proto.graph.initializer}
        inputs = [i.name for i in proto.graph.input if i.name not in initializers]
        outputs = [o.name for o in proto.graph.output]
        started = time.perf_counter()
        with quiet(cv2):
            try:
                net = cv2.dnn.readNetFromONNX(str(path))
            except Exception as exc:
                raise refusal(exc, "read") from exc
        if net.empty():
            raise RuntimeRefused("OpenCV DNN read it as an empty network")
        loaded = since(started)

        def run(feeds: dict[str, Any]) -> list[Any]:
            with quiet(cv2):
                try:
                    for name in inputs:
                        net.setInput(np.ascontiguousarray(feeds[name]), name)
                    got = net.forward(outputs)
                except cv2.error as exc:
                    raise refusal(exc, "run") from exc
            return [np.array(a, copy=True) for a in got]

        # float32 on the CPU (a float16 file's weights are widened as it is read); a QDQ file's
        # matrix products run in int8 where OpenCV makes int8 layers of them (MatMulInt8)
        int8 = any(str(kind).endswith("Int8") for kind in net.getLayerTypes())
        return Loaded(
            input_names=inputs,
            output_names=outputs,
            precision="float32+int8" if int8 else "float32",
            device="CPU",
            load_seconds=loaded,
            runner=run,
            detail=f"opencv {cv2.__version__}",
        )
