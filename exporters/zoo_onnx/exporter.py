"""ONNX export: the full model and each part, each checked and compared with Keras.

Conversion is Keras' own ``Model.export(format="onnx")`` (tf2onnx underneath). Every file is
checked by ``onnx.checker`` (full check) and run in ONNX Runtime on the CPU against Keras on
real test inputs at two batch sizes; the parts are also chained and compared with the full model.
"""

from __future__ import annotations

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

from zoo.api import (
    TEST_DATA,
    ExportJob,
    ExportValidationError,
    InvalidOption,
    __version__,
    stage_file,
    stage_test_set,
)
from zoo_onnx import layout as layout_
from zoo_onnx import naming, rewrite
from zoo_onnx import precision as precision_
from zoo_onnx.verify import sha256_of

DEFAULT_OPSET = 17
MIN_OPSET = 7  # what `zoo export --opset` accepts at the least
TOLERANCE = 1e-5
TEST_SET_BATCH = 8
EVALUATION_SAMPLES = 1000  # test images a lower-precision file is scored on
CALIBRATION_SAMPLES = 256  # training images static int8 quantization calibrates on


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
    session: ort.InferenceSession,
    model: Any,
    x: np.ndarray,
    batches: list[int],
    names: list[str],
    layout: str = "nhwc",
) -> dict[str, dict[str, float]]:
    """Per output, the largest absolute and relative (to the largest Keras value) difference
    over the batch sizes."""
    worst = {name: {"max_abs_diff": 0.0, "max_rel_diff": 0.0} for name in names}
    for batch in batches:
        expected = _keras(model, x[:batch])
        got = _run_nhwc(session, x[:batch], layout)
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


def _follows_image_size(proto: onnx.ModelProto) -> bool:
    """Whether the full model's output has free spatial axes equal to the image's (probed at two
    sizes), so that they can share the names ``height`` and ``width``."""
    graph = proto.graph
    if not naming.free_spatial_axes(graph.input[0]) or not naming.free_spatial_axes(graph.output[0]):
        return False
    session = _session(proto)
    channels = graph.input[0].type.tensor_type.shape.dim[3].dim_value or 1
    for height, width in ((32, 32), (64, 48)):
        out = _run(session, np.zeros((1, height, width, channels), np.float32))[0]
        if out.ndim != 4 or out.shape[1:3] != (height, width):
            return False
    return True


def _metadata(
    job: ExportJob, part: str, names: dict[str, list[str]], layout: str, precision: str
) -> dict[str, str]:
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
        "zoo.layout": layout.upper(),
        "zoo.precision": precision,
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


def _to_layout(array: np.ndarray, layout: str) -> np.ndarray:
    return (
        np.ascontiguousarray(array.transpose(0, 3, 1, 2)) if layout == "nchw" and array.ndim == 4 else array
    )


def _from_layout(array: np.ndarray, layout: str) -> np.ndarray:
    return array.transpose(0, 2, 3, 1) if layout == "nchw" and array.ndim == 4 else array


class _Stages:
    """The full model and its parts as Keras runs them, to feed and finish any one of them."""

    def __init__(self, job: ExportJob) -> None:
        self.models = {"full": job.model, **job.parts}
        self.parts = list(job.parts)

    def inputs(self, stage: str, images: np.ndarray) -> np.ndarray:
        """What ``stage`` takes for ``images``: the images, or what the parts before it hand on."""
        if stage == "full":
            return images
        h = images
        for part in self.parts[: self.parts.index(stage)]:
            h = _keras(self.models[part], h)[0]
        return h

    def finish(self, stage: str, handed_on: np.ndarray) -> np.ndarray:
        """The final output, from what ``stage`` handed on, through the parts after it."""
        if stage == "full":
            return handed_on
        h = handed_on
        for part in self.parts[self.parts.index(stage) + 1 :]:
            h = _keras(self.models[part], h)[0]
        return h


def _run_nhwc(session: ort.InferenceSession, x: np.ndarray, layout: str) -> list[np.ndarray]:
    return [_from_layout(o, layout) for o in _run(session, _to_layout(x, layout))]


