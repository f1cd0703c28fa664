"""What to export instead when a runtime refuses a file or computes it otherwise, or exactly why
no export of zoo's helps: one line beside the runtime's one-line reason.

Each rule comes from running every built-in architecture's exports (NHWC and NCHW; float32,
float16, int8 static and dynamic; opsets 11, 13 and 17) in each runtime (ONNX Runtime 1.31,
onnx.reference, OpenVINO 2025.0 and 2026.4, OpenCV 4.10 and 5.0): every float32 file passed in
every runtime, in both layouts, and every float16 file outside onnx.reference's FCN and U-Net
decoders. A refusal no rule knows says so, with the op the runtime named.
"""

from __future__ import annotations

from typing import Any

DYNAMIC_INT8 = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"}  # --quantize dynamic
QDQ = {"QuantizeLinear", "DequantizeLinear"}  # --quantize static
EXPORTER_MAX_OPSET = 18  # what zoo's ONNX exporter writes at most (tf2onnx 1.17)
LAYOUT_WORDS = ("channel", "layout", "nhwc", "nchw")
LOWER = "the float32 export and --dtype fp16 run in {runtime} for every built-in architecture"


def advise(runtime: str, ops: list[str], reason: str, info: Any) -> str:
    """One line: the export that works in ``runtime``, or why none of zoo's does. ``info``: the
    file's ``FileInfo`` (``precision``, ``layout`` as zoo recorded them; None for other files)."""
    lacking = set(ops)
    precision = getattr(info, "precision", None)
    numbers = "differs from the test set" in reason
    if runtime == "opencv" and lacking & DYNAMIC_INT8:
        return (
            f"OpenCV DNN has no dynamic quantization: {LOWER.format(runtime=runtime)} "
            "(--quantize static runs there for some architectures only, LeNet-5's)"
        )
    if runtime == "reference" and lacking & QDQ:
        return (
            f"onnx.reference implements {', '.join(sorted(lacking & QDQ))} only from opset 19, and zoo's "
            f"exporter writes opsets up to {EXPORTER_MAX_OPSET} (tf2onnx): no int8 export of zoo's runs "
            "there; the float32 and float16 exports do"
        )
    if runtime == "opencv" and "zpshape == scshape" in reason:
        return (
            "OpenCV wants a DequantizeLinear's zero point shaped like its scale; ONNX Runtime's quantizer "
            "gives a ConvTranspose bias a scale of shape [1] and a scalar zero point, and zoo has no "
            f"rewrite for it: {LOWER.format(runtime=runtime)}"
        )
    if runtime == "reference" and precision == "fp16" and numbers:
        return (
            "onnx.reference sums float16 in float16 (numpy) where ONNX Runtime, whose outputs the test "
            "set holds, sums in float32 (ConvTranspose differs most: the FCN's and U-Net's decoders); "
            "no float16 export of zoo's avoids it; the float32 export passes"
        )
    if precision == "int8":
        return (
            f"an int8 file is held to ONNX Runtime's own int8 outputs, which {runtime} does not take or "
            f"reproduce here; {LOWER.format(runtime=runtime)}"
        )
    if precision == "fp16" and numbers:
        return f"the float32 export (without --dtype fp16) is the one to use in {runtime}"
    if lacking:
        return (
            f"no export of zoo's avoids {', '.join(sorted(lacking))}: zoo has no rewrite for it, and no "
            "built-in architecture's file holds it; run the file in onnxruntime"
        )
    if getattr(info, "layout", None) == "NHWC" and any(w in reason.lower() for w in LAYOUT_WORDS):
        return (
            "the file is NHWC: try zoo's --layout nchw export, the layout many runtimes want of images "
            "(no runtime measured refused an NHWC file of zoo's)"
        )
    return "no export of zoo's is known to get around this; the runtime's reason is above"
