"""GPU-ready rewrites on graphs tf2onnx writes for small Keras models: dilated convolutions fed by
an NHWC tensor, and rewrites that only become provable after another one (a fixed point)."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from zoo_onnx import convert
from zoo_onnx.rewrites import check_equivalent, cpu_bound_patterns, make_gpu_ready

SIZES = [(1, 1), (5, 7), (8, 8), (13, 4), (28, 28)]


def _onnx(model, tmp_path, opset: int = convert.DEFAULT_OPSET):
    return convert.convert_and_check(model, tmp_path / "model.onnx", opset, "full")


def _dilated(before: str | None, conv: str):
    """Input((None, None, 3)) -> [``before``] -> a dilated ``conv`` with "same" padding: the
    tensor tf2onnx pads for the dilated convolution is NHWC (its first Transpose is [3, 0, 1, 2])."""
    import keras
    from keras import layers

    x = keras.Input((None, None, 3))
    h = {
        None: lambda t: t,
        "rescaling": layers.Rescaling(1 / 255),
        "relu": layers.ReLU(),
        "batchnorm": layers.BatchNormalization(),
        "upsampling": layers.UpSampling2D(),
    }[before](x)
    layer = {
        "conv": layers.Conv2D(4, 3, dilation_rate=2, padding="same"),
        "depthwise": layers.DepthwiseConv2D(3, dilation_rate=2, padding="same"),
        "separable": layers.SeparableConv2D(4, 3, dilation_rate=2, padding="same"),
        "conv-rate-3": layers.Conv2D(4, 5, dilation_rate=3, padding="same"),
    }[conv]
    return keras.Model(x, layer(h))


@pytest.mark.parametrize(
    ("before", "conv"),
    [
        (None, "conv"),
        ("rescaling", "conv"),
        ("relu", "conv"),
        ("batchnorm", "conv"),
        ("upsampling", "conv"),
        (None, "depthwise"),
        (None, "separable"),
        (None, "conv-rate-3"),
    ],
)
def test_a_dilated_convolution_of_an_nhwc_tensor_becomes_one_conv(tmp_path, before, conv):
    """Fails if: the dilated-convolution rewrite only knows tf2onnx's NCHW pattern (first
    Transpose [1, 0, 2, 3]): the run-time pads and crops (4 CPU-bound nodes) stay."""
    model = _dilated(before, conv)
    proto = _onnx(model, tmp_path)
    after, notes = make_gpu_ready(proto)
    assert any("dilated convolution of an NHWC tensor" in note for note in notes), notes
    ops = [n.op_type for n in after.graph.node]
    assert "SpaceToDepth" not in ops and "DepthToSpace" not in ops
    left = cpu_bound_patterns(after)
    # UpSampling2D's own repeat arithmetic is another pattern; nothing of the convolution is left
    assert not [p for p in left if "Pad" in p or "Slice" in p or "space_to_batch" in p], left
    if before != "upsampling":
        assert left == []
    rng = np.random.default_rng(0)
    name = proto.graph.input[0].name
    for h, w in SIZES:
        x = rng.standard_normal((2, h, w, 3)).astype(np.float32)
        assert check_equivalent(proto, after, {name: x}, atol=1e-5) <= 1e-5
        session = ort.InferenceSession(after.SerializeToString(), providers=["CPUExecutionProvider"])
        got = session.run(None, {name: x})[0]
        np.testing.assert_allclose(got, np.asarray(model(x)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_the_rewrites_run_to_a_fixed_point(tmp_path, opset):
    """A crop after a ConvTranspose, then a dilated convolution of unknown size: one round of
    the rewrites leaves run-time shape arithmetic that the next round proves constant.

    Fails if: ``make_gpu_ready`` runs the rewrites once (``_MAX_ROUNDS = 1``: 4 CPU-bound nodes
    are left at every opset here)."""
    import keras
    from keras import layers

    x = keras.Input((None, None, 1))
    h = layers.Conv2D(4, 3, padding="same")(x)
    h = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(h)
    model = keras.Model(x, layers.Conv2D(4, 3, dilation_rate=2, padding="same")(h))
    proto = _onnx(model, tmp_path, opset)
    assert cpu_bound_patterns(proto)
    after, _ = make_gpu_ready(proto)
    assert cpu_bound_patterns(after) == []
    assert make_gpu_ready(after)[1] == []
    name = proto.graph.input[0].name
    for h, w in SIZES:
        feed = {name: np.random.default_rng(1).standard_normal((2, h, w, 1)).astype(np.float32)}
        assert check_equivalent(proto, after, feed, atol=1e-5) <= 1e-5