def export(job: ExportJob) -> dict[str, Any]:
    """Write ``model.onnx`` and ``<part>.onnx`` into ``job.out_dir``; return the manifest."""
    options = job.options
    opset = int(options.get("opset") or DEFAULT_OPSET)
    newest = _newest_opset()
    if not MIN_OPSET <= opset <= newest:  # the user's to change, not a failed export
        raise InvalidOption(
            f"--opset {opset}: the ONNX exporter writes opsets {MIN_OPSET} to {newest} "
            f"(tf2onnx {_tf2onnx_version()})"
        )
    layout = options.get("layout") or "nhwc"
    quantize = options.get("quantize")
    precision = "int8" if quantize else options.get("dtype") or "fp32"
    parts = list(job.parts)
    wanted = options.get("stages") or ["full", *parts]
    x = job.samples.astype(np.float32)
    batches = sorted({1, len(x)})
    stages = _Stages(job)

    evaluation = None
    if precision != "fp32":
        arrays = job.load_data()
        if arrays is not None:
            evaluation = (
                arrays.x_test[:EVALUATION_SAMPLES],
                arrays.y_test[:EVALUATION_SAMPLES],
                arrays.x_train,
            )
            source = f"the first {len(evaluation[0])} test images of {job.run.config.get('dataset')}"
        else:
            _, y = job.run.samples()
            evaluation = (x, y, x)
            source = f"the run's {len(x)} test samples (its dataset cannot be loaded here)"
        reference_metric = precision_.metric(
            job.spec.task, _keras(job.model, evaluation[0])[0], evaluation[0], evaluation[1]
        )

    files: list[dict[str, Any]] = []
    sessions: dict[str, ort.InferenceSession] = {}
    same_size: set[str] = set()
    for stage in ["full", *parts]:
        if stage not in wanted:
            continue
        model = stages.models[stage]
        inputs = stages.inputs(stage, x)
        path = job.out_dir / stage_file(stage)
        proto = _convert_and_check(model, path, opset, stage)
        # Patterns ONNX Runtime's CUDA provider would run on the CPU, rewritten and proven exact.
        gpu_ready, rewrites = rewrite.make_gpu_ready(proto)
        rewrite_diff = None
        if rewrites:
            feed = proto.graph.input[0].name
            try:
                rewrite_diff = max(
                    rewrite.check_equivalent(proto, gpu_ready, {feed: inputs[:b]}, atol=TOLERANCE)
                    for b in batches
                )
            except ExportValidationError as exc:
                raise ExportValidationError(f"{stage}: {exc}") from exc
            proto = gpu_ready
        extra = _output_layer_names(model)[1:]
        input_names, output_names = naming.stage_names(
            job.spec.task, job.spec.family, stage, parts, extra, proto.graph
        )
        if stage == "full":
            same_size = {output_names[0]} if _follows_image_size(proto) else set()
        naming.apply(proto, input_names, output_names, same_size)
        if layout == "nchw":
            proto = layout_.to_nchw(proto)
        if precision == "fp16":
            proto = precision_.to_fp16(proto)
        elif precision == "int8":
            calibration = None
            if quantize == "static":
                images = evaluation[2][:CALIBRATION_SAMPLES]
                calibration = _to_layout(stages.inputs(stage, images), layout)
            proto = precision_.to_int8(proto, quantize, calibration, job.out_dir)
        names = {"inputs": input_names, "outputs": output_names}
        _set_metadata(proto, _metadata(job, stage, names, layout, precision))
        _check(proto, path.name)
        sessions[stage] = session = _session(proto)
        parity = _parity(session, model, inputs, batches, output_names, layout)
        diff = max(p["max_abs_diff"] for p in parity.values())
        validation: dict[str, Any] = {
            "checker": "onnx.checker full check passed",
            "against": "keras float32",
            "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
            "batch_sizes": batches,
            "max_abs_diff": diff,
            "outputs": parity,
            "tolerance": precision_.TEST_SET_TOLERANCE[precision],
        }
        if precision == "fp32":
            passed = diff <= TOLERANCE
            reason = None if passed else f"max abs difference {diff:.3g} > {TOLERANCE:g}"
        else:
            ex, ey = evaluation[0], evaluation[1]
            handed_on = _run_nhwc(session, stages.inputs(stage, ex), layout)[0]
            name, value = precision_.metric(job.spec.task, stages.finish(stage, handed_on), ex, ey)
            passed = precision_.within(precision, name, reference_metric[1], value)
            validation["metric"] = {
                "name": name,
                "float32_keras": reference_metric[1],
                precision: value,
                "on": source,
                "through": "this file" if stage == "full" else "this file with the other parts in Keras",
                "allowed_change": precision_.ALLOWED_CHANGE[precision],
            }
            reason = None if passed else f"{name} {value:.4g} against {reference_metric[1]:.4g} in float32"
        validation["passed"] = passed
        _set_metadata(proto, {"zoo.validation": json.dumps(validation)})
        onnx.save(proto, str(path))
        test_x = inputs[:TEST_SET_BATCH]
        expected = _keras(model, test_x) if precision == "fp32" else _run_nhwc(session, test_x, layout)
        _write_test_set(
            job.out_dir / TEST_DATA / stage,
            path,
            {input_names[0]: _to_layout(test_x, layout)},
            {n: _to_layout(o, layout) for n, o in zip(output_names, expected, strict=True)},
        )
        files.append(
            {
                "part": stage,
                "file": path.name,
                "sha256": sha256_of(path),
                "bytes": path.stat().st_size,
                "opset": next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
                "layout": layout.upper(),
                "precision": precision if precision != "int8" else f"int8 ({quantize})",
                "inputs": [_tensor_info(v) for v in proto.graph.input],
                "outputs": [_tensor_info(v) for v in proto.graph.output],
                "checker": validation["checker"],
                "parity": {k: v for k, v in validation.items() if k not in ("checker", "passed")},
                "test_set": stage_test_set(stage),
                "gpu_rewrites": rewrites,
                "gpu_rewrites_max_abs_diff": rewrite_diff,
                "cpu_bound_nodes": rewrite.cpu_bound_patterns(proto),
                "passed": passed,
                "reason": reason,
            }
        )

    by_part = {f["part"]: f for f in files}
    links = [
        {
            "from": a,
            "output": by_part[a]["outputs"][0],
            "to": b,
            "input": by_part[b]["inputs"][0],
            "agree": by_part[a]["outputs"][0] == by_part[b]["inputs"][0],
        }
        for a, b in itertools.pairwise(parts)
        if a in by_part and b in by_part
    ]
    config = job.run.config
    manifest = {
        "format": "onnx",
        "zoo_version": __version__,
        "architecture": job.spec.name,
        "plugin": job.spec.plugin,
        "run": None if options.get("untrained") else str(job.run.path.resolve()),
        "untrained": bool(options.get("untrained")),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "opset": opset,
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__, "tf2onnx": _tf2onnx_version()},
        "dataset": config.get("dataset"),
        "preprocessing": config.get("preprocessing", []),
        "class_labels": config.get("class_names", []),
        "layout": layout.upper(),
        "precision": files[0]["precision"] if files else precision,
        "files": files,
        "links": links,
    }
    if all(p in sessions for p in parts):
        manifest["chain"] = _chain(job, stages, sessions, x, layout, precision, evaluation, links)
    return manifest


