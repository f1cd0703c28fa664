"""TensorFlow's dilated convolution of unknown size (space-to-batch: run-time pads, SpaceToDepth,
Conv, DepthToSpace, run-time crops) -> one Conv with ``dilations``: the run-time pads and crops
are shape arithmetic the CUDA provider runs on the CPU, and one Conv is fewer kernels anyway."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from zoo_onnx.rewrites.evaluate import Evaluator
from zoo_onnx.rewrites.graph import INT64_MAX, Index, attributes, chain, label, same
from zoo_onnx.rewrites.shapes import Shapes
from zoo_onnx.rewrites.symbolic import Poly

# tf2onnx's pattern, backwards from the DepthToSpace that feeds the crop (a Slice).
_PATTERN = ["DepthToSpace", "Transpose", "Conv", "Transpose", "SpaceToDepth", "Transpose", "Pad"]


@dataclass(frozen=True)
class _Layout:
    """The padded tensor's layout, told by the perm of tf2onnx's first Transpose (to C, N, H, W)."""

    name: str
    channels: int  # the axis of the channels
    spatial: tuple[int, int]  # the axes of the height and the width
    to_nchw: list[int] | None  # the Transpose the one Conv needs before it


_LAYOUTS = {
    (1, 0, 2, 3): _Layout("NCHW", 1, (2, 3), None),  # after another convolution
    (3, 0, 1, 2): _Layout("NHWC", 3, (1, 2), [0, 3, 1, 2]),  # the image, or after an NHWC op
}


def rewrite(model: onnx.ModelProto, notes: list[str]) -> None:
    """Pad -> Transpose -> SpaceToDepth -> Transpose -> Conv -> Transpose -> DepthToSpace -> Slice
    (tf2onnx's dilated convolution when height and width are unknown) -> Conv with dilations
    followed by the same layout Transpose, where the pads and crops, evaluated at many sizes,
    always amount to the same padding. The padded tensor is NCHW (after another convolution) or
    NHWC (the image itself, or after Rescaling, ReLU, BatchNormalization, UpSampling2D ...): the
    latter gets a Transpose to NCHW before the one Conv."""
    graph = model.graph
    changed = True
    while changed:
        changed = False
        index = Index(graph)
        shapes = Shapes(model, index)
        for crop in list(graph.node):
            if crop.op_type != "Slice":
                continue
            nodes = chain(index, crop.input[0], _PATTERN)
            if nodes is None or not same(index.only_consumer(nodes[0].output[0]), crop):
                continue
            d2s, t3, conv, t2, s2d, t1, pad = nodes
            block = attributes(s2d).get("blocksize")
            conv_attrs = attributes(conv)
            weight = index.constant(conv.input[1])
            x_dims = shapes.dims(pad.input[0])
            layout = _LAYOUTS.get(tuple(attributes(t1).get("perm", [])))
            if (
                block is None
                or attributes(d2s).get("blocksize") != block
                or attributes(d2s).get("mode", b"DCR") not in (b"DCR", "DCR")
                or layout is None
                or any(list(attributes(t).get("perm", [])) != [1, 0, 2, 3] for t in (t2, t3))
                or weight is None
                or len(weight.dims) != 4
                or any(s != 1 for s in conv_attrs.get("strides", [1, 1]))
                or any(d != 1 for d in conv_attrs.get("dilations", [1, 1]))
                or any(conv_attrs.get("pads", [0] * 4))
                or conv_attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID", "NOTSET", "VALID")
                or attributes(pad).get("mode", b"constant") not in (b"constant", "constant")
                or len(pad.input) > 3
                or (len(pad.input) == 3 and pad.input[2] and _constant_is_nonzero(index, pad.input[2]))
                or x_dims is None
                or len(x_dims) != 4
                or not isinstance(x_dims[layout.channels], int)
            ):
                continue
            kernel = list(weight.dims[2:])
            pads = _dilated_conv_pads(pad, crop, index, x_dims[layout.channels], block, kernel, layout)
            if pads is None:
                continue
            base = conv.name or conv.output[0]
            added = []
            source = pad.input[0]
            if layout.to_nchw is not None:
                source = index.unique(f"{base}_nchw:0")
                added.append(
                    helper.make_node(
                        "Transpose",
                        [pad.input[0]],
                        [source],
                        name=index.unique(f"{base}_nchw"),
                        perm=layout.to_nchw,
                    )
                )
            name = index.unique(f"{base}_dilated")
            dilated_out = index.unique(f"{name}:0")
            dilated = helper.make_node(
                "Conv",
                [source, *conv.input[1:]],
                [dilated_out],
                name=name,
                kernel_shape=kernel,
                dilations=[block, block],
                strides=[1, 1],
                pads=pads,
                group=conv_attrs.get("group", 1),
            )
            back = helper.make_node(
                "Transpose",
                [dilated_out],
                [crop.output[0]],
                name=index.unique(f"{base}_layout"),
                perm=[1, 0, 2, 3],
            )
            at = list(graph.node).index(crop)
            graph.node.remove(crop)
            for node in reversed([*added, dilated, back]):
                graph.node.insert(at, node)
            notes.append(
                f"{label(conv)}: SpaceToDepth/DepthToSpace dilated convolution of an {layout.name} tensor "
                f"with run-time pads and crops (block {block}) -> Conv {dilated.name} "
                f"dilations [{block}, {block}], pads {pads}"
            )
            changed = True
            break


def _sample_sizes(block: int) -> list[tuple[int, int]]:
    """Heights and widths covering every remainder modulo the block, small and large."""
    small = range(1, 4 * block + 2)
    return [(h, h) for h in small] + [(h, h + 1) for h in small] + [(7, 28), (64, 97), (255, 128)]


def _dilated_conv_pads(
    pad: onnx.NodeProto,
    crop: onnx.NodeProto,
    index: Index,
    channels: int,
    block: int,
    kernel: list[int],
    layout: _Layout,
) -> list[int] | None:
    """The Conv pads that TensorFlow's space-to-batch dilated convolution amounts to, if the same
    at every sampled size; the run-time pads and crops are computed from the data's shape (in
    ``layout``; the crops act on the DepthToSpace's C, N, H, W whatever the layout)."""
    x = pad.input[0]
    found: set[tuple[int, ...]] = set()
    for batch, (h, w) in itertools.product((1, 3), _sample_sizes(block)):
        dims: list[int | Poly] = [batch, 0, 0, 0]
        dims[layout.channels] = channels
        dims[layout.spatial[0]], dims[layout.spatial[1]] = h, w
        evaluate = Evaluator(index, lambda name, dims=dims: dims if name == x else None)
        pads = evaluate(pad.input[1])
        starts, ends = evaluate(crop.input[1]), evaluate(crop.input[2])
        axes = evaluate(crop.input[3]) if len(crop.input) > 3 and crop.input[3] else None
        steps = evaluate(crop.input[4]) if len(crop.input) > 4 and crop.input[4] else None
        if pads is None or starts is None or ends is None or pads.size != 8:
            return None
        pads_list = [int(v) for v in pads.flat]
        if any(pads_list[i] for i in range(8) if i % 4 not in layout.spatial):
            return None
        n = starts.size
        axes_list = [int(a) % 4 for a in axes.flat] if axes is not None else list(range(n))
        if steps is not None and any(int(s) != 1 for s in steps.flat):
            return None
        bounds = dict(zip(axes_list, zip(starts.flat, ends.flat, strict=True), strict=True))
        result = []
        for i, size in enumerate((h, w)):
            begin, end = pads_list[layout.spatial[i]], pads_list[4 + layout.spatial[i]]
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


def _constant_is_nonzero(index: Index, name: str) -> bool:
    value = index.constant_array(name)
    return value is None or bool(np.any(value != 0))
