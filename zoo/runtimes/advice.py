"""What to export instead when a runtime refuses a file or computes it otherwise, or exactly why
no export of zoo's helps: one line beside the runtime's one-line reason.

Each rule comes from running every built-in architecture's exports (NHWC and NCHW, float32,
float16, int8 static and dynamic, opsets 11 to 18) in each runtime (docs/deploy.md); a refusal no
rule knows says so, with the op the runtime named.
"""

from __future__ import annotations

from typing import Any

# ops of ONNX Runtime's dynamic quantization (--quantize dynamic)
DYNAMIC_INT8 = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"}
QDQ = {"QuantizeLinear", "DequantizeLinear"}
LAYOUT_WORDS = ("shape", "channel", "dimension", "layout")
EXPORTER_MAX_OPSET = 18  # tf2onnx 1.17, what zoo's ONNX exporter writes at most


def advise(runtime: str, ops: list[str], reason: str, info: Any) -> str:
    """One line: the export that works in ``runtime``, or why none of zoo's does. ``info``: the
    file's ``FileInfo`` (its precision and layout as zoo recorded them)."""
    lacking = set(ops)
    precision = getattr(info, "precision", None)
    if runtime == "opencv" and lacking & DYNAMIC_INT8:
        return (
            "OpenCV DNN has no dynamic quantization; export with --quantize static (QDQ int8, "
            "which it runs) or without --quantize"
        )
    if runtime == "reference" and lacking & QDQ:
        return (
            f"onnx.reference implements {', '.join(sorted(lacking & QDQ))} only from opset 19 and zoo's "
            f"exporter writes opsets up to {EXPORTER_MAX_OPSET} (tf2onnx): no int8 export of zoo's runs "
            "there; the float32 and float16 exports do"
        )
    if precision == "fp16" and not lacking and "differs from the test set" in reason:
        why = (
            "onnx.reference sums float16 in float16 (numpy) where ONNX Runtime, whose outputs the "
            "test set holds, sums in float32 (the FCN's and U-Net's ConvTranspose differ most); "
            if runtime == "reference"
            else ""
        )
        return f"{why}the float32 export (without --dtype fp16) passes in {runtime}"
    if lacking:
        return (
            f"no export of zoo's avoids {', '.join(sorted(lacking))} (zoo has no rewrite for it, and "
            f"its built-in architectures' files hold none); run the file in onnxruntime"
        )
    if getattr(info, "layout", None) == "NHWC" and any(w in reason.lower() for w in LAYOUT_WORDS):
        return (
            "the file is NHWC: try zoo's --layout nchw export, the layout many runtimes expect of "
            "images (none of zoo's runtimes refused an NHWC file when measured)"
        )
    return "no export of zoo's is known to get around this; the runtime's reason is above"
