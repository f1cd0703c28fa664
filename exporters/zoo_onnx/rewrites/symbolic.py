"""Integer polynomials over symbolic dimensions: enough to prove that tf2onnx's shape arithmetic
(products, sums, exact divisions of dimensions) comes out the same for every input size."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper


class Unknown(Exception):
    """A value that cannot be computed (or proven) without running the graph."""


class Poly:
    """An integer polynomial over named dimensions; constants are plain ``int`` instead."""

    __slots__ = ("terms",)

    def __init__(self, terms: dict[tuple[str, ...], int]) -> None:
        self.terms = {monomial: c for monomial, c in terms.items() if c}

    @staticmethod
    def symbol(name: str) -> Poly:
        return Poly({(name,): 1})

    def __repr__(self) -> str:
        return " + ".join(f"{c}*{'*'.join(m) or '1'}" for m, c in sorted(self.terms.items())) or "0"

    def __hash__(self) -> int:
        return hash(frozenset(self.terms.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (int, np.integer)):
            other = Poly({(): int(other)})
        return isinstance(other, Poly) and self.terms == other.terms

    def __add__(self, other: Any) -> int | Poly:
        terms = dict(self.terms)
        for m, c in _terms(other).items():
            terms[m] = terms.get(m, 0) + c
        return _simplify(terms)

    __radd__ = __add__

    def __neg__(self) -> int | Poly:
        return _simplify({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: Any) -> int | Poly:
        return self + (-_as_poly(other))

    def __rsub__(self, other: Any) -> int | Poly:
        return _as_poly(other) + (-self)

    def __mul__(self, other: Any) -> int | Poly:
        terms: dict[tuple[str, ...], int] = {}
        for (m1, c1), (m2, c2) in itertools.product(self.terms.items(), _terms(other).items()):
            m = tuple(sorted(m1 + m2))
            terms[m] = terms.get(m, 0) + c1 * c2
        return _simplify(terms)

    __rmul__ = __mul__


def _terms(x: Any) -> dict[tuple[str, ...], int]:
    if isinstance(x, Poly):
        return x.terms
    if isinstance(x, (int, np.integer)):
        return {(): int(x)}
    raise Unknown(f"not an integer: {x!r}")


def _as_poly(x: Any) -> Poly:
    return x if isinstance(x, Poly) else Poly(_terms(x))


def _simplify(terms: dict[tuple[str, ...], int]) -> int | Poly:
    poly = Poly(terms)
    if not poly.terms:
        return 0
    if set(poly.terms) == {()}:
        return poly.terms[()]
    return poly


def as_int(x: Any) -> int:
    """``x`` as an int, or ``Unknown`` when it depends on a symbolic dimension."""
    if isinstance(x, (int, np.integer)):
        return int(x)
    raise Unknown(f"depends on run-time sizes: {x!r}")


def product(values: Iterable[int | Poly]) -> int | Poly:
    result: int | Poly = 1
    for v in values:
        result = result * v
    return result


def smallest(value: int | Poly) -> int | None:
    """The least value ``value`` takes when every dimension it names is at least 1, where that is
    known: every term but the constant has a non-negative coefficient (so it grows with each
    dimension, and is least with all of them 1); None otherwise."""
    if isinstance(value, int):
        return value
    if any(c < 0 for m, c in value.terms.items() if m):
        return None
    return sum(value.terms.values())


def _div(a: Any, b: Any) -> int | Poly:
    b = as_int(b)
    if b == 0:
        raise Unknown("division by zero")
    if isinstance(a, Poly):  # exact only: every coefficient divisible
        if all(c % b == 0 for c in a.terms.values()):
            return _simplify({m: c // b for m, c in a.terms.items()})
        raise Unknown(f"{a!r} / {b} is not exact")
    a = as_int(a)
    q = abs(a) // abs(b)  # ONNX integer Div truncates toward zero
    return q if (a >= 0) == (b > 0) else -q


def _mod(a: Any, b: Any) -> int:
    b = as_int(b)
    if b == 0:
        raise Unknown("modulo by zero")
    return as_int(a) % b  # fmod=0: the sign of the divisor, as Python's %


def _compare(a: Any, b: Any) -> int:
    """The sign of ``a - b``, when it does not depend on run-time sizes."""
    d = as_int(a - b)
    return (d > 0) - (d < 0)


# ONNX ops on integers, element by element, as the evaluator applies them to ints and polynomials.
ELEMENTWISE: dict[str, Callable[..., Any]] = {
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
    "And": lambda a, b: int(bool(as_int(a)) and bool(as_int(b))),
    "Or": lambda a, b: int(bool(as_int(a)) or bool(as_int(b))),
    "Max": lambda a, b: a if _compare(a, b) >= 0 else b,
    "Min": lambda a, b: a if _compare(a, b) <= 0 else b,
}
UNARY: dict[str, Callable[[Any], Any]] = {
    "Identity": lambda a: a,
    "Neg": lambda a: -a,
    "Abs": lambda a: abs(as_int(a)),
    "Not": lambda a: int(not as_int(a)),
}
INT_TYPES = {
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


def objects(values: Iterable[Any], shape: Sequence[int] | None = None) -> np.ndarray:
    """An object array of Python ints and ``Poly`` (numpy would try to unpack a nested list)."""
    items = list(values)
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape) if shape is not None else array


def wrap(value: Any) -> np.ndarray:
    """An object array, also for the scalars numpy returns from indexing (a 0-d tensor)."""
    if isinstance(value, np.ndarray):
        return value if value.dtype == object else objects((int(v) for v in value.flat), value.shape)
    array = np.empty((), dtype=object)
    array[()] = value
    return array


def integer_array(tensor: onnx.TensorProto) -> np.ndarray:
    """An integer constant as an object array of Python ints; ``Unknown`` for any other type."""
    if tensor.data_type not in INT_TYPES:
        raise Unknown("not an integer tensor")
    array = numpy_helper.to_array(tensor).astype(np.int64)
    return objects((int(v) for v in array.flat), array.shape)
