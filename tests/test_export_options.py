"""`zoo export` options: --parts, --layout nchw, --dtype fp16, --quantize static|dynamic,
--untrained; each file still validated, lower precisions by their task metric."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from zoo_onnx.verify import verify

from tests.conftest import contract_registry, invoke

REGISTRY = contract_registry()


def _export(runs, name, *args):
    run = runs.run(name)
    result = invoke(REGISTRY, "export", str(run), *args, "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    return manifest, {
        f["part"]: onnx.load(str(run / manifest["path"] / f["file"])) for f in manifest["files"]
    }


def _shape(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_nchw_layout_for_runtimes_that_want_it(runs):
    manifest, protos = _export(runs, "fcn", "--layout", "nchw")
    assert manifest["path"].endswith("onnx-nchw") and manifest["layout"] == "NCHW"
    assert _shape(protos["full"].graph.input[0]) == ["batch", 1, "height", "width"]
    assert _shape(protos["full"].graph.output[0]) == ["batch", 11, "height", "width"]
    assert manifest["links"][0]["output"]["shape"] == ["batch", 64, "code_height", "code_width"]
    assert all(f["parity"]["max_abs_diff"] <= 1e-5 for f in manifest["files"]) and manifest["chain"]["passed"]
    meta = {p.key: p.value for p in protos["encoder"].metadata_props}
    assert meta["zoo.layout"] == "NCHW"
    assert verify(manifest["path"])["passed"]


def test_fp16_keeps_float32_inputs_and_outputs(runs):
    manifest, protos = _export(runs, "lenet5", "--dtype", "fp16")
    assert manifest["path"].endswith("onnx-fp16") and manifest["precision"] == "fp16"
    full = protos["full"]
    assert full.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert full.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in full.graph.initializer)
    for f in manifest["files"]:
        metric = f["parity"]["metric"]
        assert metric["name"] == "accuracy" and abs(metric["fp16"] - metric["float32_keras"]) <= 0.005
        assert 0 < f["parity"]["max_abs_diff"] < 1e-2
    assert verify(manifest["path"])["passed"]


@pytest.mark.parametrize(
    ("mode", "ops"), [("static", {"QuantizeLinear"}), ("dynamic", {"DynamicQuantizeLinear"})]
)
def test_int8_quantization_is_judged_by_the_task_metric(runs, mode, ops):
    manifest, protos = _export(runs, "conv-ae", "--quantize", mode)
    assert manifest["path"].endswith(f"onnx-int8-{mode}")
    assert ops <= {n.op_type for p in protos.values() for n in p.graph.node}
    metric = manifest["chain"]["metric"]
    assert metric["name"] == "mse" and metric["int8"] <= metric["float32_keras"] * 1.25 + 1e-7
    assert manifest["chain"]["passed"]
    assert verify(manifest["path"])["passed"]


def test_a_lower_precision_that_costs_too_much_fails_and_leaves_nothing(runs, monkeypatch):
    from zoo_onnx import quality

    monkeypatch.setitem(quality.ALLOWED_CHANGE, "fp16", {"accuracy_points": -100.0, "mse_relative": -1.0})
    run = runs.run("lenet5")
    result = invoke(REGISTRY, "export", str(run), "--dtype", "fp16", "--out", str(run / "strict"))
    assert result.exit_code == 1 and "failed validation" in result.stderr and "accuracy" in result.stderr
    assert not (run / "strict").exists()


def test_parts_selects_the_files(runs):
    manifest, protos = _export(runs, "lenet5", "--parts", "head")
    assert list(protos) == ["head"] and manifest["path"].endswith("onnx-head") and "chain" not in manifest
    bad = invoke(REGISTRY, "export", str(runs.run("lenet5")), "--parts", "decoder")
    assert bad.exit_code == 2 and "'lenet5' has full, features, head (or all); not decoder" in bad.stderr


def test_untrained_export_for_people_who_only_want_the_graph(tmp_path):
    out = tmp_path / "graph"
    result = invoke(
        REGISTRY, "export", "dense-ae", "--untrained", "-p", "code_size=8", "--out", str(out), "--json"
    )
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["untrained"] is True and manifest["run"] is None
    assert [f["part"] for f in manifest["files"]] == ["full", "encoder", "decoder"]
    assert manifest["links"][0]["output"]["shape"] == ["batch", 8]
    meta = {p.key: p.value for p in onnx.load(str(out / "encoder.onnx")).metadata_props}
    assert meta["zoo.untrained"] == "true"
    assert verify(out)["passed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--quantize", "static", "--dtype", "fp16"], "--quantize makes int8 files from float32"),
        (["-p", "code_size=8"], "-p sets hyper-parameters of an untrained export"),
    ],
)
def test_export_option_mistakes_are_one_line(runs, args, message):
    result = invoke(REGISTRY, "export", str(runs.run("lenet5")), *args)
    assert result.exit_code == 2 and message in result.stderr


def test_nchw_outputs_are_the_nhwc_outputs_transposed(runs):
    import onnxruntime as ort

    _, nhwc = _export(runs, "conv-ae")
    _, nchw = _export(runs, "conv-ae", "--layout", "nchw")
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype=np.float32)

    def run(proto, feed):
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"image": feed})[0]

    a = run(nhwc["full"], x)
    b = run(nchw["full"], x.transpose(0, 3, 1, 2))
    np.testing.assert_allclose(b.transpose(0, 2, 3, 1), a, rtol=0, atol=1e-6)
