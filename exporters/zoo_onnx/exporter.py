"""ONNX export: the full model and each part, each checked and compared with Keras.

Conversion is Keras' own ``Model.export(format="onnx")`` (tf2onnx underneath). Every file is
checked by ``onnx.checker`` (full check) and run in ONNX Runtime on the CPU against Keras on
real test inputs at two batch sizes; the parts are also chained and compared with the full model.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from zoo import __version__
from zoo.errors import ExportValidationError
from zoo.export import ExportJob

DEFAULT_OPSET = 17
TOLERANCE = 1e-5


def _file_name(part: str) -> str:
    return "model.onnx" if part == "full" else f"{part}.onnx"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tensor_info(value: onnx.ValueInfoProto) -> dict[str, Any]:
    tensor = value.type.tensor_type
    shape = [d.dim_param or (d.dim_value if d.HasField("dim_value") else None) for d in tensor.shape.dim]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    return {"name": value.name, "shape": shape, "dtype": dtype}


def _convert(model: Any, path: Path, opset: int) -> None:
    import keras

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    signature = [
        keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32", name=model.input.name)
    ]
    model.export(str(path), format="onnx", input_signature=signature, opset_version=opset, verbose=False)


def _convert_and_check(model: Any, path: Path, opset: int, part: str) -> onnx.ModelProto:
    """Convert, then run the full ONNX check; either failing fails the export, naming the part."""
    try:
        _convert(model, path, opset)
    except Exception as exc:
        message = " ".join(str(exc).split())[:300]
        raise ExportValidationError(
            f"Converting {part!r} to ONNX (opset {opset}) failed: {type(exc).__name__}: {message}"
        ) from exc
    proto = onnx.load(str(path))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        message = " ".join(str(exc).split())[:300]
        raise ExportValidationError(f"{path.name} fails onnx.checker: {message}") from exc
    return proto


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _run(session: ort.InferenceSession, x: np.ndarray) -> list[np.ndarray]:
    return session.run(None, {session.get_inputs()[0].name: x})


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def _keras(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """Keras' outputs, called eagerly (``predict`` would retrace for every new batch size)."""
    import keras

    outputs = model(x, training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


def _parity(session: ort.InferenceSession, model: Any, x: np.ndarray, batches: list[int]) -> float:
    """The largest difference over every output, at each batch size."""
    worst = 0.0
    for batch in batches:
        expected = _keras(model, x[:batch])
        got = _run(session, x[:batch])
        if len(got) != len(expected):
            raise ExportValidationError(
                f"the ONNX graph has {len(got)} outputs where the Keras model has {len(expected)}"
            )
        for a, b in zip(got, expected, strict=True):
            if a.shape != b.shape:
                raise ExportValidationError(f"ONNX output shape {a.shape} differs from Keras' {b.shape}")
            worst = max(worst, _max_abs(a, b))
    return worst


def export(job: ExportJob) -> dict[str, Any]:
    """Write ``model.onnx`` and ``<part>.onnx`` into ``job.out_dir``; return the manifest."""
    opset = int(job.options.get("opset") or DEFAULT_OPSET)
    x = job.samples.astype(np.float32)
    batches = sorted({1, len(x)})

    # Inputs of each stage: the full model and the first part take images; each later part
    # takes what Keras' previous part hands on (its first output) for them.
    stages: list[tuple[str, Any, np.ndarray]] = [("full", job.model, x)]
    h = x
    for name, part in job.parts.items():
        stages.append((name, part, h))
        h = _keras(part, h)[0]

    files: list[dict[str, Any]] = []
    sessions: dict[str, ort.InferenceSession] = {}
    for part, model, inputs in stages:
        path = job.out_dir / _file_name(part)
        proto = _convert_and_check(model, path, opset, part)
        sessions[part] = _session(path)
        diff = _parity(sessions[part], model, inputs, batches)
        passed = diff <= TOLERANCE
        files.append(
            {
                "part": part,
                "file": path.name,
                "sha256": _sha256(path),
                "bytes": path.stat().st_size,
                "opset": next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                "inputs": [_tensor_info(v) for v in proto.graph.input],
                "outputs": [_tensor_info(v) for v in proto.graph.output],
                "checker": "onnx.checker full check passed",
                "parity": {
                    "against": "keras",
                    "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
                    "batch_sizes": batches,
                    "max_abs_diff": diff,
                    "tolerance": TOLERANCE,
                },
                "passed": passed,
                "reason": None if passed else f"max abs difference {diff:.3g} > {TOLERANCE:g}",
            }
        )

    chained = x
    for name in job.parts:
        chained = _run(sessions[name], chained)[0]
    chain_diff = _max_abs(chained, _keras(job.model, x)[0])
    links = [
        {
            "from": a,
            "output": files[i + 1]["outputs"][0],
            "to": b,
            "input": files[i + 2]["inputs"][0],
        }
        for i, (a, b) in enumerate(zip(list(job.parts), list(job.parts)[1:], strict=False))
    ]
    return {
        "format": "onnx",
        "zoo_version": __version__,
        "architecture": job.spec.name,
        "plugin": job.spec.plugin,
        "run": str(job.run.path.resolve()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "opset": opset,
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "tf2onnx": _tf2onnx_version()},
        "preprocessing": job.run.config.get("preprocessing", []),
        "layout": "NHWC",
        "files": files,
        "links": links,
        "chain": {
            "parts": list(job.parts),
            "against": "keras full model",
            "batch_size": len(x),
            "max_abs_diff": chain_diff,
            "tolerance": TOLERANCE,
            "passed": chain_diff <= TOLERANCE,
        },
    }


def _tf2onnx_version() -> str:
    import tf2onnx

    return tf2onnx.__version__
