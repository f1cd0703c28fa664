"""benchmarks/runtime_matrix.py's own logic on made-up rows (no training, no runtime): CI's
``--check`` verdict (every float32 file passes in onnxruntime, reference, openvino and opencv;
float16 is reported, not fatal) and docs/deploy.md's tables."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("runtime_matrix", ROOT / "benchmarks" / "runtime_matrix.py")
runtime_matrix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runtime_matrix)

RUNTIMES = ("onnxruntime", "reference", "openvino", "opencv", "tensorrt")


def _rows(precision: str, **status: str) -> list[dict]:
    """LeNet-5's full model in NHWC and NCHW at ``precision``: a row per runtime, passing unless
    ``status`` says otherwise (tensorrt is not run: no GPU)."""
    rows = []
    for layout in ("NHWC", "NCHW"):
        for runtime in RUNTIMES:
            said = status.get(runtime, "not run" if runtime == "tensorrt" else "pass")
            row = {
                "architecture": "lenet5",
                "layout": layout,
                "precision": precision,
                "file": "model.onnx",
                "part": "full",
                "runtime": runtime,
                "device": "CPU",
                "status": said,
                "computed_in": "float32",
            }
            if said == "fail":
                row.update(reason="OpenCV DNN has no layer for Erf", ops=["Erf"], advice="use onnxruntime")
            if said == "not run":
                row["reason"] = "no GPU" if runtime == "tensorrt" else "not installed"
            if runtime == "openvino" and said == "pass":
                row["default"] = {"precision": "bfloat16", "max_abs": 0.0023, "passed": False}
            rows.append(row)
    return rows


def _report(rows: list[dict], failures: list[dict] | None = None) -> dict:
    return {
        "machine": {"cpu": "Test CPU", "cores": 2, "gpus": []},
        "date": "2026-01-01",
        "command": "python benchmarks/runtime_matrix.py",
        "trained": "1 epoch(s) on mnist-sample",
        "versions": {"onnxruntime": "onnxruntime 1.0", "tensorrt": None},
        "runtimes": [{"name": "tensorrt", "available": False, "reason": "no GPU"}],
        "rows": rows,
        "failures": failures or [],
    }


def test_the_check_holds_float32_only_and_counts_not_run_as_no_pass():
    assert runtime_matrix.verdict(_report(_rows("fp32") + _rows("fp16", reference="fail"))) == []
    problems = runtime_matrix.verdict(_report(_rows("fp32", opencv="fail")))
    assert len(problems) == 2 and all("model.onnx in opencv: OpenCV DNN has no layer" in p for p in problems)
    (missing,) = {
        p.split(" in ")[-1] for p in runtime_matrix.verdict(_report(_rows("fp32", openvino="not run")))
    }
    assert missing == "openvino: not run (not installed)"
    never = [r for r in _rows("fp32") if r["runtime"] != "reference"]
    assert runtime_matrix.verdict(_report(never)) == [
        "lenet5 NHWC fp32 model.onnx: never run in reference",
        "lenet5 NCHW fp32 model.onnx: never run in reference",
    ]
    failed = {"architecture": "vae", "layout": "NCHW", "precision": "fp32", "error": "boom"}
    assert runtime_matrix.verdict(_report(_rows("fp32"), [failed])) == [
        "vae NCHW fp32: the export failed: boom"
    ]


def test_deploy_md_shows_each_cell_the_failure_with_its_op_and_advice_and_openvino_precision():
    text = runtime_matrix.render(_report(_rows("fp32") + _rows("fp16", opencv="fail")))
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.startswith("| architecture | part |"))
    assert "tensorrt" not in header  # never ran: one line instead, with its reason
    assert "Not run here: `tensorrt` (no GPU)." in lines
    fp16 = lines[lines.index("### float16 (`--dtype fp16`)") + 4]
    assert fp16 == "| lenet5 | full | pass | pass | pass | **FAIL** | pass | pass | pass | **FAIL** |"
    assert "| fp32 | NHWC | 1/1 | 1/1 | 1/1 | 1/1 |" in lines
    assert "| fp16 | NCHW | 1/1 | 1/1 | 1/1 | 0/1 **1 FAIL** |" in lines
    (failure,) = [ln for ln in lines if ln.startswith("- `opencv`, fp16")]
    assert "NHWC and NCHW: lenet5 full: **FAIL**: OpenCV DNN has no layer for Erf." in failure
    assert "Ops it lacks: `Erf`. Export around it: use onnxruntime." in failure
    assert "| fp32 | NHWC | float32 | bfloat16 | 0/1 | 0.0023 |" in lines
    assert (
        "INFERENCE_PRECISION_HINT" in text and "zoo verify" in text and "keras-zoo[openvino,opencv]" in text
    )


def test_check_exits_1_on_a_float32_failure_and_writes_only_where_told(tmp_path, capsys):
    saved = tmp_path / "runtime_matrix.json"
    saved.write_text(json.dumps(_report(_rows("fp32", reference="fail"))))
    out = tmp_path / "out"
    out.mkdir()
    assert runtime_matrix.main(["--render", str(saved), "--out-dir", str(out), "--check"]) == 1
    assert "model.onnx in reference" in capsys.readouterr().err
    assert (out / "deploy.md").is_file()
    saved.write_text(json.dumps(_report(_rows("fp32") + _rows("fp16", reference="fail"))))
    assert runtime_matrix.main(["--render", str(saved), "--out-dir", str(out), "--check"]) == 0


class _OffReference:
    """onnx.reference as a float16 file's decoder meets it: ONNX Runtime's outputs, moved by 1e-2."""

    name = "reference"

    def unavailable(self):
        return None

    def load(self, path, precision=None):
        from zoo.runtimes import get
        from zoo.runtimes.base import Loaded

        inner = get("onnxruntime").load(path, precision)
        run = inner.run
        return Loaded(
            inner.input_names, inner.output_names, "float16", "CPU", 0.0, lambda f: [o + 1e-2 for o in run(f)]
        )


def test_a_float16_file_off_in_the_reference_evaluator_gets_its_advice(tmp_path):
    """deploy.md's "Export around it" for numbers that differ (not only for refusals): the matrix
    gives such a row its advice too."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from zoo.runtimes import matrix

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    model = helper.make_model(
        helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=8,
    )
    helper.set_model_props(model, {"zoo.precision": "fp16", "zoo.layout": "NHWC"})
    onnx.save(model, tmp_path / "decoder.onnx")
    feed = np.linspace(-1, 1, 4, dtype=np.float32).reshape(1, 4)
    data = tmp_path / "test_data_set_0"
    data.mkdir()
    (data / "input_0.pb").write_bytes(numpy_helper.from_array(feed, "x").SerializeToString())
    (data / "output_0.pb").write_bytes(numpy_helper.from_array(np.maximum(feed, 0), "y").SerializeToString())
    (row,) = matrix.check(tmp_path / "decoder.onnx", [_OffReference()])["rows"]
    assert row["status"] == "fail" and "differs from the test set" in row["reason"]
    assert row["advice"].startswith("onnx.reference sums float16 in float16")
