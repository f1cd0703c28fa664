"""GPU-ready rewrites (zoo_onnx.rewrites): nothing left in any export that ONNX Runtime's CUDA
provider would run on the CPU, and the same numbers as before the rewrite on the CPU."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from zoo_onnx.rewrites import check_equivalent, cpu_bound_patterns, make_gpu_ready

from tests.conftest import BUILTIN_ARCHITECTURES
from zoo.core.errors import ExportValidationError
from zoo.runs.run_folder import Run

TOLERANCE = 1e-6
OPSET = 17


def _assert_gpu_ready(
    before: onnx.ModelProto, inputs: list[np.ndarray | dict[str, np.ndarray]]
) -> tuple[onnx.ModelProto, list[str]]:
    """Rewrite, then check: no pattern left, valid, same interface, same numbers. ``inputs``:
    arrays for the first input, or feeds of every input by name."""
    after, notes = make_gpu_ready(before)
    assert cpu_bound_patterns(after) == []
    assert bool(notes) == bool(cpu_bound_patterns(before))
    onnx.checker.check_model(after, full_check=True)
    onnx.shape_inference.infer_shapes(after, check_type=True, strict_mode=True)
    assert [v.name for v in after.graph.input] == [v.name for v in before.graph.input]
    assert [v.name for v in after.graph.output] == [v.name for v in before.graph.output]
    assert list(after.opset_import) == list(before.opset_import)
    assert make_gpu_ready(after)[1] == []  # nothing left to do the second time
    name = before.graph.input[0].name
    for x in inputs:
        feed = x if isinstance(x, dict) else {name: x}
        assert check_equivalent(before, after, feed, atol=TOLERANCE) <= TOLERANCE
    return after, notes


@pytest.mark.parametrize("name", BUILTIN_ARCHITECTURES)
def test_every_export_becomes_gpu_ready_and_exact(runs, name):
    folder = runs.export(name)
    x = Run.open(folder.parent).samples()[0].astype(np.float32)
    manifest = json.loads((folder / "manifest.json").read_text())
    # The full model and the first part take images, each later part, by name, every tensor its
    # predecessor hands on (a U-Net's decoder: code, skip1, skip2).
    handed = {"image": x}
    for entry in manifest["files"]:
        proto = onnx.load(str(folder / entry["file"]))
        tensors = {"image": x} if entry["part"] == "full" else handed
        feed = {v.name: tensors[v.name] for v in proto.graph.input}
        _assert_gpu_ready(proto, [{k: v[:b] for k, v in feed.items()} for b in (1, 64)])
        if entry["part"] != "full":
            session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
            handed = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed), strict=True))


def test_fcn_rewrites_hold_at_every_size(runs):
    """fcn takes any height and width: the rewrites must not assume the training size."""
    folder = runs.export("fcn")
    rng = np.random.default_rng(0)
    for file in ("model.onnx", "encoder.onnx", "decoder.onnx"):
        proto = onnx.load(str(folder / file))
        channels = proto.graph.input[0].type.tensor_type.shape.dim[3].dim_value
        sizes = [(20, 36), (28, 28), (12, 8), (5, 7)]
        _assert_gpu_ready(proto, [rng.random((2, h, w, channels), dtype=np.float32) for h, w in sizes])


# Hand-built graphs ---------------------------------------------------------------------------


def _model(nodes, inputs, outputs, initializers) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    return model


def _tensor(name: str, shape: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _ints(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def _conv_transpose(in_shape: list, channels: int = 4, group: int = 1, **attrs) -> onnx.ModelProto:
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((in_shape[1], channels // group, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(channels).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], name="deconv", group=group, **attrs)
    relu = helper.make_node("Relu", ["y"], ["out"], name="relu")
    initializers = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")]
    return _model([node, relu], [_tensor("x", in_shape)], [_tensor("out", [None] * 4)], initializers)


@pytest.mark.parametrize(
    "attrs",
    [
        {"strides": [2, 2], "pads": [0, 0, 1, 1]},  # Keras Conv2DTranspose(3, strides=2, padding="same")
        {"strides": [2, 2], "pads": [1, 0, 2, 1], "output_padding": [1, 1]},
        {"strides": [2, 2], "pads": [0, 1, 1, 0], "dilations": [2, 1], "group": 2},
        {"strides": [2, 2], "auto_pad": "SAME_UPPER"},
        {"strides": [2, 2], "auto_pad": "SAME_LOWER"},
        {"strides": [2, 2], "output_shape": [14, 14]},
    ],
)
def test_asymmetric_conv_transpose_becomes_zero_pads_and_slice(attrs):
    before = _conv_transpose([None, 4, 7, 7], **attrs)
    assert any("asymmetric" in p for p in cpu_bound_patterns(before))
    x = np.random.default_rng(2).standard_normal((3, 4, 7, 7)).astype(np.float32)
    after, notes = _assert_gpu_ready(before, [x[:1], x])
    assert len(notes) == 1 and "ConvTranspose deconv" in notes[0]
    assert check_equivalent(before, after, {"x": x}, optimize=False) == 0.0  # the same sums, bit for bit
    deconv = next(n for n in after.graph.node if n.op_type == "ConvTranspose")
    assert helper.get_attribute_value(next(a for a in deconv.attribute if a.name == "pads")) == [0, 0, 0, 0]
    assert [n.op_type for n in after.graph.node] == ["ConvTranspose", "Slice", "Relu"]


def test_conv_transpose_of_unknown_size_is_cropped_from_the_end():
    before = _conv_transpose(["n", 4, "h", "w"], strides=[2, 2], pads=[0, 0, 1, 1])
    rng = np.random.default_rng(3)
    after, _ = _assert_gpu_ready(
        before, [rng.standard_normal((2, 4, h, w)).astype(np.float32) for h, w in [(5, 9), (1, 1)]]
    )
    ends = next(numpy_helper.to_array(t) for t in after.graph.initializer if t.name.endswith("crop_ends"))
    assert ends.tolist() == [-1, -1]


def test_symmetric_conv_transpose_is_left_alone():
    before = _conv_transpose([None, 4, 7, 7], strides=[2, 2], pads=[1, 1, 1, 1])
    assert cpu_bound_patterns(before) == []
    assert make_gpu_ready(before)[1] == []


def _flatten_graph(
    shape_nodes: list[onnx.NodeProto], initializers: list[onnx.TensorProto]
) -> onnx.ModelProto:
    """x (n, 3, 4, 5) -> Relu -> Reshape(shape computed from Shape(h) by ``shape_nodes``)."""
    nodes = [
        helper.make_node("Relu", ["x"], ["h"], name="relu"),
        helper.make_node("Shape", ["h"], ["shape"], name="shape"),
        *shape_nodes,
        helper.make_node("Reshape", ["h", "target"], ["y"], name="flatten"),
    ]
    return _model(nodes, [_tensor("x", ["n", 3, 4, 5])], [_tensor("y", [None, None])], initializers)


FLATTENS = {
    # Keras Flatten as tf2onnx writes it for cnn-small: [batch] + [the product of the rest]
    "gather-concat": (
        [
            helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
            helper.make_node("Unsqueeze", ["batch", "axis0"], ["batch1"], name="unsqueeze"),
            helper.make_node("Cast", ["batch1"], ["batch32"], name="to32", to=TensorProto.INT32),
            helper.make_node("Cast", ["batch32"], ["batch64"], name="to64", to=TensorProto.INT64),
            helper.make_node("Concat", ["batch64", "rest"], ["target"], name="concat", axis=0),
        ],
        [_ints("zero", 0), _ints("axis0", [0]), _ints("rest", [60])],
    ),
    # the generic form: slice the shape and multiply the non-batch dimensions at run time
    "slice-reduceprod": (
        [
            helper.make_node("Slice", ["shape", "s0", "s1"], ["batch"], name="head"),
            helper.make_node("Slice", ["shape", "s1", "s4"], ["dims"], name="tail"),
            helper.make_node("ReduceProd", ["dims"], ["rest"], name="prod", keepdims=1),
            helper.make_node("Concat", ["batch", "rest"], ["target"], name="concat", axis=0),
        ],
        [_ints("s0", [0]), _ints("s1", [1]), _ints("s4", [4])],
    ),
}


@pytest.mark.parametrize("form", sorted(FLATTENS))
def test_flatten_shape_arithmetic_becomes_a_constant_shape(form):
    before = _flatten_graph(*FLATTENS[form])
    assert any(p.startswith("Shape shape") for p in cpu_bound_patterns(before))
    x = np.random.default_rng(4).standard_normal((64, 3, 4, 5)).astype(np.float32)
    after, notes = _assert_gpu_ready(before, [x[:1], x])
    assert notes == ["Reshape flatten: shape computed at run time from Shape -> constant [0, -1]"]
    assert check_equivalent(before, after, {"x": x}, optimize=False) == 0.0
    assert [n.op_type for n in after.graph.node] == ["Relu", "Reshape"]


def test_a_reshape_that_cannot_be_proven_is_left_and_reported():
    """(n, m) -> (m, n) reads both sizes at run time: no constant shape says that."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "order"], ["target"], name="swap", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="swap_reshape"),
    ]
    before = _model(nodes, [_tensor("x", ["n", "m"])], [_tensor("y", [None, None])], [_ints("order", [1, 0])])
    after, notes = make_gpu_ready(before)
    assert notes == []
    assert any(p.startswith("Reshape swap_reshape") for p in cpu_bound_patterns(after))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert check_equivalent(before, after, {"x": x}) == 0.0


