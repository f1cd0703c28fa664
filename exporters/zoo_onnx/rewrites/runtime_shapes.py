"""Shape, bounds and pads computed at run time (tf2onnx's Flatten, its crops of unknown size) ->
constants: the CUDA provider reads those inputs on the host, so it runs the arithmetic that
computes them on the CPU and copies tensors back and forth around it."""

from __future__ import annotations

import numpy as np
import onnx

from zoo_onnx.rewrites.evaluate import Evaluator
from zoo_onnx.rewrites.graph import INT64_MAX, Index, attributes, has_subgraphs, label, runtime_inputs
from zoo_onnx.rewrites.shapes import Shapes
from zoo_onnx.rewrites.symbolic import Poly, product


def rewrite(model: onnx.ModelProto, notes: list[str]) -> None:
    """Replace a Reshape's shape, a Slice's bounds and a Pad's pads computed at run time by
    constants, where they are proven equal for every size (a Pad of all zeros is removed)."""
    graph = model.graph
    index = Index(graph)
    shapes = Shapes(model, index)
    evaluate = Evaluator(index, shapes.dims)
    bypass: list[onnx.NodeProto] = []
    for node in graph.node:
        runtime = runtime_inputs(node, index)
        if not runtime or node.op_type not in ("Reshape", "Slice", "Pad"):
            continue
        values = {i: evaluate(node.input[i]) for i in runtime}
        if any(v is None for v in values.values()):
            continue
        dims = shapes.dims(node.input[0])
        if node.op_type == "Reshape":
            target = list(values[1].flat)
            shape = _reshape_target(target, dims, attributes(node).get("allowzero", 0))
            if shape is None:
                continue
            node.input[1] = index.add_initializer(f"{node.name or 'reshape'}_shape", shape)
            notes.append(f"{label(node)}: shape computed at run time from Shape -> constant {shape}")
        elif node.op_type == "Slice":
            constants = _fold_slice(node, values, dims, evaluate)
            if constants is None:
                continue
            names = ("starts", "ends", "axes", "steps")
            for i, vals in constants.items():
                node.input[i] = index.add_initializer(f"{node.name or 'slice'}_{names[i - 1]}", vals)
            described = ", ".join(f"{names[i - 1]} {v}" for i, v in sorted(constants.items()))
            notes.append(f"{label(node)}: bounds computed at run time from Shape -> constant {described}")
        else:  # Pad
            if set(runtime) - {1} or any(not isinstance(v, int) for v in values[1].flat):
                continue
            pads = [int(v) for v in values[1].flat]
            removable = node.output[0] not in index.outputs and not has_subgraphs(graph)
            if not any(pads) and removable:  # a Pad that pads nothing, whatever its mode
                bypass.append(node)
                notes.append(f"{label(node)}: pads computed at run time from Shape are all zero -> removed")
            else:
                node.input[1] = index.add_initializer(f"{node.name or 'pad'}_pads", pads)
                notes.append(f"{label(node)}: pads computed at run time from Shape -> constant {pads}")
    for node in bypass:
        for user in index.consumers.get(node.output[0], []):
            for i, name in enumerate(user.input):
                if name == node.output[0]:
                    user.input[i] = node.input[0]
        graph.node.remove(node)


def _reshape_target(
    target: list[int | Poly], dims: list[int | Poly] | None, allowzero: int
) -> list[int] | None:
    """A constant Reshape shape equal to ``target`` for every size, or None.

    ``0`` copies the data's own dimension at that position; one ``-1`` takes the place of a
    dimension only when the element counts provably agree.
    """
    if any(isinstance(t, int) and t == -1 for t in target):
        has_minus_one, counts_agree = True, False
    else:
        has_minus_one = False
        counts_agree = dims is not None and product(dims) == product(target)
    if len(target) == 2 and dims and target[0] == dims[0] and counts_agree and not allowzero:
        return [0, -1]  # Keras' Flatten: keep the batch, merge the rest
    shape: list[int | None] = []
    for i, t in enumerate(target):
        if isinstance(t, int):
            shape.append(t)
        elif dims is not None and i < len(dims) and t == dims[i] and not allowzero:
            shape.append(0)
        else:
            shape.append(None)
    unresolved = [i for i, s in enumerate(shape) if s is None]
    if len(unresolved) == 1 and not has_minus_one and counts_agree:
        shape[unresolved[0]] = -1
        unresolved = []
    return None if unresolved else [int(s) for s in shape if s is not None]


def _slice_bound(value: int | Poly, dim: int | Poly | None, step: int) -> int | None:
    """A constant start or end equal to ``value`` on an axis of size ``dim``.

    ``dim - c`` becomes ``-c``; ``dim + c`` (c >= 0) becomes INT64_MAX, both clamped by Slice
    exactly as the run-time value would be (for sizes of at least ``c``).
    """
    if isinstance(value, int):
        return value
    if dim is None or step != 1:
        return None
    offset = value - dim
    if not isinstance(offset, int):
        return None
    return offset if offset < 0 else INT64_MAX


def _fold_slice(
    node: onnx.NodeProto,
    values: dict[int, np.ndarray],
    dims: list[int | Poly] | None,
    evaluate: Evaluator,
) -> dict[int, list[int]] | None:
    """Constant starts/ends (and axes/steps) for a Slice whose bounds are computed at run time."""
    inputs = {}
    for i in range(1, 5):
        if i < len(node.input) and node.input[i]:
            value = values.get(i)
            if value is None:
                value = evaluate(node.input[i])
            if value is None:
                return None
            inputs[i] = list(value.flat)
    count = len(inputs[1])
    if any(not isinstance(v, int) for i in (3, 4) for v in inputs.get(i, [])):
        return None  # axes and steps must be plain numbers
    rank = len(dims) if dims is not None else None
    axes = inputs.get(3, list(range(count)))
    steps = inputs.get(4, [1] * count)
    constants: dict[int, list[int]] = {}
    for i in (1, 2):
        if i not in values:
            continue
        bounds = []
        for axis, value, step in zip(axes, inputs[i], steps, strict=True):
            if rank is not None and axis < 0:
                axis += rank
            dim = dims[axis] if dims is not None and 0 <= axis < len(dims) else None
            bound = _slice_bound(value, dim, step)
            if bound is None:
                return None
            bounds.append(bound)
        constants[i] = bounds
    for i in (3, 4):
        if i in values:
            constants[i] = [int(v) for v in inputs[i]]
    return constants
