"""Each file against Keras, and the parts' files chained against the full Keras model, on real
test inputs, by the one comparison rule (``zoo_onnx.compare``). In the chain each part is fed
every tensor it takes by name, from the outputs of the part before (the names are the same on
both sides of a link)."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from zoo.api import ExportJob, ExportValidationError
from zoo_onnx import compare, naming
from zoo_onnx.quality import Evaluation
from zoo_onnx.session import cpu_session, first, from_layout, run, run_nhwc, to_layout
from zoo_onnx.stages import Stages, keras_outputs


def parity(
    session: ort.InferenceSession,
    model: Any,
    x: list[np.ndarray],
    batches: list[int],
    names: list[str],
    layout: str = "nhwc",
) -> dict[str, dict[str, float]]:
    """Per output, over the batch sizes, the largest absolute and relative difference from Keras
    and the largest difference over float32's allowance (``tolerance_used``, 1 or less passes);
    ``x`` holds every input the file takes."""
    figures = ("max_abs_diff", "max_rel_diff", "tolerance_used")
    worst = {name: dict.fromkeys(figures, 0.0) for name in names}
    within = compare.tolerance()
    for batch in batches:
        try:
            differences = compare.compare_outputs(
                run_nhwc(session, first(x, batch), layout), keras_outputs(model, first(x, batch)), within
            )
        except compare.OutputsDiffer as exc:
            raise ExportValidationError(f"the ONNX graph's outputs differ from Keras': {exc}") from exc
        for name, found in zip(names, differences, strict=True):
            for figure, value in zip(figures, (found.max_abs, found.max_rel, found.used), strict=True):
                worst[name][figure] = compare.largest([worst[name][figure], value])
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
        out = run(session, [np.zeros((1, height, width, channels), np.float32)])[0]
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
    """The parts' files run one after the other against the full Keras model, each fed every
    tensor it takes, by name, from the part before."""
    parts = stages.parts

    def chained(images: np.ndarray) -> np.ndarray:
        return from_layout(run_chain([sessions[name] for name in parts], to_layout(images, layout)), layout)

    within = compare.tolerance()
    found = compare.difference(chained(x), keras_outputs(job.model, [x])[0], within)
    result: dict[str, Any] = {
        "parts": parts,
        "against": "keras full model (float32)",
        "batch_size": len(x),
        "max_abs_diff": found.max_abs,
        "max_rel_diff": found.max_rel,
        "links_agree": all(link["agree"] for link in links),
    }
    if evaluation is None:
        result["tolerance"] = within.as_dict()
        result["tolerance_used"] = found.used
        result["passed"] = compare.passes(found.used) and result["links_agree"]
        result["reason"] = None if result["passed"] else beyond(found.max_abs, found.used, within)
        return result
    name, value, passed = evaluation.judge(precision, job.spec.task, chained(evaluation.x))
    reference = evaluation.reference[1]
    result["metric"] = {"name": name, "float32_keras": reference, precision: value}
    result["passed"] = passed and result["links_agree"]
    result["reason"] = None if result["passed"] else f"{name} {value:.4g} against {reference:.4g}"
    return result


def beyond(max_abs: float, used: float, within: compare.Tolerance) -> str:
    """Why a comparison failed, in one phrase."""
    return f"max abs difference {max_abs:.3g}, {used:.3g} times the tolerance {within}"


def run_chain(sessions: list[ort.InferenceSession], images: np.ndarray) -> np.ndarray:
    """The last file's first output, the files run one after the other on ``images`` (as the
    first takes them), each fed every input by name from the outputs of the one before."""
    tensors = {sessions[0].get_inputs()[0].name: images}
    outputs: list[np.ndarray] = []
    for session in sessions:
        names = [v.name for v in session.get_inputs()]
        missing = [n for n in names if n not in tensors]
        if missing:
            raise ExportValidationError(
                f"the chain of parts cannot be fed: a file takes {', '.join(missing)}, which the file "
                f"before it does not hand on (it hands on {', '.join(tensors)})"
            )
        outputs = session.run(None, {n: tensors[n] for n in names})
        tensors = {v.name: o for v, o in zip(session.get_outputs(), outputs, strict=True)}
    return outputs[0]
