"""NCHW inputs and outputs for runtimes that want them.

Keras exports NHWC. For ``--layout nchw`` every 4-D graph input gets a Transpose to NHWC in
front of the graph and every 4-D output a Transpose to NCHW behind it, then tf2onnx's own graph
optimizer (what its ``inputs_as_nchw``/``outputs_as_nchw`` options rely on, and which Keras'
exporter does not expose) pushes the new Transposes into the ones tf2onnx wrote around each
convolution, where they cancel.
"""

from __future__ import annotations

import logging

import onnx
from onnx import helper

TO_NHWC = [0, 2, 3, 1]
TO_NCHW = [0, 3, 1, 2]


def _permute_shape(value: onnx.ValueInfoProto, perm: list[int]) -> None:
    dims = value.type.tensor_type.shape.dim
    old = [onnx.TensorShapeProto.Dimension() for _ in dims]
    for o, d in zip(old, dims, strict=True):
        o.CopyFrom(d)
    for i, p in enumerate(perm):
        dims[i].CopyFrom(old[p])


def _rank(value: onnx.ValueInfoProto) -> int:
    return len(value.type.tensor_type.shape.dim)


def to_nchw(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same model with its 4-D inputs and outputs in NCHW; names are kept."""
    graph = model.graph
    added: list[onnx.NodeProto] = []
    for value in graph.input:
        if _rank(value) != 4:
            continue
        inner = f"{value.name}__nhwc"
        for node in graph.node:
            for i, name in enumerate(node.input):
                if name == value.name:
                    node.input[i] = inner
        added.append(
            helper.make_node("Transpose", [value.name], [inner], perm=TO_NHWC, name=f"{value.name}_to_nhwc")
        )
        _permute_shape(value, TO_NCHW)
    for value in graph.output:
        if _rank(value) != 4:
            continue
        inner = f"{value.name}__nhwc"
        for node in graph.node:
            for i, name in enumerate(node.output):
                if name == value.name:
                    node.output[i] = inner
            for i, name in enumerate(node.input):
                if name == value.name:
                    node.input[i] = inner
        graph.node.append(
            helper.make_node("Transpose", [inner], [value.name], perm=TO_NCHW, name=f"{value.name}_to_nchw")
        )
        _permute_shape(value, TO_NCHW)
    nodes = added + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return _optimize(model)


def _optimize(model: onnx.ModelProto) -> onnx.ModelProto:
    """tf2onnx's optimizers (transpose push-down and cancellation among them)."""
    from tf2onnx.graph import GraphUtil

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    metadata = list(model.metadata_props)
    io = {v.name: v for v in [*model.graph.input, *model.graph.output]}
    optimized = GraphUtil.optimize_model_proto(model, catch_errors=False)
    del optimized.metadata_props[:]
    optimized.metadata_props.extend(metadata)
    for value in [*optimized.graph.input, *optimized.graph.output]:  # it renames axes unk__N again
        if value.name in io:
            value.type.CopyFrom(io[value.name].type)
    del optimized.graph.value_info[:]
    return optimized
