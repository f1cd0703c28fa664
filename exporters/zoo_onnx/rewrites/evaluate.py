"""Evaluating tf2onnx's shape arithmetic (``Shape`` -> ``Gather``/``Slice``/``Concat``/...) without
running the graph, over symbolic dimensions, to prove its result the same for every size."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import helper

from zoo_onnx.rewrites.graph import SHAPE_READERS, Index, attributes
from zoo_onnx.rewrites.symbolic import (
    ELEMENTWISE,
    INT_TYPES,
    UNARY,
    Poly,
    Unknown,
    as_int,
    integer_array,
    objects,
    product,
    wrap,
)


class Evaluator:
    """Computes integer tensors derived from ``Shape`` and constants, without running the graph.

    ``leaf(name)`` gives the dimensions a ``Shape`` node reads (ints, or ``Poly`` symbols to
    prove a value for every size at once). Anything else (float data, an unsupported op, a
    comparison that depends on the sizes) raises ``Unknown``.
    """

    def __init__(self, index: Index, leaf: Callable[[str], list[int | Poly] | None]) -> None:
        self.index = index
        self.leaf = leaf
        self.memo: dict[str, np.ndarray] = {}

    def __call__(self, name: str) -> np.ndarray | None:
        """The value of ``name``, or None where it cannot be computed."""
        try:
            return self.value(name)
        except (
            Unknown,
            ValueError,
            IndexError,
            TypeError,
            ZeroDivisionError,
            OverflowError,
            RecursionError,
        ):
            return None

    def value(self, name: str) -> np.ndarray:
        if name not in self.memo:
            tensor = self.index.constant(name)
            if tensor is not None:
                self.memo[name] = integer_array(tensor)
            else:
                node = self.index.producer.get(name)
                if node is None:
                    raise Unknown(f"{name} is a graph input")
                for out, value in zip(node.output, self._node(node), strict=False):
                    self.memo[out] = wrap(value)
        return self.memo[name]

    def _ints(self, name: str) -> list[int]:
        return [as_int(v) for v in self.value(name).flat]

    def _axes(self, node: onnx.NodeProto, position: int, rank: int | None) -> list[int] | None:
        """Axes from the input at ``position`` (opset >= 13) or the ``axes`` attribute, made
        positive for a tensor of ``rank`` dimensions (for Unsqueeze, the output's)."""
        if len(node.input) > position and node.input[position]:
            axes = self._ints(node.input[position])
        elif "axes" in attributes(node):
            axes = list(attributes(node)["axes"])
        else:
            return None
        if rank is None:
            rank = self.value(node.input[0]).ndim + len(axes)
        return [a + rank if a < 0 else a for a in axes]

    def _node(self, node: onnx.NodeProto) -> list[np.ndarray]:
        op, attrs = node.op_type, attributes(node)
        if op in SHAPE_READERS:
            dims = self.leaf(node.input[0])
            if dims is None:
                raise Unknown(f"shape of {node.input[0]} unknown")
            if op == "Size":
                return [wrap(product(dims))]
            start, end = attrs.get("start", 0), attrs.get("end", len(dims))
            return [objects(dims[slice(start, end)])]
        if op in UNARY:
            return [np.frompyfunc(UNARY[op], 1, 1)(self.value(node.input[0]))]
        if op in ELEMENTWISE:
            if attrs.get("fmod", 0):
                raise Unknown("Mod with fmod=1")
            values = [self.value(name) for name in node.input]
            result = values[0]
            for other in values[1:]:  # Max and Min take any number of inputs
                result = np.frompyfunc(ELEMENTWISE[op], 2, 1)(result, other)
            return [np.asarray(result, dtype=object)]
        if op == "Cast":
            if attrs["to"] not in INT_TYPES:
                raise Unknown("cast to a non-integer type")
            value = self.value(node.input[0])
            if attrs["to"] == onnx.TensorProto.BOOL:
                value = np.frompyfunc(lambda a: int(bool(as_int(a))), 1, 1)(value)
            else:  # a narrowing cast that would wrap around is not followed
                info = np.iinfo(helper.tensor_dtype_to_np_dtype(attrs["to"]))
                if any(isinstance(v, int) and not info.min <= v <= info.max for v in value.flat):
                    raise Unknown(f"{value} does not fit {info.dtype}")
            return [np.asarray(value, dtype=object)]
        if op == "Where":
            cond, a, b = (self.value(name) for name in node.input)
            pick = np.frompyfunc(lambda c, x, y: x if as_int(c) else y, 3, 1)
            return [np.asarray(pick(cond, a, b), dtype=object)]
        if op == "Gather":
            indices = np.asarray(self.value(node.input[1]), dtype=object)
            index = (
                np.vectorize(as_int, otypes=[np.int64])(indices) if indices.size else indices.astype(np.int64)
            )
            return [np.take(self.value(node.input[0]), index, axis=attrs.get("axis", 0))]
        if op == "Concat":
            return [np.concatenate([self.value(name) for name in node.input], axis=attrs["axis"])]
        if op == "Unsqueeze":
            data = self.value(node.input[0])
            for axis in sorted(self._axes(node, 1, None) or []):
                data = np.expand_dims(data, axis)
            return [data]
        if op == "Squeeze":
            data = self.value(node.input[0])
            axes = self._axes(node, 1, data.ndim)
            return [np.squeeze(data, axis=tuple(axes)) if axes is not None else np.squeeze(data)]
        if op == "Reshape":
            data = self.value(node.input[0])
            shape = self._ints(node.input[1])
            shape = [
                data.shape[i] if s == 0 and not attrs.get("allowzero", 0) else s for i, s in enumerate(shape)
            ]
            return [data.reshape(shape)]
        if op == "Slice":
            data = self.value(node.input[0])
            starts, ends = self._ints(node.input[1]), self._ints(node.input[2])
            axes = self._axes(node, 3, data.ndim) or list(range(len(starts)))
            steps = self._ints(node.input[4]) if len(node.input) > 4 and node.input[4] else [1] * len(starts)
            if any(s <= 0 for s in steps):
                raise Unknown("negative steps")
            index = [slice(None)] * data.ndim
            for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
                index[axis] = slice(start, end, step)  # Python clamps as ONNX does for positive steps
            return [data[tuple(index)]]
        if op == "Split":
            data = self.value(node.input[0])
            axis = attrs.get("axis", 0)
            axis = axis + data.ndim if axis < 0 else axis
            if len(node.input) > 1 and node.input[1]:
                sizes = self._ints(node.input[1])
            elif "split" in attrs:
                sizes = list(attrs["split"])
            else:
                parts = len(node.output)
                chunk = -(-data.shape[axis] // parts)
                sizes = [min(chunk, data.shape[axis] - i * chunk) for i in range(parts)]
            return np.split(data, np.cumsum(sizes)[:-1], axis=axis)
        if op == "ReduceProd":
            data = self.value(node.input[0])
            axes = self._axes(node, 1, data.ndim)
            if axes is None and attrs.get("noop_with_empty_axes", 0):
                return [data]
            keep = bool(attrs.get("keepdims", 1))
            axis = tuple(axes) if axes else None
            return [np.asarray(np.prod(data, axis=axis, keepdims=keep), dtype=object)]
        raise Unknown(f"{op} is not shape arithmetic this evaluator knows")
