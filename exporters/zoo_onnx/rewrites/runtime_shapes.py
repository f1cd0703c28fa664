"""Shape, bounds and pads computed at run time (tf2onnx's Flatten, its crops of unknown size) ->
constants: the CUDA provider reads those inputs on the host, so it runs the arithmetic that
computes them on the CPU and copies tensors back and forth around it."""

from __future__ import annotations

import numpy as np
import onnx

from zoo_onnx.rewrites.evaluate import Evaluator
from zoo_onnx.rewrites.graph import INT64_MAX, Index, attributes, has_subgraphs, label, runtime_inputs
from zoo_onnx.rewrites.shapes import Shapes
from zoo_onnx.rewrites.symbolic import Poly, product, smallest


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

    ``0`` copies the data's own dimension at that position. One entry known only at run time
    becomes ``-1`` when every other entry is a constant other than ``-1`` (and not ``0`` where
    ``allowzero`` makes it a size): a valid Reshape keeps the element count, so that entry is the
    count over the product of the others, which is what ``-1`` computes. The element counts need
    not be provable; a shape of another count fails before and after alike.
    """
    if (
        dims
        and len(target) == 2
        and not allowzero
        and target[0] == dims[0]
        and -1 not in [t for t in target if isinstance(t, int)]
        and product(dims) == product(target)
    ):
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
    if not unresolved:
        return [int(s) for s in shape if s is not None]
    others = [s for s in shape if s is not None]
    if len(unresolved) == 1 and -1 not in others and not (allowzero and 0 in others):
        shape[unresolved[0]] = -1
        return [int(s) for s in shape if s is not None]
    return None


def _slice_bound(value: int | Poly, dim: int | Poly | None, step: int) -> int | None:
    """A constant start or end equal to ``value`` on an axis of size ``dim``, for every size.

    ``dim + c`` (c >= 0) becomes INT64_MAX: Slice clamps both to the size. ``dim - c`` becomes
    ``-c`` only where ``dim`` is at least ``c`` at every size (every free dimension taken as at
    least 1): below that the run-time value is itself negative, counts from the end a second time,
    and differs from ``-c`` (clamped to 0).
    """
    if isinstance(value, int):
        return value
    if dim is None or step != 1:
        return None
    offset = value - dim
    if not isinstance(offset, int):
        return None
    if offset >= 0:
        return INT64_MAX
    least = smallest(dim)
    return offset if least is not None and least >= -offset else None


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
