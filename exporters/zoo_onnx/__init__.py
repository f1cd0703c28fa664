"""The built-in ONNX exporter, a plugin like any other."""

from __future__ import annotations

from zoo.api import ExporterSpec, hookimpl


@hookimpl
def zoo_register_exporters(register):
    register(
        ExporterSpec(
            name="onnx",
            exporter="zoo_onnx.exporter:export",
            summary="ONNX through tf2onnx; each file checked and compared with Keras in ONNX Runtime",
            verifier="zoo_onnx.verify:verify",
        )
    )
