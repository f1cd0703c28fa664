"""Each file against Keras, and the parts' files chained against the full Keras model, on real
test inputs, by the one comparison rule (``zoo_onnx.compare``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from zoo.api import ExportJob, ExportValidationError
from zoo_onnx import compare, naming
from zoo_onnx.quality import Evaluation
from zoo_onnx.session import cpu_session, run, run_nhwc
from zoo_onnx.stages import Stages, keras_outputs


def parity(
    session: ort.InferenceSession,
    model: Any,
    x: np.ndarray,
    batches: list[int],
    names: list[str],
    layout: str = "nhwc",
) -> dict[str, dict[str, float]]:
    """Per output, the largest absolute and relative difference from Keras over the batch sizes."""
    worst = {name: {"max_abs_diff": 0.0, "max_rel_diff": 0.0} for name in names}
    for batch in batches:
        try:
            differences = compare.compare_outputs(
                run_nhwc(session, x[:batch], layout), keras_outputs(model, x[:batch])
            )
        except compare.OutputsDiffer as exc:
            raise ExportValidationError(f"the ONNX graph's outputs differ from Keras': {exc}") from exc
        for name, found in zip(names, differences, strict=True):
            worst[name]["max_abs_diff"] = max(worst[name]["max_abs_diff"], found.max_abs)
            worst[name]["max_rel_diff"] = max(worst[name]["max_rel_diff"], found.max_rel)
    return worst


def follows_image_size(proto: onnx.ModelProto) -> bool:
    """Whether the full model's output has free spatial axes equal to the image's (probed at two
    sizes), so that they can share the names ``height`` and ``width``."""
    graph = proto.graph
    if not naming.free_spatial_axes(graph.input[0]) or not naming.free_spatial_axes(graph.output[0]):
        return False
    session = cpu_session(proto)
    channels = graph.input[0].type.tensor_type.shape.dim[3].dim_value or 1
    for height, width in ((32, 32), (64, 48)):
        out = run(session, np.zeros((1, height, width, channels), np.float32))[0]
        if out.ndim != 4 or out.shape[1:3] != (height, width):
            return False
    return True


def chain(
    job: ExportJob,
    stages: Stages,
    sessions: dict[str, ort.InferenceSession],
    x: np.ndarray,
    layout: str,
    precision: str,
    evaluation: Evaluation | None,
    links: list[dict[str, Any]],
) -> dict[str, Any]:
    """The parts' files run one after the other against the full Keras model."""
    parts = stages.parts

    def chained(images: np.ndarray) -> np.ndarray:
        h = images
        for name in parts:
            h = run_nhwc(sessions[name], h, layout)[0]
        return h

    chain_diff = compare.difference(chained(x), keras_outputs(job.model, x)[0]).max_abs
    result: dict[str, Any] = {
        "parts": parts,
        "against": "keras full model (float32)",
        "batch_size": len(x),
        "max_abs_diff": chain_diff,
        "links_agree": all(link["agree"] for link in links),
    }
    if evaluation is None:
        result["tolerance"] = compare.FP32_TOLERANCE
        result["passed"] = compare.passes(chain_diff, compare.FP32_TOLERANCE) and result["links_agree"]
        result["reason"] = None if result["passed"] else f"max abs difference {chain_diff:.3g}"
        return result
    name, value, passed = evaluation.judge(precision, job.spec.task, chained(evaluation.x))
    reference = evaluation.reference[1]
    result["metric"] = {"name": name, "float32_keras": reference, precision: value}
    result["passed"] = passed and result["links_agree"]
    result["reason"] = None if result["passed"] else f"{name} {value:.4g} against {reference:.4g}"
    return result
