"""ONNX export: the full model and each part, each checked and compared with Keras.

Each file goes through the same stages: convert (``convert``), make GPU-ready with each rewrite
proven on the test inputs (``rewrites``), name its tensors and axes (``naming``), change layout
or precision if asked (``layout``, ``precision``; the fastest int8 variant kept and a lower
precision timed against float32, ``speed``), describe itself (``metadata``), check against
Keras in ONNX Runtime on the CPU (``parity``; lower precision by its task's quality figure,
``quality``), and get its test set (``testsets``). The parts are then chained against the full
model, and the manifest lists it all (``manifest``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from zoo.api import FULL, TEST_DATA, ExportJob, ExportValidationError, sha256_of, stage_file, stage_test_set
from zoo_onnx import compare, convert, metadata, naming, parity, precision, rewrites, speed, testsets
from zoo_onnx import layout as layouts
from zoo_onnx import manifest as manifests
from zoo_onnx.quality import ALLOWED_CHANGE, CALIBRATION_SAMPLES, Evaluation, evaluation
from zoo_onnx.session import cpu_session, first, run_nhwc, to_layout
from zoo_onnx.stages import Stages, keras_outputs, output_layer_names


@dataclass(frozen=True)
class _Settings:
    """What every file of one export shares."""

    opset: int
    layout: str  # nhwc or nchw
    precision: str  # fp32, fp16 or int8
    quantize: str | None  # static or dynamic, for int8
    x: np.ndarray  # the run's real test inputs
    batches: list[int]  # compared with Keras at these batch sizes
    evaluation: Evaluation | None  # where the precision is lower than fp32

    @property
    def precision_label(self) -> str:
        return self.precision if self.precision != "int8" else f"int8 ({self.quantize})"


def export(job: ExportJob) -> dict[str, Any]:
    """Write ``model.onnx`` and ``<part>.onnx`` into ``job.out_dir``; return the manifest."""
    options = job.options
    quantize = options.get("quantize")
    x = job.samples.astype(np.float32)
    lowered = "int8" if quantize else options.get("dtype") or "fp32"
    settings = _Settings(
        opset=convert.checked_opset(options.get("opset")),
        layout=options.get("layout") or "nhwc",
        precision=lowered,
        quantize=quantize,
        x=x,
        batches=sorted({1, len(x)}),
        evaluation=evaluation(job, x) if lowered != "fp32" else None,
    )
    parts = list(job.parts)
    wanted = options.get("stages") or [FULL, *parts]
    stages = Stages(job)
    files: list[dict[str, Any]] = []
    sessions: dict[str, ort.InferenceSession] = {}
    same_size: set[str] = set()
    for stage in [FULL, *parts]:
        if stage in wanted:
            entry, sessions[stage], same_size = _export_stage(job, stage, stages, settings, same_size)
            files.append(entry)
    result = manifests.manifest(job, files, settings.opset, settings.layout, settings.precision)
    if all(p in sessions for p in parts):
        result["chain"] = parity.chain(
            job,
            stages,
            sessions,
            x,
            settings.layout,
            settings.precision,
            settings.evaluation,
            result["links"],
        )
    return result


def _gpu_ready(
    proto: onnx.ModelProto, inputs: list[np.ndarray], batches: list[int], stage: str
) -> tuple[Any, ...]:
    """The graph with what the CUDA provider would run on the CPU rewritten, each rewrite proven
    on the inputs (every one the file takes): (graph, notes, largest difference or None)."""
    ready, notes = rewrites.make_gpu_ready(proto)
    if not notes:
        return proto, notes, None
    names = [v.name for v in proto.graph.input]
    try:
        diff = max(
            rewrites.check_equivalent(
                proto,
                ready,
                dict(zip(names, first(inputs, b), strict=True)),
                atol=compare.FP32_TOLERANCE,
                rtol=compare.FP32_RTOL,
            )
            for b in batches
        )
    except ExportValidationError as exc:
        raise ExportValidationError(f"{stage}: {exc}") from exc
    return ready, notes, diff


def _export_stage(
    job: ExportJob, stage: str, stages: Stages, settings: _Settings, same_size: set[str]
) -> tuple[dict[str, Any], ort.InferenceSession, set[str]]:
    """One file through every stage; its manifest entry, its session and, for the full model,
    the outputs whose free axes follow the image's size."""
    model = stages.models[stage]
    inputs = stages.inputs(stage, settings.x)
    path = job.out_dir / stage_file(stage)
    proto = convert.convert_and_check(model, path, settings.opset, stage)
    proto, notes, rewrite_diff = _gpu_ready(proto, inputs, settings.batches, stage)
    extra = output_layer_names(model)[1:]
    input_names, output_names = naming.stage_names(
        job.spec.task, job.spec.family, stage, list(job.parts), extra, proto.graph, stages.handed_in(stage)
    )
    if stage == FULL:
        same_size = {output_names[0]} if parity.follows_image_size(proto) else set()
    naming.apply(proto, input_names, output_names, same_size)
    float32, proto, lowering = _lower(proto, job, stage, stages, settings)
    names = {"inputs": input_names, "outputs": output_names}
    metadata.set_metadata(proto, metadata.describe(job, stage, names, settings.layout, settings.precision))
    convert.check(proto, path.name)
    session = cpu_session(proto)
    validation, reason = _validate(job, stage, stages, settings, session, model, inputs, output_names)
    metadata.set_metadata(proto, {"zoo.validation": json.dumps(validation)})
    onnx.save(proto, str(path))
    _test_set(job.out_dir / TEST_DATA / stage, path, model, session, inputs, names, settings)
    entry = {
        "part": stage,
        "file": path.name,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "opset": convert.opset_of(proto),
        "layout": settings.layout.upper(),
        "precision": settings.precision_label,
        "inputs": [manifests.tensor_info(v) for v in proto.graph.input],
        "outputs": [manifests.tensor_info(v) for v in proto.graph.output],
        "checker": validation["checker"],
        "parity": {k: v for k, v in validation.items() if k not in ("checker", "passed")},
        "test_set": stage_test_set(stage),
        "gpu_rewrites": notes,
        "gpu_rewrites_max_abs_diff": rewrite_diff,
        "cpu_bound_nodes": rewrites.cpu_bound_patterns(proto),
        **lowering,
        "passed": validation["passed"],
        "reason": reason,
    }
    if settings.precision != "fp32":  # smaller is not always faster: time it against float32
        entry["speed_vs_float32"] = speed.versus_float32(
            float32, proto, inputs, settings.layout, settings.batches
        )
    return entry, session, same_size


