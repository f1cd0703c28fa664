"""Rewrites of tf2onnx graphs that ONNX Runtime's CUDA provider would otherwise run on the CPU.

The CUDA execution provider silently places some nodes on the CPU and copies tensors around
them (see ``shared/device/README.md``): a ConvTranspose with asymmetric pads (Keras'
``Conv2DTranspose(padding="same", strides=2)``), and the shape arithmetic tf2onnx emits for
Flatten, for "same" transposed convolutions of unknown size and for dilated convolutions of unknown
size (``Shape`` -> ``Gather``/``Slice``/``Concat``/... -> the shape input of a ``Reshape``,
``Slice`` or ``Pad``). ``make_gpu_ready`` replaces them by equivalent GPU-friendly nodes:

- ConvTranspose with asymmetric pads -> ConvTranspose with zero pads + a constant ``Slice``;
- a shape, starts/ends or pads input computed at run time -> a constant, when it is proven
  constant (or relative to the data's own dimensions: ``0`` and ``-1`` in Reshape, negative
  ends in Slice) by evaluating the shape arithmetic over symbolic dimensions;
- SpaceToDepth/Conv/DepthToSpace with run-time pads and crops (TensorFlow's dilated convolution
  of unknown size) -> one Conv with ``dilations``, when the pads and crops, evaluated at many
  sizes, always amount to the same padding.

One rewrite saves a kernel on every provider: a constant 1x1 convolution (LeNet-5's fixed input
scaling) followed by an unpadded convolution -> one convolution with the two composed (their
weights multiplied): LeNet-5 at batch 1 takes 12-17% less time per call on the 2-core CPU.

Only nodes that are proven equivalent are rewritten; whatever is left is reported by
``cpu_bound_patterns``. ``check_equivalent`` compares two graphs in ONNX Runtime on the CPU.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from zoo.api import ExportValidationError

INT64_MAX = int(np.iinfo(np.int64).max)

# Inputs (by position) that ONNX Runtime reads on the host: computed at run time, they need the
# shape arithmetic that runs on the CPU (and forces a device-to-host copy).
SHAPE_INPUTS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 2, 3),
    "Expand": (1,),
    "Tile": (1,),
    "ConstantOfShape": (0,),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "Range": (0, 1, 2),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "TopK": (1,),
}
SHAPE_READERS = ("Shape", "Size")


class _Unknown(Exception):
    """A value that cannot be computed (or proven) without running the graph."""


# ---------------------------------------------------------------------------------------------
# Integer polynomials over symbolic dimensions: enough to prove that tf2onnx's shape arithmetic
# (products, sums, exact divisions of dimensions) comes out constant.


class _Poly:
    """An integer polynomial over named dimensions; constants are plain ``int`` instead."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[tuple[str, ...], int]) -> None:
        self.terms = {monomial: c for monomial, c in terms.items() if c}

    @staticmethod
    def symbol(name: str) -> _Poly:
        return _Poly({(name,): 1})

    def __repr__(self) -> str:
        return " + ".join(f"{c}*{'*'.join(m) or '1'}" for m, c in sorted(self.terms.items())) or "0"

    def __hash__(self) -> int:
        return hash(frozenset(self.terms.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (int, np.integer)):
            other = _Poly({(): int(other)})
        return isinstance(other, _Poly) and self.terms == other.terms

    def __add__(self, other: Any) -> int | _Poly:
        terms = dict(self.terms)
        for m, c in _terms(other).items():
            terms[m] = terms.get(m, 0) + c
        return _simplify(terms)

    __radd__ = __add__

    def __neg__(self) -> int | _Poly:
        return _simplify({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: Any) -> int | _Poly:
        return self + (-_as_poly(other))

    def __rsub__(self, other: Any) -> int | _Poly:
        return _as_poly(other) + (-self)

    def __mul__(self, other: Any) -> int | _Poly:
        terms: dict[tuple[str, ...], int] = {}
        for (m1, c1), (m2, c2) in itertools.product(self.terms.items(), _terms(other).items()):
            m = tuple(sorted(m1 + m2))
            terms[m] = terms.get(m, 0) + c1 * c2
        return _simplify(terms)

    __rmul__ = __mul__


def _terms(x: Any) -> dict[tuple[str, ...], int]:
    if isinstance(x, _Poly):
        return x.terms
    if isinstance(x, (int, np.integer)):
        return {(): int(x)}
    raise _Unknown(f"not an integer: {x!r}")


def _as_poly(x: Any) -> _Poly:
    return x if isinstance(x, _Poly) else _Poly(_terms(x))


def _simplify(terms: dict[tuple[str, ...], int]) -> int | _Poly:
    poly = _Poly(terms)
    if not poly.terms:
        return 0
    if set(poly.terms) == {()}:
        return poly.terms[()]
    return poly


def _int(x: Any) -> int:
    """``x`` as an int, or ``_Unknown`` when it depends on a symbolic dimension."""
    if isinstance(x, (int, np.integer)):
        return int(x)
    raise _Unknown(f"depends on run-time sizes: {x!r}")


def _div(a: Any, b: Any) -> int | _Poly:
    b = _int(b)
    if b == 0:
        raise _Unknown("division by zero")
    if isinstance(a, _Poly):  # exact only: every coefficient divisible
        if all(c % b == 0 for c in a.terms.values()):
            return _simplify({m: c // b for m, c in a.terms.items()})
        raise _Unknown(f"{a!r} / {b} is not exact")
    a = _int(a)
    q = abs(a) // abs(b)  # ONNX integer Div truncates toward zero
    return q if (a >= 0) == (b > 0) else -q


def _mod(a: Any, b: Any) -> int:
    b = _int(b)
    if b == 0:
        raise _Unknown("modulo by zero")
    return _int(a) % b  # fmod=0: the sign of the divisor, as Python's %


def _compare(a: Any, b: Any) -> int:
    """The sign of ``a - b``, when it does not depend on run-time sizes."""
    d = _int(a - b)
    return (d > 0) - (d < 0)


_ELEMENTWISE: dict[str, Callable[..., Any]] = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": _div,
    "Mod": _mod,
    "Equal": lambda a, b: int(_compare(a, b) == 0),
    "Less": lambda a, b: int(_compare(a, b) < 0),
    "LessOrEqual": lambda a, b: int(_compare(a, b) <= 0),
    "Greater": lambda a, b: int(_compare(a, b) > 0),
    "GreaterOrEqual": lambda a, b: int(_compare(a, b) >= 0),
    "And": lambda a, b: int(bool(_int(a)) and bool(_int(b))),
    "Or": lambda a, b: int(bool(_int(a)) or bool(_int(b))),
    "Max": lambda a, b: a if _compare(a, b) >= 0 else b,
    "Min": lambda a, b: a if _compare(a, b) <= 0 else b,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "Identity": lambda a: a,
    "Neg": lambda a: -a,
    "Abs": lambda a: abs(_int(a)),
    "Not": lambda a: int(not _int(a)),
}
_INT_TYPES = {
    onnx.TensorProto.INT8,
    onnx.TensorProto.INT16,
    onnx.TensorProto.INT32,
    onnx.TensorProto.INT64,
    onnx.TensorProto.UINT8,
    onnx.TensorProto.UINT16,
    onnx.TensorProto.UINT32,
    onnx.TensorProto.UINT64,
    onnx.TensorProto.BOOL,
}


def _objects(values: Iterable[Any], shape: Sequence[int] | None = None) -> np.ndarray:
    """An object array of Python ints and ``_Poly`` (numpy would try to unpack a nested list)."""
    items = list(values)
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape) if shape is not None else array


def _wrap(value: Any) -> np.ndarray:
    """An object array, also for the scalars numpy returns from indexing (a 0-d tensor)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype == object else _objects((int(v) for v in value.flat), value.shape)
    array = np.empty((), dtype=object)
    array[()] = value
    return array


def _integer_array(tensor: onnx.TensorProto) -> np.ndarray:
    if tensor.data_type not in _INT_TYPES:
        raise _Unknown("not an integer tensor")
    array = numpy_helper.to_array(tensor).astype(np.int64)
    return _objects((int(v) for v in array.flat), array.shape)


# ---------------------------------------------------------------------------------------------
# Graph bookkeeping


class _Index:
    """Who produces and who consumes each tensor, and the graph's constants."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        self.initializers = {t.name: t for t in graph.initializer}
        self.outputs = {v.name for v in graph.output}
        self.names: set[str] = set(self.initializers) | {v.name for v in graph.input}
        for node in graph.node:
            self.names.add(node.name)
            for name in node.output:
                self.producer[name] = node
                self.names.add(name)
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def constant(self, name: str) -> onnx.TensorProto | None:
        """The tensor named ``name`` when it is an initializer or a Constant node's value."""
        if name in self.initializers:
            return self.initializers[name]
        node = self.producer.get(name)
        if node is not None and node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    return attr.t
                if attr.name in ("value_int", "value_ints"):
                    value = helper.get_attribute_value(attr)
                    return numpy_helper.from_array(np.asarray(value, dtype=np.int64), name)
        return None

    def constant_array(self, name: str) -> np.ndarray | None:
        tensor = self.constant(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def is_static(self, name: str) -> bool:
        """An absent optional input or a constant."""
        return name == "" or self.constant(name) is not None

    def only_consumer(self, name: str) -> onnx.NodeProto | None:
        users = self.consumers.get(name, [])
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def unique(self, base: str) -> str:
        name, n = base, 1
        while name in self.names:
            n += 1
            name = f"{base}_{n}"
        self.names.add(name)
        return name

    def add_initializer(self, base: str, values: Sequence[int]) -> str:
        name = self.unique(base)
        tensor = numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)
        self.graph.initializer.append(tensor)
        self.initializers[name] = tensor
        return name


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _label(node: onnx.NodeProto) -> str:
    return f"{node.op_type} {node.name or (node.output[0] if node.output else '?')}"


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


def _has_subgraphs(graph: onnx.GraphProto) -> bool:
    return any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for n in graph.node
        for a in n.attribute
    )


# ---------------------------------------------------------------------------------------------
# Shapes of tensors, symbolic where unknown


class _Shapes:
    """Each tensor's dimensions as ints or symbols, from ONNX shape inference.

    A named dimension (``dim_param``) is one symbol wherever it appears; an unnamed unknown one
    gets a symbol of its own, so nothing is assumed equal that inference did not prove equal.
    ConvTranspose outputs are derived from their input's dimensions (ONNX inference gives up on
    unknown spatial sizes), which is what ties tf2onnx's crop arithmetic to the data.
    """

    def __init__(self, model: onnx.ModelProto, index: _Index) -> None:
        self.index = index
        try:
            inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # inference is only a source of facts; without it, fewer proofs
            inferred = model
        graph = inferred.graph
        self.raw: dict[str, list[int | str | None] | None] = {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            tensor = value.type.tensor_type
            if not tensor.HasField("shape"):
                continue
            self.raw[value.name] = [
                d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim
            ]
        for init in model.graph.initializer:
            self.raw[init.name] = list(init.dims)
        self.memo: dict[str, list[int | _Poly] | None] = {}

    def dims(self, name: str) -> list[int | _Poly] | None:
        if name not in self.memo:
            self.memo[name] = self._dims(name)
        return self.memo[name]

    def _dims(self, name: str) -> list[int | _Poly] | None:
        node = self.index.producer.get(name)
        if node is not None and node.op_type == "ConvTranspose" and node.output[0] == name:
            derived = self._conv_transpose(node)
            if derived is not None:
                return derived
        raw = self.raw.get(name)
        if raw is None:
            return None
        return [
            d if isinstance(d, int) else _Poly.symbol(f"${d}" if d else f"?{name}[{i}]")
            for i, d in enumerate(raw)
        ]

    def _conv_transpose(self, node: onnx.NodeProto) -> list[int | _Poly] | None:
        x = self.dims(node.input[0])
        geometry = _ConvTranspose.of(node, self.index)
        if x is None or geometry is None or len(x) != 2 + len(geometry.kernel):
            return None
        spatial = x[2:]
        pads = geometry.pads([d if isinstance(d, int) else None for d in spatial])
        if pads is None:
            return None
        begin, end = pads
        out = []
        for i, d in enumerate(spatial):
            full = geometry.strides[i] * (d - 1) + geometry.output_padding[i] + geometry.extent(i)
            out.append(full - begin[i] - end[i])
        return [x[0], geometry.channels, *out] if geometry.channels else None


class _ConvTranspose:
    """A ConvTranspose node's geometry, and the pads it applies (explicit or implied)."""

    def __init__(self, node: onnx.NodeProto, kernel: list[int], channels: int | None) -> None:
        attrs = _attrs(node)
        n = len(kernel)
        self.node = node
        self.kernel = kernel
        self.channels = channels
        self.strides = list(attrs.get("strides", [1] * n))
        self.dilations = list(attrs.get("dilations", [1] * n))
        self.output_padding = list(attrs.get("output_padding", [0] * n))
        self.explicit = list(attrs.get("pads", [0] * 2 * n))
        self.output_shape = list(attrs.get("output_shape", []))
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        self.auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)

    @classmethod
    def of(cls, node: onnx.NodeProto, index: _Index) -> _ConvTranspose | None:
        attrs = _attrs(node)
        weight = index.constant(node.input[1]) if len(node.input) > 1 else None
        kernel = list(attrs.get("kernel_shape", [])) or (list(weight.dims[2:]) if weight is not None else [])
        if not kernel:
            return None
        channels = weight.dims[1] * attrs.get("group", 1) if weight is not None else None
        return cls(node, kernel, channels)

    def extent(self, i: int) -> int:
        return (self.kernel[i] - 1) * self.dilations[i] + 1

    def pads(self, spatial: Sequence[int | None]) -> tuple[list[int], list[int]] | None:
        """(begin, end) pads per spatial axis as ONNX Runtime applies them; None if they depend on
        an unknown input size (``output_shape`` with a dynamic input)."""
        n = len(self.kernel)
        if self.output_shape or self.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            totals = []
            for i in range(n):
                if self.output_shape:
                    if spatial[i] is None:
                        return None
                    full = self.strides[i] * (spatial[i] - 1) + self.output_padding[i] + self.extent(i)
                    totals.append(full - self.output_shape[-n + i])
                else:  # output = input * stride, whatever the input size
                    totals.append(self.output_padding[i] + self.extent(i) - self.strides[i])
            if any(t < 0 for t in totals):
                return None
            if self.auto_pad == "SAME_UPPER":
                return [t // 2 for t in totals], [t - t // 2 for t in totals]
            return [t - t // 2 for t in totals], [t // 2 for t in totals]
        if self.auto_pad == "VALID":
            return [0] * n, [0] * n
        return self.explicit[:n], self.explicit[n:]


# ---------------------------------------------------------------------------------------------
# Evaluating shape arithmetic


class _Evaluator:
    """Computes integer tensors derived from ``Shape`` and constants, without running the graph.

    ``leaf(name)`` gives the dimensions a ``Shape`` node reads (ints, or ``_Poly`` symbols to
    prove a value for every size at once). Anything else (float data, an unsupported op, a
    comparison that depends on the sizes) raises ``_Unknown``.
    """

    def __init__(self, index: _Index, leaf: Callable[[str], list[int | _Poly] | None]) -> None:
        self.index = index
        self.leaf = leaf
        self.memo: dict[str, np.ndarray] = {}

    def __call__(self, name: str) -> np.ndarray | None:
        try:
            return self.value(name)
        except (
            _Unknown,
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
                self.memo[name] = _integer_array(tensor)
            else:
                node = self.index.producer.get(name)
                if node is None:
                    raise _Unknown(f"{name} is a graph input")
                for out, value in zip(node.output, self._node(node), strict=False):
                    self.memo[out] = _wrap(value)
        return self.memo[name]

    def _ints(self, name: str) -> list[int]:
        return [_int(v) for v in self.value(name).flat]

    def _axes(self, node: onnx.NodeProto, position: int, rank: int | None) -> list[int] | None:
        """Axes from the input at ``position`` (opset >= 13) or the ``axes`` attribute, made
        positive for a tensor of ``rank`` dimensions (for Unsqueeze, the output's)."""
        if len(node.input) > position and node.input[position]:
            axes = self._ints(node.input[position])
        elif "axes" in _attrs(node):
            axes = list(_attrs(node)["axes"])
        else:
            return None
        if rank is None:
            rank = self.value(node.input[0]).ndim + len(axes)
        return [a + rank if a < 0 else a for a in axes]

    def _node(self, node: onnx.NodeProto) -> list[np.ndarray]:
        op, attrs = node.op_type, _attrs(node)
        if op in SHAPE_READERS:
            dims = self.leaf(node.input[0])
            if dims is None:
                raise _Unknown(f"shape of {node.input[0]} unknown")
            if op == "Size":
                return [_wrap(_product(dims))]
            start, end = attrs.get("start", 0), attrs.get("end", len(dims))
            return [_objects(dims[slice(start, end)])]
        if op in _UNARY:
            return [np.frompyfunc(_UNARY[op], 1, 1)(self.value(node.input[0]))]
        if op in _ELEMENTWISE:
            if attrs.get("fmod", 0):
                raise _Unknown("Mod with fmod=1")
            values = [self.value(name) for name in node.input]
            result = values[0]
            for other in values[1:]:  # Max and Min take any number of inputs
                result = np.frompyfunc(_ELEMENTWISE[op], 2, 1)(result, other)
            return [np.asarray(result, dtype=object)]
        if op == "Cast":
            if attrs["to"] not in _INT_TYPES:
                raise _Unknown("cast to a non-integer type")
            value = self.value(node.input[0])
            if attrs["to"] == onnx.TensorProto.BOOL:
                value = np.frompyfunc(lambda a: int(bool(_int(a))), 1, 1)(value)
            else:  # a narrowing cast that would wrap around is not followed
                info = np.iinfo(helper.tensor_dtype_to_np_dtype(attrs["to"]))
                if any(isinstance(v, int) and not info.min <= v <= info.max for v in value.flat):
                    raise _Unknown(f"{value} does not fit {info.dtype}")
            return [np.asarray(value, dtype=object)]
        if op == "Where":
            cond, a, b = (self.value(name) for name in node.input)
            pick = np.frompyfunc(lambda c, x, y: x if _int(c) else y, 3, 1)
            return [np.asarray(pick(cond, a, b), dtype=object)]
        if op == "Gather":
            indices = np.asarray(self.value(node.input[1]), dtype=object)
            index = (
                np.vectorize(_int, otypes=[np.int64])(indices) if indices.size else indices.astype(np.int64)
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
                raise _Unknown("negative steps")
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
        raise _Unknown(f"{op} is not shape arithmetic this evaluator knows")


# ---------------------------------------------------------------------------------------------
# The rewrites


def _runtime_inputs(node: onnx.NodeProto, index: _Index) -> list[int]:
    positions = SHAPE_INPUTS.get(node.op_type, ())
    return [i for i in positions if i < len(node.input) and not index.is_static(node.input[i])]


def _reshape_target(
    target: list[int | _Poly], dims: list[int | _Poly] | None, allowzero: int
) -> list[int] | None:
    """A constant Reshape shape equal to ``target`` for every size, or None.

    ``0`` copies the data's own dimension at that position; one ``-1`` takes the place of a
    dimension only when the element counts provably agree.
    """
    if any(isinstance(t, int) and t == -1 for t in target):
        has_minus_one, counts_agree = True, False
    else:
        has_minus_one = False
        counts_agree = dims is not None and _product(dims) == _product(target)
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


def _product(values: Iterable[int | _Poly]) -> int | _Poly:
    result: int | _Poly = 1
    for v in values:
        result = result * v
    return result


def _slice_bound(value: int | _Poly, dim: int | _Poly | None, step: int) -> int | None:
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


def _fold_runtime_shapes(model: onnx.ModelProto, notes: list[str]) -> None:
    """Replace shape-like inputs computed at run time by constants, where proven equal."""
    graph = model.graph
    index = _Index(graph)
    shapes = _Shapes(model, index)
    evaluate = _Evaluator(index, shapes.dims)
    bypass: list[onnx.NodeProto] = []
    for node in graph.node:
        runtime = _runtime_inputs(node, index)
        if not runtime or node.op_type not in ("Reshape", "Slice", "Pad"):
            continue
        values = {i: evaluate(node.input[i]) for i in runtime}
        if any(v is None for v in values.values()):
            continue
        dims = shapes.dims(node.input[0])
        if node.op_type == "Reshape":
            target = list(values[1].flat)
            shape = _reshape_target(target, dims, _attrs(node).get("allowzero", 0))
            if shape is None:
                continue
            node.input[1] = index.add_initializer(f"{node.name or 'reshape'}_shape", shape)
            notes.append(f"{_label(node)}: shape computed at run time from Shape -> constant {shape}")
        elif node.op_type == "Slice":
            constants = _fold_slice(node, values, dims, evaluate, index)
            if constants is None:
                continue
            names = ("starts", "ends", "axes", "steps")
            for i, vals in constants.items():
                node.input[i] = index.add_initializer(f"{node.name or 'slice'}_{names[i - 1]}", vals)
            described = ", ".join(f"{names[i - 1]} {v}" for i, v in sorted(constants.items()))
            notes.append(f"{_label(node)}: bounds computed at run time from Shape -> constant {described}")
        else:  # Pad
            if set(runtime) - {1} or any(not isinstance(v, int) for v in values[1].flat):
                continue
            pads = [int(v) for v in values[1].flat]
            removable = node.output[0] not in index.outputs and not _has_subgraphs(graph)
            if not any(pads) and removable:  # a Pad that pads nothing, whatever its mode
                bypass.append(node)
                notes.append(f"{_label(node)}: pads computed at run time from Shape are all zero -> removed")
            else:
                node.input[1] = index.add_initializer(f"{node.name or 'pad'}_pads", pads)
                notes.append(f"{_label(node)}: pads computed at run time from Shape -> constant {pads}")
    for node in bypass:
        for user in index.consumers.get(node.output[0], []):
            for i, name in enumerate(user.input):
                if name == node.output[0]:
                    user.input[i] = node.input[0]
        graph.node.remove(node)


def _fold_slice(
    node: onnx.NodeProto,
    values: dict[int, np.ndarray],
    dims: list[int | _Poly] | None,
    evaluate: _Evaluator,
    index: _Index,
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


def _rewrite_conv_transposes(model: onnx.ModelProto, notes: list[str]) -> None:
    """ConvTranspose with asymmetric pads -> ConvTranspose without pads + a constant Slice."""
    if _opset(model) < 10:  # Slice takes its bounds as inputs from opset 10 on
        return
    graph = model.graph
    index = _Index(graph)
    shapes = _Shapes(model, index)
    position = 0
    while position < len(graph.node):
        node = graph.node[position]
        position += 1
        if node.op_type != "ConvTranspose":
            continue
        geometry = _ConvTranspose.of(node, index)
        x = shapes.dims(node.input[0])
        if geometry is None or x is None or len(x) != 2 + len(geometry.kernel):
            continue
        spatial = [d if isinstance(d, int) else None for d in x[2:]]
        pads = geometry.pads(spatial)
        if pads is None:
            continue
        begin, end = pads
        if begin == end:
            continue
        n = len(geometry.kernel)
        axes = [2 + i for i in range(n) if begin[i] or end[i]]
        starts = [begin[a - 2] for a in axes]
        ends = []
        for a in axes:
            i = a - 2
            if spatial[i] is not None:
                full = (
                    geometry.strides[i] * (spatial[i] - 1) + geometry.output_padding[i] + geometry.extent(i)
                )
                ends.append(full - end[i])
            else:
                ends.append(-end[i] if end[i] else INT64_MAX)
        original = list(begin) + list(end)
        for attr in list(node.attribute):
            if attr.name in ("pads", "auto_pad", "output_shape"):
                node.attribute.remove(attr)
        node.attribute.append(helper.make_attribute("pads", [0] * 2 * n))
        base = node.name or node.output[0]
        output = node.output[0]
        node.output[0] = index.unique(f"{output}_uncropped")
        crop = helper.make_node(
            "Slice",
            [
                node.output[0],
                index.add_initializer(f"{base}_crop_starts", starts),
                index.add_initializer(f"{base}_crop_ends", ends),
                index.add_initializer(f"{base}_crop_axes", axes),
            ],
            [output],
            name=index.unique(f"{base}_crop"),
        )
        graph.node.insert(position, crop)
        position += 1
        how = f"auto_pad {geometry.auto_pad}" if geometry.auto_pad in ("SAME_UPPER", "SAME_LOWER") else "pads"
        if geometry.output_shape:
            how = f"output_shape {geometry.output_shape}"
        notes.append(f"{_label(node)}: asymmetric {how} {original} -> zero pads + Slice {crop.name}")


def _conv_geometry(node: onnx.NodeProto, index: _Index) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The float32 weight and bias (None if absent) of an ungrouped Conv with constant weights."""
    if node.op_type != "Conv" or node.domain not in ("", "ai.onnx") or _attrs(node).get("group", 1) != 1:
        return None
    weight = index.constant_array(node.input[1])
    has_bias = len(node.input) > 2 and bool(node.input[2])
    bias = index.constant_array(node.input[2]) if has_bias else None
    if weight is None or weight.dtype != np.float32 or (has_bias and bias is None):
        return None
    return weight, bias


def _unpadded(node: onnx.NodeProto) -> bool:
    attrs = _attrs(node)
    return attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", b"VALID", "NOTSET", "VALID") and not any(
        attrs.get("pads", [])
    )


def _fold_pointwise_convs(model: onnx.ModelProto, notes: list[str]) -> None:
    """Conv 1x1 (constant, stride 1, unpadded) -> [a Reshape that changes nothing] -> unpadded
    Conv becomes one Conv computing both: W[o,i] = sum_c W2[o,c] W1[c,i] and
    b[o] = b2[o] + sum_c,k W2[o,c,k] b1[c]. Exact only without padding (a padded border would
    get the first convolution's bias), so padded ones are left alone."""
    graph = model.graph
    index = _Index(graph)
    shapes = _Shapes(model, index)
    for second in list(graph.node):
        outer = _conv_geometry(second, index)
        if outer is None or not _unpadded(second):
            continue
        between = index.producer.get(second.input[0])
        reshape = None
        if between is not None and between.op_type == "Reshape":
            if not _same(index.only_consumer(between.output[0]), second):
                continue
            reshape, between = between, index.producer.get(between.input[0])
        first = between
        if first is None or not _same(index.only_consumer(first.output[0]), reshape or second):
            continue
        inner = _conv_geometry(first, index)
        if inner is None or not _unpadded(first) or any(s != 1 for s in _attrs(first).get("strides", [])):
            continue
        w1, b1 = inner
        w2, b2 = outer
        if any(k != 1 for k in w1.shape[2:]) or w1.shape[0] != w2.shape[1]:
            continue
        if reshape is not None:
            dims = shapes.dims(first.output[0])
            target = index.constant_array(reshape.input[1])
            if dims is None or target is None or not all(isinstance(d, int) for d in dims[1:]):
                continue
            changes_nothing = list(target[1:]) == dims[1:] and target[0] in (0, -1)
            if _attrs(reshape).get("allowzero", 0) or not changes_nothing:
                continue
        mix = w1.reshape(w1.shape[:2]).astype(np.float64)
        weight = np.einsum("oc...,ci->oi...", w2.astype(np.float64), mix).astype(np.float32)
        bias = np.zeros(w2.shape[0]) if b2 is None else b2.astype(np.float64)
        if b1 is not None:
            taps = w2.astype(np.float64).sum(axis=tuple(range(2, w2.ndim)))  # (out, in): the kernel summed
            bias = bias + taps @ b1.astype(np.float64)
        base = second.name or second.output[0]
        names = []
        for suffix, value in (("folded_weight", weight), ("folded_bias", bias.astype(np.float32))):
            name = index.unique(f"{base}_{suffix}")
            tensor = numpy_helper.from_array(value, name)
            graph.initializer.append(tensor)
            index.initializers[name] = tensor
            names.append(name)
        del second.input[:]
        second.input.extend([first.input[0], *names])
        notes.append(f"{_label(first)}: 1x1 convolution folded into {_label(second)}")


def _same(a: onnx.NodeProto | None, b: onnx.NodeProto) -> bool:
    """The same node (outputs are unique names; protobuf wrappers need not be the same object)."""
    return a is not None and list(a.output) == list(b.output)


def _chain(index: _Index, start: str, ops: Sequence[str]) -> list[onnx.NodeProto] | None:
    """The nodes ``ops`` (in order, backwards from the producer of ``start``), each the only
    consumer of the next one's output."""
    nodes = []
    name = start
    for op in ops:
        node = index.producer.get(name)
        if node is None or node.op_type != op:
            return None
        if nodes and not _same(index.only_consumer(node.output[0]), nodes[-1]):
            return None
        nodes.append(node)
        name = node.input[0]
    return nodes


def _sample_sizes(block: int) -> list[tuple[int, int]]:
    """Heights and widths covering every remainder modulo the block, small and large."""
    small = range(1, 4 * block + 2)
    return [(h, h) for h in small] + [(h, h + 1) for h in small] + [(7, 28), (64, 97), (255, 128)]


def _dilated_conv_pads(
    pad: onnx.NodeProto, crop: onnx.NodeProto, index: _Index, channels: int, block: int, kernel: list[int]
) -> list[int] | None:
    """The Conv pads that TensorFlow's space-to-batch dilated convolution amounts to, if the same
    at every sampled size; the run-time pads and crops are computed from the data's shape."""
    x = pad.input[0]
    found: set[tuple[int, ...]] = set()
    for batch, (h, w) in itertools.product((1, 3), _sample_sizes(block)):
        dims: list[int | _Poly] = [batch, channels, h, w]
        evaluate = _Evaluator(index, lambda name, dims=dims: dims if name == x else None)
        pads = evaluate(pad.input[1])
        starts, ends = evaluate(crop.input[1]), evaluate(crop.input[2])
        axes = evaluate(crop.input[3]) if len(crop.input) > 3 and crop.input[3] else None
        steps = evaluate(crop.input[4]) if len(crop.input) > 4 and crop.input[4] else None
        if pads is None or starts is None or ends is None or pads.size != 8:
            return None
        pads_list = [int(v) for v in pads.flat]
        if any(pads_list[i] for i in (0, 1, 4, 5)):
            return None
        n = starts.size
        axes_list = [int(a) % 4 for a in axes.flat] if axes is not None else list(range(n))
        if steps is not None and any(int(s) != 1 for s in steps.flat):
            return None
        bounds = dict(zip(axes_list, zip(starts.flat, ends.flat, strict=True), strict=True))
        result = []
        for i, size in enumerate((h, w)):
            begin, end = pads_list[2 + i], pads_list[6 + i]
            padded = size + begin + end
            if padded % block or padded // block < kernel[i]:
                return None
            length = block * (padded // block - kernel[i] + 1)
            s0, s1 = bounds.get(2 + i, (0, INT64_MAX))
            s0, s1 = (int(v) + length if int(v) < 0 else int(v) for v in (s0, s1))
            s0, s1 = min(max(s0, 0), length), min(max(s1, 0), length)
            result.append((begin - s0, end - (length - s1)))
        if any(a not in (2, 3) and bounds[a] != (0, INT64_MAX) for a in bounds):
            return None
        (bh, eh), (bw, ew) = result
        found.add((bh, bw, eh, ew))
        if len(found) > 1 or min(bh, bw, eh, ew) < 0:
            return None
    return list(found.pop()) if found else None


def _rewrite_dilated_convs(model: onnx.ModelProto, notes: list[str]) -> None:
    """Pad -> Transpose -> SpaceToDepth -> Transpose -> Conv -> Transpose -> DepthToSpace -> Slice
    (tf2onnx's dilated convolution when height and width are unknown) -> Conv with dilations
    followed by the same layout Transpose."""
    graph = model.graph
    changed = True
    while changed:
        changed = False
        index = _Index(graph)
        shapes = _Shapes(model, index)
        for crop in list(graph.node):
            if crop.op_type != "Slice":
                continue
            chain = _chain(
                index,
                crop.input[0],
                ["DepthToSpace", "Transpose", "Conv", "Transpose", "SpaceToDepth", "Transpose", "Pad"],
            )
            if chain is None or not _same(index.only_consumer(chain[0].output[0]), crop):
                continue
            d2s, t3, conv, t2, s2d, t1, pad = chain
            block = _attrs(s2d).get("blocksize")
            conv_attrs = _attrs(conv)
            weight = index.constant(conv.input[1])
            x_dims = shapes.dims(pad.input[0])
            if (
                block is None
                or _attrs(d2s).get("blocksize") != block
                or _attrs(d2s).get("mode", b"DCR") not in (b"DCR", "DCR")
                or any(list(_attrs(t).get("perm", [])) != [1, 0, 2, 3] for t in (t1, t2, t3))
                or weight is None
                or len(weight.dims) != 4
                or any(s != 1 for s in conv_attrs.get("strides", [1, 1]))
                or any(d != 1 for d in conv_attrs.get("dilations", [1, 1]))
                or any(conv_attrs.get("pads", [0] * 4))
                or conv_attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID")
                or _attrs(pad).get("mode", b"constant") not in (b"constant", "constant")
                or len(pad.input) > 3
                or (len(pad.input) == 3 and pad.input[2] and _constant_is_nonzero(index, pad.input[2]))
                or x_dims is None
                or len(x_dims) != 4
                or not isinstance(x_dims[1], int)
            ):
                continue
            kernel = list(weight.dims[2:])
            pads = _dilated_conv_pads(pad, crop, index, x_dims[1], block, kernel)
            if pads is None:
                continue
            base = conv.name or conv.output[0]
            name = index.unique(f"{base}_dilated")
            dilated_out = index.unique(f"{name}:0")
            attrs = {
                "kernel_shape": kernel,
                "dilations": [block, block],
                "strides": [1, 1],
                "pads": pads,
                "group": conv_attrs.get("group", 1),
            }
            dilated = helper.make_node(
                "Conv",
                [pad.input[0], *conv.input[1:]],
                [dilated_out],
                name=name,
                **attrs,
            )
            layout = helper.make_node(
                "Transpose",
                [dilated_out],
                [crop.output[0]],
                name=index.unique(f"{base}_layout"),
                perm=[1, 0, 2, 3],
            )
            at = list(graph.node).index(crop)
            graph.node.remove(crop)
            graph.node.insert(at, layout)
            graph.node.insert(at, dilated)
            notes.append(
                f"{_label(conv)}: SpaceToDepth/DepthToSpace dilated convolution with run-time pads and crops "
                f"(block {block}) -> Conv {dilated.name} dilations [{block}, {block}], pads {pads}"
            )
            changed = True
            break


def _constant_is_nonzero(index: _Index, name: str) -> bool:
    value = index.constant_array(name)
    return value is None or bool(np.any(value != 0))


def _eliminate_dead_nodes(graph: onnx.GraphProto) -> None:
    """Drop nodes (and initializers, value_info) that no graph output depends on."""
    needed = {v.name for v in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            keep.append(node)
            needed.update(node.input)
            needed.update(_subgraph_inputs(node))
    keep.reverse()
    if len(keep) != len(graph.node):
        del graph.node[:]
        graph.node.extend(keep)
    inputs = {v.name for v in graph.input}
    unused = [t for t in graph.initializer if t.name not in needed and t.name not in inputs]
    for tensor in unused:
        graph.initializer.remove(tensor)
    produced = {name for node in graph.node for name in node.output}
    for value in [v for v in graph.value_info if v.name not in produced]:
        graph.value_info.remove(value)


def _subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs (If, Loop, Scan) read from the enclosing graph (a superset)."""
    names: set[str] = set()
    for attr in node.attribute:
        graphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
        for sub in graphs:
            for inner in sub.node:
                names.update(inner.input)
                names.update(_subgraph_inputs(inner))
    return names


# ---------------------------------------------------------------------------------------------
# Public API


def make_gpu_ready(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` with the patterns the CUDA provider runs on the CPU rewritten (and
    constant 1x1 convolutions folded into the next one), and one human-readable line per rewrite.

    Inputs, outputs, their names and the opset are kept; nodes whose equivalence cannot be
    proven are left as they are (``cpu_bound_patterns`` lists them). The result passes
    ``onnx.checker.check_model(full_check=True)``.
    """
    result = copy.deepcopy(model)
    notes: list[str] = []
    _rewrite_dilated_convs(result, notes)
    _fold_runtime_shapes(result, notes)
    _rewrite_conv_transposes(result, notes)
    _fold_pointwise_convs(result, notes)
    _eliminate_dead_nodes(result.graph)
    if notes:
        onnx.checker.check_model(result, full_check=True)
    return result, notes


def cpu_bound_patterns(model: onnx.ModelProto) -> list[str]:
    """Every node that makes ONNX Runtime's CUDA provider fall back to the CPU for the reasons
    above: ConvTranspose with asymmetric pads, nodes that read shapes at run time, and nodes whose
    shape-like inputs (a Reshape's shape, a Slice's bounds, pads ...) are computed at run time."""
    index = _Index(model.graph)
    shapes = _Shapes(model, index)
    found = []
    for node in model.graph.node:
        if node.op_type in SHAPE_READERS:
            found.append(f"{_label(node)}: reads the shape of {node.input[0]} at run time")
        elif node.op_type == "ConvTranspose":
            geometry = _ConvTranspose.of(node, index)
            x = shapes.dims(node.input[0])
            pads = None
            if geometry is not None and x is not None and len(x) == 2 + len(geometry.kernel):
                pads = geometry.pads([d if isinstance(d, int) else None for d in x[2:]])
            if pads is None:
                found.append(f"{_label(node)}: pads unknown (may be asymmetric)")
            elif pads[0] != pads[1]:
                found.append(f"{_label(node)}: asymmetric pads {pads[0] + pads[1]}")
        for i in _runtime_inputs(node, index):
            producer = index.producer.get(node.input[i])
            source = _label(producer) if producer is not None else f"graph input {node.input[i]}"
            found.append(f"{_label(node)}: input {i} ({node.input[i]}) computed at run time by {source}")
    return found


def check_equivalent(
    before: onnx.ModelProto,
    after: onnx.ModelProto,
    inputs: dict[str, np.ndarray],
    atol: float = 0.0,
    *,
    optimize: bool = True,
) -> float:
    """The largest absolute difference between the outputs of two graphs in ONNX Runtime (CPU),
    on ``inputs`` (by input name); raises ``ExportValidationError`` where it exceeds ``atol`` or
    the outputs differ in names or shapes.

    ``optimize=False`` turns ONNX Runtime's graph optimizations off: its fusions can differ between
    the two graphs (a constant shape allows more) and move results by an ulp (about 1e-7), while
    the rewrites themselves compute exactly the same sums.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL

    def run(model: onnx.ModelProto) -> dict[str, np.ndarray]:
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(None, inputs), strict=True))

    expected, got = run(before), run(after)
    if list(expected) != list(got):
        raise ExportValidationError(f"outputs differ: {list(expected)} before, {list(got)} after the rewrite")
    worst = 0.0
    for name, a in expected.items():
        b = got[name]
        if a.shape != b.shape:
            raise ExportValidationError(
                f"output {name!r} has shape {b.shape} after the rewrite, {a.shape} before"
            )
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same_nan = np.isnan(a64) == np.isnan(b64)
        if not np.all(same_nan):
            worst = float("inf")
            continue
        finite = ~np.isnan(a64)
        if np.any(finite):
            worst = max(worst, float(np.max(np.abs(a64[finite] - b64[finite]))))
    if worst > atol:
        raise ExportValidationError(
            f"the GPU-ready rewrite differs by {worst:.3g} (> {atol:g}) from tf2onnx's graph"
        )
    return worst
