"""Graph bookkeeping the rewrites share: who produces and consumes each tensor, the graph's
constants, fresh names, and which inputs ONNX Runtime reads on the host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

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


class Index:
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


def attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def label(node: onnx.NodeProto) -> str:
    """How notes and reports name a node."""
    return f"{node.op_type} {node.name or (node.output[0] if node.output else '?')}"


def opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


def has_subgraphs(graph: onnx.GraphProto) -> bool:
    return any(
        a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
        for n in graph.node
        for a in n.attribute
    )


def same(a: onnx.NodeProto | None, b: onnx.NodeProto) -> bool:
    """The same node (outputs are unique names; protobuf wrappers need not be the same object)."""
    return a is not None and list(a.output) == list(b.output)


def chain(index: Index, start: str, ops: Sequence[str]) -> list[onnx.NodeProto] | None:
    """The nodes ``ops`` (in order, backwards from the producer of ``start``), each the only
    consumer of the next one's output."""
    nodes: list[onnx.NodeProto] = []
    name = start
    for op in ops:
        node = index.producer.get(name)
        if node is None or node.op_type != op:
            return None
        if nodes and not same(index.only_consumer(node.output[0]), nodes[-1]):
            return None
        nodes.append(node)
        name = node.input[0]
    return nodes


def runtime_inputs(node: onnx.NodeProto, index: Index) -> list[int]:
    """The positions of ``node``'s host-read inputs (``SHAPE_INPUTS``) that are not constants."""
    positions = SHAPE_INPUTS.get(node.op_type, ())
    return [i for i in positions if i < len(node.input) and not index.is_static(node.input[i])]


def eliminate_dead_nodes(graph: onnx.GraphProto) -> None:
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
