"""Keras to ONNX: Keras' own ``Model.export(format="onnx")`` (tf2onnx underneath), then
``onnx.checker``'s full check; either failing fails the export, naming the part."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import onnx

from zoo.api import ExportValidationError, InvalidOption

DEFAULT_OPSET = 17
MIN_OPSET = 7  # what `zoo export --opset` accepts at the least


def newest_opset() -> int:
    """The newest opset the installed tf2onnx (Keras' converter) can write."""
    from tf2onnx import constants

    return max(constants.OPSET_TO_IR_VERSION)


def tf2onnx_version() -> str:
    import tf2onnx

    return tf2onnx.__version__


def checked_opset(asked: int | None) -> int:
    """``--opset``, or the default; one the converter cannot write is the user's to change."""
    opset = int(asked or DEFAULT_OPSET)
    newest = newest_opset()
    if not MIN_OPSET <= opset <= newest:
        raise InvalidOption(
            f"--opset {opset}: the ONNX exporter writes opsets {MIN_OPSET} to {newest} "
            f"(tf2onnx {tf2onnx_version()})"
        )
    return opset


def _convert(model: Any, path: Path, opset: int) -> None:
    import keras

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    specs = [
        keras.InputSpec(shape=(None, *tensor.shape[1:]), dtype="float32", name=tensor.name)
        for tensor in model.inputs
    ]
    signature = specs if len(specs) == 1 else [specs]  # several inputs: one list, in Keras' order
    model.export(str(path), format="onnx", input_signature=signature, opset_version=opset, verbose=False)


def convert_and_check(model: Any, path: Path, opset: int, part: str) -> onnx.ModelProto:
    """Convert ``model`` into ``path`` and check the file."""
    try:
        _convert(model, path, opset)
    except Exception as exc:
        message = " ".join(str(exc).split())[:300]
        raise ExportValidationError(
            f"Converting {part!r} to ONNX (opset {opset}) failed: {type(exc).__name__}: {message}"
        ) from exc
    proto = onnx.load(str(path))
    check(proto, path.name)
    keras_names = [tensor.name for tensor in model.inputs]
    onnx_names = [value.name.removesuffix(":0") for value in proto.graph.input]
    if len(keras_names) > 1 and onnx_names != keras_names:  # inputs are named by position later
        raise ExportValidationError(
            f"{path.name}: the converter wrote the inputs {onnx_names}, Keras takes {keras_names}"
        )
    return proto


def check(proto: onnx.ModelProto, name: str) -> None:
    """``onnx.checker``'s full check, its failure in one line naming the file."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        message = " ".join(str(exc).split())[:300]
        raise ExportValidationError(f"{name} fails onnx.checker: {message}") from exc


def opset_of(proto: onnx.ModelProto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