def test_check_equivalent_reports_a_difference():
    def graph(offset: float) -> onnx.ModelProto:
        constant = numpy_helper.from_array(np.asarray([offset], dtype=np.float32), "c")
        node = helper.make_node("Add", ["x", "c"], ["y"])
        return _model([node], [_tensor("x", [None, 2])], [_tensor("y", [None, 2])], [constant])

    x = np.zeros((1, 2), dtype=np.float32)
    with pytest.raises(ExportValidationError, match=r"differs by 0\.5"):
        check_equivalent(graph(0.0), graph(0.5), {"x": x})
    assert check_equivalent(graph(0.0), graph(0.5), {"x": x}, atol=1.0) == 0.5


# A constant 1x1 convolution folded into the next one -------------------------------------------


def _two_convs(
    first: dict | None = None,
    second: dict | None = None,
    *,
    bias1=True,
    bias2=True,
    reshape=None,
    also_output=False,
) -> onnx.ModelProto:
    """x (n, 3, 9, 9) -> Conv 1x1 (3 -> 2) -> [Reshape to ``reshape``] -> Conv 3x3 (2 -> 4) -> Relu."""
    rng = np.random.default_rng(5)
    inits = [
        numpy_helper.from_array(rng.standard_normal((2, 3, 1, 1)).astype(np.float32), "w1"),
        numpy_helper.from_array(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.standard_normal(2).astype(np.float32), "b1"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b2"),
    ]
    nodes = [
        helper.make_node(
            "Conv", ["x", "w1", *(["b1"] if bias1 else [])], ["h"], name="scale", **(first or {})
        )
    ]
    h = "h"
    if reshape is not None:
        inits.append(_ints("target", reshape))
        nodes.append(helper.make_node("Reshape", ["h", "target"], ["h2"], name="noop"))
        h = "h2"
    nodes += [
        helper.make_node("Conv", [h, "w2", *(["b2"] if bias2 else [])], ["y"], name="c1", **(second or {})),
        helper.make_node("Relu", ["y"], ["out"], name="relu"),
    ]
    outputs = [_tensor("out", [None] * 4)] + ([_tensor("h", [None] * 4)] if also_output else [])
    return _model(nodes, [_tensor("x", ["n", 3, 9, 9])], outputs, inits)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"bias1": False},
        {"bias2": False},
        {"reshape": [-1, 2, 9, 9]},  # tf2onnx's NHWC -> NCHW of a one-channel tensor: changes nothing
        {"second": {"strides": [2, 2], "dilations": [2, 1], "auto_pad": "VALID"}},
    ],
)
def test_pointwise_conv_is_folded_into_the_next_unpadded_conv(kwargs):
    before = _two_convs(**kwargs)
    after, notes = make_gpu_ready(before)
    assert notes == ["Conv scale: 1x1 convolution folded into Conv c1"]
    assert [n.op_type for n in after.graph.node] == ["Conv", "Relu"]
    onnx.checker.check_model(after, full_check=True)
    assert [v.name for v in after.graph.input] == ["x"]
    x = np.random.default_rng(6).standard_normal((5, 3, 9, 9)).astype(np.float32)
    assert check_equivalent(before, after, {"x": x}, atol=1e-5, optimize=False) > 0  # composed, not copied
    assert make_gpu_ready(after)[1] == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"second": {"pads": [1, 1, 1, 1]}},  # the border would get the first bias: not equivalent
        {"second": {"auto_pad": "SAME_UPPER"}},
        {"first": {"strides": [2, 2]}},
        {"reshape": [-1, 2, 3, 27]},  # a reshape that changes the layout
        {"also_output": True},  # the first result is needed on its own
    ],
)
def test_pointwise_conv_is_left_where_folding_would_change_something(kwargs):
    before = _two_convs(**kwargs)
    after, notes = make_gpu_ready(before)
    assert notes == []
    assert [n.op_type for n in after.graph.node] == [n.op_type for n in before.graph.node]


