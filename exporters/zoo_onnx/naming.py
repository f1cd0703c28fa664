"""Tensor and axis names for exported files: what a tensor is, not what tf2onnx called it.

Inputs of the full model and of the first part are ``image``. A part hands the next its first
k outputs, k the number of inputs the next part takes; each has the same name on both sides:
the first is ``code`` (``features`` in classifiers), the others keep the Keras name of the
layer that makes them (a U-Net encoder's ``skip1``, ``skip2``), and the next part's inputs are
named after them, in the same order. The last output is ``reconstruction``, ``probabilities``
(or ``logits`` without a softmax) or ``mask_probabilities`` by task. Outputs beyond those handed
on keep their Keras layer's name too (a VAE encoder's ``log_var``). The batch axis is ``batch``
everywhere; free spatial axes are ``height`` and ``width`` where they equal the image's, else
``<tensor>_height``/``_width`` (the same on both sides of a link, since the names are).
"""

from __future__ import annotations

from typing import Any

import onnx

from zoo.api import FULL, task

IMAGE = "image"
LINK = {"classifier": "features", "other": "features"}  # every other family hands on a "code"
SPATIAL = ("height", "width")


def link_name(family: str) -> str:
    """The name of the tensor one part hands to the next."""
    return LINK.get(family, "code")


def _producer(graph: onnx.GraphProto, name: str) -> onnx.NodeProto | None:
    return next((n for n in graph.node if name in n.output), None)


def ends_in_softmax(graph: onnx.GraphProto, output: str) -> bool:
    """Whether ``output`` is a Softmax's result (through any Identity nodes tf2onnx adds)."""
    node = _producer(graph, output)
    while node is not None and node.op_type == "Identity":
        node = _producer(graph, node.input[0])
    return node is not None and node.op_type == "Softmax"


def stage_names(
    task_name: str,
    family: str,
    stage: str,
    parts: list[str],
    extra_outputs: list[str],
    graph: onnx.GraphProto,
    handed_in: list[str] | None = None,
) -> tuple[list[str], list[str]]:
    """(input names, output names) of the file for ``stage`` ("full" or a part).

    ``extra_outputs``: the Keras layer names of the stage's outputs after the first;
    ``handed_in``: those of the outputs the part before hands this one (all of them, the first
    included), whose names after the first this part's inputs take."""
    last = stage == FULL or stage == parts[-1]
    first = stage == FULL or stage == parts[0]
    inputs = [IMAGE] if first else [link_name(family), *(handed_in or [])[1:]]
    if last:
        final = task(task_name).output
        if final == "probabilities" and not ends_in_softmax(graph, graph.output[0].name):
            final = "logits"
        head = final
    else:
        head = link_name(family)
    return inputs, [head, *extra_outputs]


def rename_tensors(model: onnx.ModelProto, mapping: dict[str, str]) -> None:
    """Rename graph inputs/outputs (and every node's reference to them) in place."""
    graph = model.graph
    taken = {o for n in graph.node for o in n.output} | {i.name for i in graph.initializer}
    clash = (set(mapping.values()) - set(mapping)) & taken
    if clash:  # an internal tensor already has a wanted name: move it out of the way
        for node in graph.node:
            for i, name in enumerate(node.output):
                if name in clash:
                    node.output[i] = f"{name}__internal"
            for i, name in enumerate(node.input):
                if name in clash:
                    node.input[i] = f"{name}__internal"
    for value in [*graph.input, *graph.output, *graph.value_info]:
        if value.name in mapping:
            value.name = mapping[value.name]
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for i, name in enumerate(node.output):
            if name in mapping:
                node.output[i] = mapping[name]


def name_axes(value: onnx.ValueInfoProto, spatial: dict[int, str]) -> None:
    """Axis 0 is ``batch``; free axes listed in ``spatial`` (position -> name) get that name."""
    dims = value.type.tensor_type.shape.dim
    for position, dim in enumerate(dims):
        if dim.HasField("dim_value"):
            continue
        if position == 0:
            dim.dim_param = "batch"
        elif position in spatial:
            dim.dim_param = spatial[position]


def free_spatial_axes(value: onnx.ValueInfoProto) -> list[int]:
    """Positions 1 and 2 of a 4-D (NHWC) tensor where the size is not fixed."""
    dims = value.type.tensor_type.shape.dim
    if len(dims) != 4:
        return []
    return [p for p in (1, 2) if not dims[p].HasField("dim_value")]


def apply(
    model: onnx.ModelProto, inputs: list[str], outputs: list[str], same_size_as_image: set[str]
) -> None:
    """Give the file its tensor names and axis names. ``same_size_as_image``: tensors whose free
    spatial axes equal the image's (measured by the exporter), named plain ``height``/``width``."""
    graph = model.graph
    mapping = {v.name: n for v, n in zip(graph.input, inputs, strict=True)}
    mapping.update({v.name: n for v, n in zip(graph.output, outputs, strict=True)})
    rename_tensors(model, mapping)
    for value in [*graph.input, *graph.output]:
        free = free_spatial_axes(value)
        shared = value.name == IMAGE or value.name in same_size_as_image
        names = {p: SPATIAL[p - 1] if shared else f"{value.name}_{SPATIAL[p - 1]}" for p in free}
        name_axes(value, names)
    # tf2onnx's shape annotations of inner tensors carry its unk__N names; they are optional.
    del graph.value_info[:]


def describe(model: onnx.ModelProto) -> dict[str, Any]:
    """Names of the inputs and outputs, for logs."""
    return {"inputs": [v.name for v in model.graph.input], "outputs": [v.name for v in model.graph.output]}
