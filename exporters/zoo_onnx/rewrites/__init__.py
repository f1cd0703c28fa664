"""GPU-ready rewrites of tf2onnx graphs: the nodes ONNX Runtime's CUDA provider would run on the CPU,
replaced by equivalent ones it runs on the GPU.

The CUDA execution provider silently places some nodes on the CPU and copies tensors to the host
and back around them (see docs/gpu.md). In tf2onnx's graphs of the zoo's models those are a
ConvTranspose with asymmetric pads (Keras' ``Conv2DTranspose(padding="same", strides=2)``) and
shape arithmetic: ``Shape`` -> ``Gather``/``Slice``/``Concat``/... -> the shape input of a
``Reshape``, ``Slice`` or ``Pad``, which tf2onnx writes for Flatten and for "same" transposed and
dilated convolutions of unknown size. One module per rewrite:

- ``dilated_conv``: SpaceToDepth/Conv/DepthToSpace with run-time pads and crops (TensorFlow's
  dilated convolution of unknown size) -> one Conv with ``dilations``, when the pads and crops,
  evaluated at many sizes, always amount to the same padding;
- ``runtime_shapes``: a shape, starts/ends or pads input computed at run time -> a constant, when
  evaluating the arithmetic over symbolic dimensions proves it constant (or relative to the data's
  own dimensions: ``0`` and ``-1`` in Reshape, negative ends in Slice);
- ``conv_transpose``: ConvTranspose with asymmetric pads -> zero pads + a constant ``Slice``;
- ``pointwise_fold``: a constant 1x1 convolution followed by an unpadded one -> one convolution
  (a kernel less on every provider, not only on the GPU).

Only what is proven equivalent is rewritten; whatever is left, ``cpu_bound_patterns`` reports.
``check_equivalent`` runs both graphs in ONNX Runtime on the CPU and compares their outputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import onnx

from zoo.api import ExportValidationError
from zoo_onnx.compare import OutputsDiffer, Tolerance, difference, most_used, passes, worst
from zoo_onnx.rewrites import conv_transpose, dilated_conv, pointwise_fold, runtime_shapes
from zoo_onnx.rewrites.graph import SHAPE_READERS, Index, eliminate_dead_nodes, label, runtime_inputs
from zoo_onnx.rewrites.shapes import ConvTranspose, Shapes

# In this order: a dilated convolution is matched while its pads and crops are still the
# arithmetic it is recognised by, and run-time crops after a ConvTranspose are proven from the
# ConvTranspose's own output size, which its rewrite (a Slice of unknown size after it) hides.
_PASSES: tuple[Callable[[onnx.ModelProto, list[str]], None], ...] = (
    dilated_conv.rewrite,
    runtime_shapes.rewrite,
    conv_transpose.rewrite,
    pointwise_fold.rewrite,
)
# Each round can only enable a few more rewrites (a shape proven constant makes the next one
# provable); a graph still changing after this many is left as it is then.
_MAX_ROUNDS = 8


def make_gpu_ready(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` with the patterns the CUDA provider runs on the CPU rewritten (and
    constant 1x1 convolutions folded into the next one), and one human-readable line per rewrite.

    The passes repeat, with dead nodes dropped after each round, until a round rewrites nothing:
    calling this again on the result finds nothing left to do. Inputs, outputs, their names and
    the opset are kept; nodes whose equivalence cannot be proven are left as they are
    (``cpu_bound_patterns`` lists them). The result passes ``onnx.checker.check_model(full_check=True)``.
    """
    result = copy.deepcopy(model)
    notes: list[str] = []
    for _ in range(_MAX_ROUNDS):
        done = len(notes)
        for rewrite in _PASSES:
            rewrite(result, notes)
        eliminate_dead_nodes(result.graph)
        if len(notes) == done:
            break
    if notes:
        onnx.checker.check_model(result, full_check=True)
    return result, notes


def cpu_bound_patterns(model: onnx.ModelProto) -> list[str]:
    """Every node that makes ONNX Runtime's CUDA provider fall back to the CPU for the reasons
    above: ConvTranspose with asymmetric pads, nodes that read shapes at run time, and nodes whose
    shape-like inputs (a Reshape's shape, a Slice's bounds, pads ...) are computed at run time."""
    index = Index(model.graph)
    shapes = Shapes(model, index)
    found = []
    for node in model.graph.node:
        if node.op_type in SHAPE_READERS:
            found.append(f"{label(node)}: reads the shape of {node.input[0]} at run time")
        elif node.op_type == "ConvTranspose":
            geometry = ConvTranspose.of(node, index)
            x = shapes.dims(node.input[0])
            pads = None
            if geometry is not None and x is not None and len(x) == 2 + len(geometry.kernel):
                pads = geometry.pads([d if isinstance(d, int) else None for d in x[2:]])
            if pads is None:
                found.append(f"{label(node)}: pads unknown (may be asymmetric)")
            elif pads[0] != pads[1]:
                found.append(f"{label(node)}: asymmetric pads {pads[0] + pads[1]}")
        for i in runtime_inputs(node, index):
            producer = index.producer.get(node.input[i])
            source = label(producer) if producer is not None else f"graph input {node.input[i]}"
            found.append(f"{label(node)}: input {i} ({node.input[i]}) computed at run time by {source}")
    return found


def check_equivalent(
    before: onnx.ModelProto,
    after: onnx.ModelProto,
    inputs: dict[str, np.ndarray],
    atol: float = 0.0,
    rtol: float = 0.0,
    *,
    optimize: bool = True,
) -> float:
    """The largest absolute difference between the outputs of two graphs in ONNX Runtime (CPU),
    on ``inputs`` (by input name), by the one comparison rule (``zoo_onnx.compare``); raises
    ``ExportValidationError`` where an element of ``after`` differs from ``before`` by more than
    ``atol + rtol * |before|``, or the outputs differ in names or shapes.

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
    within = Tolerance(atol, rtol)
    differences = []
    for name, a in expected.items():
        b = got[name]
        try:
            differences.append(difference(b, a, within))
        except OutputsDiffer:
            raise ExportValidationError(
                f"output {name!r} has shape {b.shape} after the rewrite, {a.shape} before"
            ) from None
    largest = worst(differences)
    if not passes(most_used(differences)):
        raise ExportValidationError(
            f"the GPU-ready rewrite differs by {largest:.3g} (beyond {within}) from tf2onnx's graph"
        )
    return largest
