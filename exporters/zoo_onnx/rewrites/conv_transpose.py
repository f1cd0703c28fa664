"""ConvTranspose with asymmetric pads (Keras' ``Conv2DTranspose(padding="same", strides=2)``) ->
ConvTranspose with zero pads + a constant Slice: the CUDA provider runs the asymmetric one on
the CPU, while the cropped one computes exactly the same sums on the GPU."""

from __future__ import annotations

import onnx
from onnx import helper

from zoo_onnx.rewrites.graph import INT64_MAX, Index, label, opset
from zoo_onnx.rewrites.shapes import ConvTranspose, Shapes


def rewrite(model: onnx.ModelProto, notes: list[str]) -> None:
    """Give every ConvTranspose with asymmetric pads zero pads and crop its output by a Slice."""
    if opset(model) < 10:  # Slice takes its bounds as inputs from opset 10 on
        return
    graph = model.graph
    index = Index(graph)
    shapes = Shapes(model, index)
    position = 0
    while position < len(graph.node):
        node = graph.node[position]
        position += 1
        if node.op_type != "ConvTranspose":
            continue
        geometry = ConvTranspose.of(node, index)
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
        notes.append(f"{label(node)}: asymmetric {how} {original} -> zero pads + Slice {crop.name}")
