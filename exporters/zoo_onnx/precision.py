"""Lower precision: float16 weights and compute, or int8 through ONNX Runtime's quantization.

Both keep float32 inputs and outputs, so a caller feeds the same arrays as to the float32
file. Neither can match Keras within 1e-5: ``zoo_onnx.quality`` judges them by what the model
is for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

CALIBRATION_BATCH = 32


def topological_sort(graph: onnx.GraphProto) -> None:
    """Order nodes so each comes after its inputs' producers (the float16 converter appends
    its Cast nodes at the end, which onnx.checker rejects)."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        progressed = [n for n in pending if all(i in ready for i in n.input)]
        if not progressed:
            raise ValueError("the graph has a cycle or an input nobody produces")
        taken = {id(n) for n in progressed}
        for node in progressed:
            ordered.append(node)
            ready.update(node.output)
        pending = [n for n in pending if id(n) not in taken]
    del graph.node[:]
    graph.node.extend(ordered)


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Weights and compute in float16; inputs and outputs stay float32 (Cast at the edges)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    metadata = list(model.metadata_props)
    half = convert_float_to_float16(model, keep_io_types=True)
    topological_sort(half.graph)
    del half.metadata_props[:]
    half.metadata_props.extend(metadata)
    return half


def calibration_reader(names: Sequence[str], arrays: Sequence[np.ndarray]) -> Any:
    """ONNX Runtime's calibration reader over ``arrays`` (one per graph input, named ``names``),
    in batches of ``CALIBRATION_BATCH``."""
    from onnxruntime.quantization import CalibrationDataReader

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches: Iterator[dict[str, np.ndarray]] = iter(
                {n: a[i : i + CALIBRATION_BATCH] for n, a in zip(names, arrays, strict=True)}
                for i in range(0, len(arrays[0]), CALIBRATION_BATCH)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    return Batches()


# Static int8 variants tried, by name (ONNX Runtime's quantize_static arguments). Which is fastest
# depends on the model and the CPU: on a 2-core AMD EPYC, LeNet-5's per-tensor QDQ ran 2-3x slower
# than float32 and its matrix products alone in int8 1.1x faster (benchmarks/quantization.py).
STATIC_VARIANTS: dict[str, dict[str, Any]] = {
    "QDQ per-tensor": {},
    "QDQ per-channel": {"per_channel": True},
    "QDQ MatMul/Gemm only": {"op_types_to_quantize": ["MatMul", "Gemm"]},
}


def int8_candidates(
    model: onnx.ModelProto, mode: str, calibration: Sequence[np.ndarray] | None, work_dir: Path
) -> dict[str, onnx.ModelProto]:
    """int8 files made by ONNX Runtime, by variant name: ``static`` (QDQ, activation ranges
    calibrated on ``calibration``, one array per graph input, in order and laid out as the model
    takes them: a U-Net decoder's code and skips), in each of ``STATIC_VARIANTS`` that quantizes
    something; or ``dynamic`` (weights int8, activations quantized at run time)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    metadata = list(model.metadata_props)
    made: dict[str, onnx.ModelProto] = {}
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".quantize-") as tmp:
        source = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(source))
        if mode == "dynamic":
            target = Path(tmp) / "dynamic.onnx"
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
            made["dynamic"] = onnx.load(str(target))
        else:
            names = [v.name for v in model.graph.input]
            if calibration is None or len(calibration) != len(names) or not len(calibration[0]):
                raise ValueError(f"static quantization needs calibration inputs for {', '.join(names)}")
            arrays = list(calibration)
            for number, (name, variant) in enumerate(STATIC_VARIANTS.items()):
                target = Path(tmp) / f"static-{number}.onnx"
                quantize_static(
                    str(source),
                    str(target),
                    calibration_reader(names, arrays),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    **variant,
                )
                quantized = onnx.load(str(target))
                if any(n.op_type == "QuantizeLinear" for n in quantized.graph.node):
                    made[name] = quantized
    for quantized in made.values():
        del quantized.metadata_props[:]
        quantized.metadata_props.extend(metadata)
    return made
