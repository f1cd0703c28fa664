"""Tensor shapes with symbols where sizes are unknown, and the geometry of a ConvTranspose: the
facts the rewrites prove their constants from."""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from zoo_onnx.rewrites.graph import Index, attributes
from zoo_onnx.rewrites.symbolic import Poly


class Shapes:
    """Each tensor's dimensions as ints or symbols, from ONNX shape inference.

    A named dimension (``dim_param``) is one symbol wherever it appears; an unnamed unknown one
    gets a symbol of its own, so nothing is assumed equal that inference did not prove equal.
    ConvTranspose outputs are derived from their input's dimensions (ONNX inference gives up on
    unknown spatial sizes), which is what ties tf2onnx's crop arithmetic to the data.
    """

    def __init__(self, model: onnx.ModelProto, index: Index) -> None:
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
        self.memo: dict[str, list[int | Poly] | None] = {}

    def dims(self, name: str) -> list[int | Poly] | None:
        if name not in self.memo:
            self.memo[name] = self._dims(name)
        return self.memo[name]

    def _dims(self, name: str) -> list[int | Poly] | None:
        node = self.index.producer.get(name)
        if node is not None and node.op_type == "ConvTranspose" and node.output[0] == name:
            derived = self._conv_transpose(node)
            if derived is not None:
                return derived
        raw = self.raw.get(name)
        if raw is None:
            return None
        return [
            d if isinstance(d, int) else Poly.symbol(f"${d}" if d else f"?{name}[{i}]")
            for i, d in enumerate(raw)
        ]

    def _conv_transpose(self, node: onnx.NodeProto) -> list[int | Poly] | None:
        x = self.dims(node.input[0])
        geometry = ConvTranspose.of(node, self.index)
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


class ConvTranspose:
    """A ConvTranspose node's geometry, and the pads it applies (explicit or implied)."""

    def __init__(self, node: onnx.NodeProto, kernel: list[int], channels: int | None) -> None:
        attrs = attributes(node)
        n = len(kernel)
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
    def of(cls, node: onnx.NodeProto, index: Index) -> ConvTranspose | None:
        attrs = attributes(node)
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
