"""ONNX export: the full model and each part, each checked and compared with Keras.

Conversion is Keras' own ``Model.export(format="onnx")`` (tf2onnx underneath). Every file is
checked by ``onnx.checker`` (full check) and run in ONNX Runtime on the CPU against Keras on
real test inputs at two batch sizes; the parts are also chained and compared with the full model.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from zoo import __version__
from zoo.errors import ExportValidationError
from zoo.export import ExportJob
from zoo_onnx import naming

DEFAULT_OPSET = 17
TOLERANCE = 1e-5
TEST_DATA = "test_data"  # <part>/model.onnx + test_data_set_0/, the ONNX Model Zoo layout
TEST_SET_BATCH = 8


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
    _check(proto, path.name)
    return proto


def _check(proto: onnx.ModelProto, name: str) -> None:
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        message = " ".join(str(exc).split())[:300]
        raise ExportValidationError(f"{name} fails onnx.checker: {message}") from exc


def _session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


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


def _parity(
    session: ort.InferenceSession, model: Any, x: np.ndarray, batches: list[int], names: list[str]
) -> dict[str, dict[str, float]]:
    """Per output, the largest absolute and relative (to the largest Keras value) difference
    over the batch sizes."""
    worst = {name: {"max_abs_diff": 0.0, "max_rel_diff": 0.0} for name in names}
    for batch in batches:
        expected = _keras(model, x[:batch])
        got = _run(session, x[:batch])
        if len(got) != len(expected):
            raise ExportValidationError(
                f"the ONNX graph has {len(got)} outputs where the Keras model has {len(expected)}"
            )
        for name, a, b in zip(names, got, expected, strict=True):
            if a.shape != b.shape:
                raise ExportValidationError(f"ONNX output shape {a.shape} differs from Keras' {b.shape}")
            diff = _max_abs(a, b)
            scale = max(float(np.max(np.abs(b))), 1e-12)
            worst[name]["max_abs_diff"] = max(worst[name]["max_abs_diff"], diff)
            worst[name]["max_rel_diff"] = max(worst[name]["max_rel_diff"], diff / scale)
    return worst


def _output_layer_names(model: Any) -> list[str]:
    names = getattr(model, "output_names", None)
    return list(names) if names else [t._keras_history.operation.name for t in model.outputs]


def _same_size_as_image(proto: onnx.ModelProto) -> set[str]:
    """Outputs of the full model whose free spatial axes follow the image's (probed at two sizes)."""
    graph = proto.graph
    if not naming.free_spatial_axes(graph.input[0]):
        return set()
    session = _session(proto)
    channels = graph.input[0].type.tensor_type.shape.dim[3].dim_value or 1
    same = {o.name for o in graph.output if naming.free_spatial_axes(o)}
    for height, width in ((32, 32), (64, 48)):
        outputs = _run(session, np.zeros((1, height, width, channels), np.float32))
        for value, out in zip(graph.output, outputs, strict=True):
            if out.ndim != 4 or out.shape[1:3] != (height, width):
                same.discard(value.name)
    return same


def _metadata(job: ExportJob, part: str, names: dict[str, list[str]]) -> dict[str, str]:
    """What a file says about itself (``metadata_props``), so it can travel alone."""
    config = job.run.config
    metrics = {k: v for k, v in job.run.metrics.items() if k.startswith("test_")}
    return {
        "zoo.version": __version__,
        "zoo.architecture": job.spec.name,
        "zoo.plugin": f"{job.spec.plugin} {config.get('plugin_version') or ''}".strip(),
        "zoo.part": part,
        "zoo.parts": json.dumps(["full", *job.parts]),
        "zoo.task": job.spec.task,
        "zoo.dataset": str(config.get("dataset", "")),
        "zoo.preprocessing": json.dumps(config.get("preprocessing", [])),
        "zoo.input_range": "[0, 1] float32",
        "zoo.layout": "NHWC",
        "zoo.class_labels": json.dumps(config.get("class_names", [])),
        "zoo.inputs": json.dumps(names["inputs"]),
        "zoo.outputs": json.dumps(names["outputs"]),
        "zoo.training_metrics": json.dumps(metrics),
        "zoo.untrained": json.dumps(bool(job.options.get("untrained"))),
    }


def _set_metadata(proto: onnx.ModelProto, values: dict[str, str]) -> None:
    keep = [p for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in values.items():
        proto.metadata_props.add(key=key, value=value)


def _write_test_set(
    folder: Path, model_file: Path, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]
) -> None:
    """ONNX Model Zoo layout: ``folder/model.onnx`` (a hard link to the file) and
    ``folder/test_data_set_0/input_0.pb``, ``output_0.pb``, ... as TensorProtos."""
    data = folder / "test_data_set_0"
    data.mkdir(parents=True)
    try:
        os.link(model_file, folder / "model.onnx")
    except OSError:
        shutil.copyfile(model_file, folder / "model.onnx")
    for kind, tensors in (("input", inputs), ("output", outputs)):
        for i, (name, array) in enumerate(tensors.items()):
            tensor = onnx.numpy_helper.from_array(np.ascontiguousarray(array), name=name)
            (data / f"{kind}_{i}.pb").write_bytes(tensor.SerializeToString())