def _chain(
    job: ExportJob,
    stages: _Stages,
    sessions: dict[str, ort.InferenceSession],
    x: np.ndarray,
    layout: str,
    precision: str,
    evaluation: Any,
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    """The parts' files run one after the other against the full Keras model."""
    parts = stages.parts

    def chained(images: np.ndarray) -> np.ndarray:
        h = images
        for name in parts:
            h = _run_nhwc(sessions[name], h, layout)[0]
        return h

    chain_diff = _max_abs(chained(x), _keras(job.model, x)[0])
    result: dict[str, Any] = {
        "parts": parts,
        "against": "keras full model (float32)",
        "batch_size": len(x),
        "max_abs_diff": chain_diff,
        "links_agree": all(link["agree"] for link in links),
    }
    if precision == "fp32":
        result["tolerance"] = TOLERANCE
        result["passed"] = chain_diff <= TOLERANCE and result["links_agree"]
        result["reason"] = None if result["passed"] else f"max abs difference {chain_diff:.3g}"
        return result
    ex, ey = evaluation[0], evaluation[1]
    reference = precision_.metric(job.spec.task, _keras(job.model, ex)[0], ex, ey)
    name, value = precision_.metric(job.spec.task, chained(ex), ex, ey)
    result["metric"] = {"name": name, "float32_keras": reference[1], precision: value}
    result["passed"] = precision_.within(precision, name, reference[1], value) and result["links_agree"]
    result["reason"] = None if result["passed"] else f"{name} {value:.4g} against {reference[1]:.4g}"
    return result


def _newest_opset() -> int:
    """The newest opset the installed tf2onnx (Keras' converter) can write."""
    from tf2onnx import constants

    return max(constants.OPSET_TO_IR_VERSION)


def _tf2onnx_version() -> str:
    import tf2onnx

    return tf2onnx.__version__