def test_lenet5_export_folds_its_input_scaling(runs):
    """LeNet-5's fixed 1x1 input scaling is no kernel of its own in the exported files."""
    folder = runs.export("lenet5")
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["files"]:
        convs = [n for n in onnx.load(str(folder / entry["file"])).graph.node if n.op_type == "Conv"]
        if entry["part"] in ("full", "features"):
            assert any("1x1 convolution folded" in note for note in entry["gpu_rewrites"])
            assert len(convs) == 3  # C1, C3, C5


# Shape arithmetic folded only where it is exact ----------------------------------------------


def test_a_reshape_with_one_run_time_entry_among_constants_gets_minus_one():
    """The data's sizes are unknown to inference, so the element counts cannot be proven equal;
    but with every other entry a constant, the one computed at run time is what -1 computes.

    Fails if: ``_reshape_target`` asks for the counts to be proven before writing -1."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        helper.make_node("Mul", ["batch", "thirty"], ["rest"], name="times30"),
        helper.make_node("Unsqueeze", ["rest", "axis0"], ["rest1"], name="unsqueeze"),
        helper.make_node("Concat", ["two", "rest1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["d", "target"], ["y"], name="reshape"),
    ]
    inits = [_ints("zero", 0), _ints("thirty", 30), _ints("axis0", [0]), _ints("two", [2])]
    unsized = _tensor("d", [None, None])
    before = _model(nodes, [_tensor("x", ["n", 3, 4, 5]), unsized], [_tensor("y", [2, None])], inits)
    after, notes = make_gpu_ready(before)
    assert notes == ["Reshape reshape: shape computed at run time from Shape -> constant [2, -1]"]
    assert cpu_bound_patterns(after) == []
    rng = np.random.default_rng(7)
    for n in (1, 4):
        x = rng.standard_normal((n, 3, 4, 5)).astype(np.float32)
        feed = {"x": x, "d": rng.standard_normal((n * 6, 10)).astype(np.float32)}
        assert check_equivalent(before, after, feed, optimize=False) == 0.0


def _cropped_conv_transpose(crop: int) -> onnx.ModelProto:
    """x (n, 2, h, w) -> ConvTranspose 3x3 stride 2 (height 2h + 1) -> Slice rows [0, height - crop)
    with the end computed at run time from Shape."""
    rng = np.random.default_rng(8)
    nodes = [
        helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="deconv", strides=[2, 2]),
        helper.make_node("Shape", ["y"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "two"], ["height"], name="height", axis=0),
        helper.make_node("Sub", ["height", "crop"], ["end"], name="minus"),
        helper.make_node("Unsqueeze", ["end", "axis0"], ["ends"], name="unsqueeze"),
        helper.make_node("Slice", ["y", "starts", "ends", "axes"], ["out"], name="crop"),
    ]
    inits = [
        numpy_helper.from_array(rng.standard_normal((2, 2, 3, 3)).astype(np.float32), "w"),
        _ints("two", 2),
        _ints("crop", crop),
        _ints("axis0", [0]),
        _ints("starts", [0]),
        _ints("axes", [2]),
    ]
    return _model(nodes, [_tensor("x", ["n", 2, "h", "w"])], [_tensor("out", [None] * 4)], inits)


def test_a_slice_end_of_size_minus_c_is_folded_only_where_the_size_is_at_least_c():
    """``height - c`` equals ``-c`` only while height >= c: the height 2h + 1 is at least 3, so
    ``- 2`` folds and ``- 4`` stays (at h = 1 the run-time end is -1, a row from the end, where
    -4 would clamp to none).

    Fails if: ``_slice_bound`` turns ``dim - c`` into ``-c`` without proving ``dim >= c``."""
    rng = np.random.default_rng(9)
    sizes = [rng.standard_normal((2, 2, h, 3)).astype(np.float32) for h in (1, 2, 5)]
    before = _cropped_conv_transpose(2)
    after, notes = make_gpu_ready(before)
    assert notes == ["Slice crop: bounds computed at run time from Shape -> constant ends [-2]"]
    for x in sizes:
        assert check_equivalent(before, after, {"x": x}, optimize=False) == 0.0
    before = _cropped_conv_transpose(4)
    after, notes = make_gpu_ready(before)
    assert notes == []
    assert any(p.startswith("Slice crop: input 2") for p in cpu_bound_patterns(after))
    for x in sizes:
        assert check_equivalent(before, after, {"x": x}, optimize=False) == 0.0