def _lower(
    proto: onnx.ModelProto, job: ExportJob, stage: str, stages: Stages, settings: _Settings
) -> tuple[onnx.ModelProto, onnx.ModelProto, dict[str, Any]]:
    """NCHW and lower precision, where asked: (the float32 file in the asked layout, the file,
    and for int8 the manifest's ``quantization``: every variant made, timed on the run's
    samples, and the fastest chosen)."""
    if settings.layout == "nchw":
        proto = layouts.to_nchw(proto)
    if settings.precision == "fp16":
        return proto, precision.to_fp16(proto), {}
    if settings.precision == "int8":
        calibration = None
        if settings.quantize == "static" and settings.evaluation is not None:
            images = settings.evaluation.calibration[:CALIBRATION_SAMPLES]
            calibration = [to_layout(a, settings.layout) for a in stages.inputs(stage, images)]
        candidates = precision.int8_candidates(proto, settings.quantize, calibration, job.out_dir)
        batch = max(settings.batches)
        chosen, timed = speed.fastest(
            candidates, speed.laid_out(stages.inputs(stage, settings.x), settings.layout, batch)
        )
        sizes = {name: candidate.ByteSize() for name, candidate in candidates.items()}
        quantization = {
            "mode": settings.quantize,
            "chosen": chosen,
            "batch_size": batch,
            "ms": timed,
            "bytes": sizes,
        }
        return proto, candidates[chosen], {"quantization": quantization}
    return proto, proto, {}


def _validate(
    job: ExportJob,
    stage: str,
    stages: Stages,
    settings: _Settings,
    session: ort.InferenceSession,
    model: Any,
    inputs: list[np.ndarray],
    output_names: list[str],
) -> tuple[dict[str, Any], str | None]:
    """The file against float32 Keras: within the tolerance (fp32), or its task's quality
    figure within the allowed change (fp16, int8). Recorded in the file and the manifest; the
    reason it failed, if it did."""
    found = parity.parity(session, model, inputs, settings.batches, output_names, settings.layout)
    diff = max(p["max_abs_diff"] for p in found.values())
    used = compare.largest(p["tolerance_used"] for p in found.values())
    validation: dict[str, Any] = {
        "checker": "onnx.checker full check passed",
        "against": "keras float32",
        "runtime": f"onnxruntime {ort.__version__} CPUExecutionProvider",
        "batch_sizes": settings.batches,
        "max_abs_diff": diff,
        "outputs": found,
        "tolerance": compare.tolerance(settings.precision).as_dict(),
    }
    evaluated = settings.evaluation
    if evaluated is None:
        validation["tolerance_used"] = used
        passed = compare.passes(used)
        reason = None if passed else parity.beyond(diff, used, compare.tolerance())
    else:
        outputs = run_nhwc(session, stages.inputs(stage, evaluated.x), settings.layout)
        final = stages.finish(stage, outputs)
        name, value, passed = evaluated.judge(settings.precision, job.spec.task, final)
        reference = evaluated.reference[1]
        validation["metric"] = {
            "name": name,
            "float32_keras": reference,
            settings.precision: value,
            "on": evaluated.source,
            "through": "this file" if stage == FULL else "this file with the other parts in Keras",
            "allowed_change": ALLOWED_CHANGE[settings.precision],
        }
        reason = None if passed else f"{name} {value:.4g} against {reference:.4g} in float32"
    return {**validation, "passed": passed}, reason


def _test_set(
    folder: Path,
    path: Path,
    model: Any,
    session: ort.InferenceSession,
    inputs: list[np.ndarray],
    names: dict[str, list[str]],
    settings: _Settings,
) -> None:
    """The file's test set: real inputs (every one the file takes, by name) and Keras' outputs
    (a lower-precision file's own, which Keras' differ from by more than any runtime should)."""
    x = first(inputs, testsets.BATCH)
    layout = settings.layout
    expected = keras_outputs(model, x) if settings.evaluation is None else run_nhwc(session, x, layout)
    testsets.write(
        folder,
        path,
        {n: to_layout(a, layout) for n, a in zip(names["inputs"], x, strict=True)},
        {n: to_layout(o, layout) for n, o in zip(names["outputs"], expected, strict=True)},
    )