def export(job: ExportJob) -> dict[str, Any]:
    """Write ``model.onnx`` and ``<part>.onnx`` into ``job.out_dir``; return the manifest."""
    opset = int(job.options.get("opset") or DEFAULT_OPSET)
    x = job.samples.astype(np.float32)
    batches = sorted({1, len(x)})
    parts = list(job.parts)

    # Inputs of each stage: the full model and the first part take images; each later part
    # takes what Keras' previous part hands on (its first output) for them.
    stages: list[tuple[str, Any, np.ndarray]] = [("full", job.model, x)]
    h = x
    for name, part in job.parts.items():
        stages.append((name, part, h))
        h = _keras(part, h)[0]

    files: list[dict[str, Any]] = []
    sessions: dict[str, ort.InferenceSession] = {}
    same_size: set[str] = set()
    for stage, model, inputs in stages:
        path = job.out_dir / _file_name(stage)
        proto = _convert_and_check(model, path, opset, stage)
        extra = _output_layer_names(model)[1:]
        input_names, output_names = naming.stage_names(
            job.spec.task, job.spec.family, stage, parts, extra, proto.graph
        )
        if stage == "full":
            same_size = (
                {output_names[0]} if proto.graph.output[0].name in _same_size_as_image(proto) else set()
            )
        naming.apply(proto, input_names, output_names, same_size)
        names = {"inputs": input_names, "outputs": output_names}
        _set_metadata(proto, _metadata(job, stage, names))
        _check(proto, path.name)
        sessions[stage] = _session(proto)
        parity = _parity(sessions[stage], model, inputs, batches, output_names)
        diff = max(p["max_abs_diff"] for p in parity.values())
        passed = diff <= TOLERANCE
        validation = {
            "checker": "onnx.checker full check passed",
            "against": "keras",
            "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
            "batch_sizes": batches,
            "max_abs_diff": diff,
            "outputs": parity,
            "tolerance": TOLERANCE,
            "passed": passed,
        }
        _set_metadata(proto, {"zoo.validation": json.dumps(validation)})
        onnx.save(proto, str(path))
        test_inputs = {input_names[0]: inputs[:TEST_SET_BATCH]}
        test_outputs = dict(zip(output_names, _keras(model, inputs[:TEST_SET_BATCH]), strict=True))
        _write_test_set(job.out_dir / TEST_DATA / stage, path, test_inputs, test_outputs)
        files.append(
            {
                "part": stage,
                "file": path.name,
                "sha256": _sha256(path),
                "bytes": path.stat().st_size,
                "opset": next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                "inputs": [_tensor_info(v) for v in proto.graph.input],
                "outputs": [_tensor_info(v) for v in proto.graph.output],
                "checker": validation["checker"],
                "parity": {k: v for k, v in validation.items() if k not in ("checker", "passed")},
                "test_set": f"{TEST_DATA}/{stage}",
                "passed": passed,
                "reason": None if passed else f"max abs difference {diff:.3g} > {TOLERANCE:g}",
            }
        )

    chained = x
    for name in parts:
        chained = _run(sessions[name], chained)[0]
    chain_diff = _max_abs(chained, _keras(job.model, x)[0])
    links = [
        {
            "from": a,
            "output": files[i + 1]["outputs"][0],
            "to": b,
            "input": files[i + 2]["inputs"][0],
            "agree": files[i + 1]["outputs"][0] == files[i + 2]["inputs"][0],
        }
        for i, (a, b) in enumerate(itertools.pairwise(parts))
    ]
    config = job.run.config
    return {
        "format": "onnx",
        "zoo_version": __version__,
        "architecture": job.spec.name,
        "plugin": job.spec.plugin,
        "run": str(job.run.path.resolve()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "opset": opset,
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "tf2onnx": _tf2onnx_version()},
        "dataset": config.get("dataset"),
        "preprocessing": config.get("preprocessing", []),
        "class_labels": config.get("class_names", []),
        "layout": "NHWC",
        "files": files,
        "links": links,
        "chain": {
            "parts": parts,
            "against": "keras full model",
            "batch_size": len(x),
            "max_abs_diff": chain_diff,
            "tolerance": TOLERANCE,
            "passed": chain_diff <= TOLERANCE and all(link["agree"] for link in links),
        },
    }


def _tf2onnx_version() -> str:
    import tf2onnx

    return tf2onnx.__version__
