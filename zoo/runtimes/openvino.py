"""OpenVINO on the CPU, reporting the precision it really computes in.

On a CPU with AVX-512 BF16 (or AMX) OpenVINO's CPU plugin runs float32 files in bfloat16 by
default, without a word (LeNet-5's probabilities moved by 2.3e-3 against ONNX Runtime's). So the
compiled model's ``INFERENCE_PRECISION_HINT`` is read back and reported, and ``precision="float32"``
sets it to f32 explicitly, which ``zoo verify`` does for its matrix.
"""

from __future__ import annotations

import ctypes
import math
import re
import time
from pathlib import Path
from typing import Any

from zoo.runtimes.base import Loaded, RuntimeRefused, one_line, since
from zoo.runtimes.limits import RunTimedOut, run_limit

INSTALL = "not installed: pip install 'keras-zoo[openvino]'"
DEVICE = "CPU"
CANCEL_GRACE_MS = 1000  # how long a cancelled request may take to stop between two nodes
# OpenVINO's element types as zoo names precisions
PRECISIONS = {
    "f32": "float32",
    "bf16": "bfloat16",
    "f16": "float16",
    "f64": "float64",
    "i8": "int8",
    "u8": "int8",
}
HINTS = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}
# layers that move data rather than compute: their precision says nothing of the model's
MOVING = {"Input", "Output", "Const", "Reorder", "Reshape", "Transpose", "Convert", "Squeeze", "Unsqueeze"}


def _ov() -> Any | None:
    try:
        import openvino
    except ImportError:
        return None
    return openvino


def precision_name(element_type: Any) -> str:
    """``<Type: 'bfloat16'>`` -> ``bfloat16``."""
    name = element_type.get_type_name() if hasattr(element_type, "get_type_name") else str(element_type)
    return PRECISIONS.get(name, name)


def executed_precision(compiled: Any, hint: str) -> str:
    """What the compiled model really computes in, from the graph OpenVINO executes (each layer's
    ``runtimePrecision``): ``float32``, ``bfloat16``, or a mixture, most layers first
    (``float32+int8`` for a QDQ file, whose matrix products the hint leaves in int8;
    ``float32+bfloat16`` where the default lowered some layers only). Layers that only move data
    and integer index arithmetic do not count; the hint where nothing is found."""
    counts: dict[str, int] = {}
    try:
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            kind = info["layerType"].astype(str) if "layerType" in info else op.get_type_name()
            found = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else None
            if kind not in MOVING and found in PRECISIONS:
                counts[PRECISIONS[found]] = counts.get(PRECISIONS[found], 0) + 1
    except Exception:  # a release without these keys: what was asked for
        return hint
    return "+".join(sorted(counts, key=lambda k: -counts[k])) if counts else hint


def unconverted_ops(text: str) -> tuple[str, ...]:
    """The ONNX ops OpenVINO's front end names as having no conversion rule (``Det-17``), or as
    not supported (older releases' words)."""
    found: list[str] = []
    for said in re.findall(
        r"(?:No conversion rule found for operations|not support the following ONNX operations):\s*([^\n]+)",
        text,
    ):
        found += [re.sub(r"-\d+$", "", op.strip()) for op in said.split(",") if op.strip()]
    return tuple(dict.fromkeys(op for op in found if op))


def failed_conversions(text: str) -> tuple[str, ...]:
    """The ops OpenVINO 2026's front end names in ``-- Conversion is failed for: Loop-17``."""
    said = re.findall(r"Conversion is failed for:\s*([\w.-]+)", text)
    found = [re.sub(r"-\d+$", "", op.strip()) for op in said]
    return tuple(dict.fromkeys(op for op in found if op))


def wait_ms(seconds: float) -> int:
    """``seconds`` as ``InferRequest.wait_for``'s milliseconds: at least 1 (0 would never wait)."""
    return max(1, math.ceil(seconds * 1000))


def cancel(request: Any, *keep: Any) -> bool:
    """Cancel a request that ran past its time; True if it is still running. OpenVINO's CPU plugin
    stops between top-level nodes but not inside one (a Loop), and destroying a running request
    waits for it (110 s for a 10^7-iteration Loop, at the interpreter's exit too). Such a request,
    and what it runs (``keep``: the compiled model), is kept for good, so zoo exits without waiting."""
    request.cancel()
    try:
        running = not request.wait_for(CANCEL_GRACE_MS)
    except Exception:  # "Infer Request was canceled": it stopped
        running = False
    if running:
        for obj in (request, *keep):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(obj))  # never dropped, not even at exit
    return running


def refusal(exc: BaseException, doing: str) -> RuntimeRefused:
    """OpenVINO's many-line error as one line: the ops it lacks where it names them, else the
    line that says what failed (not the ``Exception from src/...`` location lines)."""
    text = str(exc)
    ops = unconverted_ops(text)
    if ops:
        return RuntimeRefused(f"OpenVINO has no conversion for {', '.join(ops)}", ops)
    failed = failed_conversions(text)
    if failed:  # an op it has a rule for, refused as this file uses it (2026.4: OpConversionFailure)
        ops_said = ", ".join(failed)
        return RuntimeRefused(f"OpenVINO could not convert the file's {ops_said} as used there", failed)
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith(("Exception from", "Check '"))
    ]
    return RuntimeRefused(f"OpenVINO cannot {doing} it: {one_line(lines[0] if lines else text)}")


class OpenVino:
    name = "openvino"

    def unavailable(self) -> str | None:
        ov = _ov()
        if ov is None:
            return INSTALL
        try:
            if DEVICE not in ov.Core().available_devices:
                return f"OpenVINO finds no {DEVICE} device here"
        except Exception as exc:  # a broken install
            return f"OpenVINO cannot start: {one_line(str(exc))}"
        return None

    def default_precision(self) -> str:
        """The precision OpenVINO's CPU plugin uses here when not told (bfloat16 on AVX-512 BF16)."""
        import openvino as ov

        return precision_name(ov.Core().get_property(DEVICE, "INFERENCE_PRECISION_HINT"))

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        import numpy as np
        import openvino as ov

        config = {}
        if precision is not None:
            if precision not in HINTS:
                raise RuntimeRefused(f"OpenVINO takes no precision {precision!r} ({', '.join(HINTS)})")
            config["INFERENCE_PRECISION_HINT"] = HINTS[precision]
        core = ov.Core()
        started = time.perf_counter()
        try:
            model = core.read_model(str(path))
        except Exception as exc:
            raise refusal(exc, "read") from exc
        try:
            compiled = core.compile_model(model, DEVICE, config)
        except Exception as exc:
            raise refusal(exc, "compile") from exc
        loaded = since(started)
        used = executed_precision(compiled, precision_name(compiled.get_property("INFERENCE_PRECISION_HINT")))
        request = compiled.create_infer_request()
        outputs = list(compiled.outputs)

        def run(feeds: dict[str, Any]) -> list[Any]:
            seconds = run_limit()
            try:
                request.start_async({k: np.ascontiguousarray(v) for k, v in feeds.items()})
                done = request.wait_for(wait_ms(seconds))
            except Exception as exc:
                raise refusal(exc, "run") from exc
            if not done:
                cancel(request, compiled)
                raise RunTimedOut("OpenVINO", seconds)
            return [np.array(request.get_tensor(o).data, copy=True) for o in outputs]

        return Loaded(
            input_names=[i.get_any_name() for i in compiled.inputs],
            output_names=[o.get_any_name() for o in outputs],
            precision=used,
            device=DEVICE,
            load_seconds=loaded,
            runner=run,
            detail=f"openvino {ov.__version__.split('-')[0]}",
        )
