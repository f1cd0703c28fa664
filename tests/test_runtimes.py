"""The runtime matrix (issue 17): which runtimes take each exported file, judged by zoo's one
comparison rule; a runtime that cannot run here is "not run", never a pass; a refusal is one line
naming the op; a runtime that computes otherwise fails with its errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.conftest import PYTHON, invoke, zoo_subprocess_env
from zoo.runtimes import RUNTIME_NAMES, get, matrix, parse
from zoo.runtimes.base import Loaded


def _file(folder: Path, op: str, x: np.ndarray, expected: np.ndarray, extra=(), **attrs) -> Path:
    """A one-node ONNX file with its test set beside it (the ONNX Model Zoo layout)."""
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))]
    output = helper.make_tensor_value_info("y", TensorProto.FLOAT, list(expected.shape))
    inits = [numpy_helper.from_array(a, f"c{i}") for i, a in enumerate(extra)]
    node = helper.make_node(op, ["x", *[i.name for i in inits]], ["y"], **attrs)
    graph = helper.make_graph([node], "probe", inputs, [output], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save(model, path)
    data = folder / "test_data_set_0"
    data.mkdir()
    (data / "input_0.pb").write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
    (data / "output_0.pb").write_bytes(numpy_helper.from_array(expected, "y").SerializeToString())
    return path


def _det(folder: Path) -> Path:
    """Det, which OpenVINO's ONNX front end cannot convert (2026.4)."""
    x = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 4.0]], np.float32)
    return _file(folder, "Det", x, np.array(24.0, np.float32))


def _reverse(folder: Path) -> Path:
    """ReverseSequence, which OpenCV DNN has no layer for (5.0)."""
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = np.array([[3, 1, 5], [0, 4, 2]], np.float32)
    lengths = np.array([2, 1, 2], np.int64)
    return _file(folder, "ReverseSequence", x, expected, [lengths], batch_axis=1, time_axis=0)


def _only(result: dict, runtime: str) -> dict:
    (row,) = [r for r in result["rows"] if r["runtime"] == runtime]
    return row


# -- not installed: not run, never a pass


@pytest.mark.parametrize(("runtime", "module"), [("openvino", "openvino"), ("opencv", "cv2")])
def test_a_runtime_not_installed_is_not_run_with_the_reason(tmp_path, monkeypatch, runtime, module):
    path = _reverse(tmp_path / "f")
    monkeypatch.setitem(sys.modules, module, None)  # its import fails, as where it is not installed
    result = matrix.check(path, parse(runtime))
    row = _only(result, runtime)
    assert row["status"] == "not run"
    assert row["reason"] == f"not installed: pip install 'keras-zoo[{runtime}]'"
    assert "max_abs" not in row and result["passed"] is True  # not run fails nothing, passes nothing
    assert result["runtimes"] == [
        {"name": runtime, "device": None, "available": False, "reason": row["reason"]}
    ]


def test_tensorrt_without_a_gpu_is_not_run(tmp_path):
    from zoo.runtimes.onnxruntime import gpu_unavailable

    if gpu_unavailable("TensorRT") is None:
        pytest.skip("a GPU runs TensorRT here")
    row = _only(matrix.check(_reverse(tmp_path / "f"), parse("tensorrt")), "tensorrt")
    assert row["status"] == "not run" and row["reason"]


def test_an_unknown_runtime_is_refused_naming_the_known_ones(registry, tmp_path):
    result = invoke(registry, "verify", str(_reverse(tmp_path / "f")), "--runtime", "onnxruntime,tflite")
    assert result.exit_code == 2
    assert result.stderr == (
        "zoo: error: Unknown runtime 'tflite'; known runtimes: " + ", ".join(RUNTIME_NAMES) + "\n"
    )


# -- refused: one line naming the op, and what to do


@pytest.mark.parametrize(
    ("runtime", "make", "op", "reason"),
    [
        ("openvino", _det, "Det", "OpenVINO has no conversion for Det"),
        ("opencv", _reverse, "ReverseSequence", "OpenCV DNN has no layer for ReverseSequence"),
    ],
)
def test_a_file_a_runtime_refuses_is_one_line_naming_the_op(tmp_path, runtime, make, op, reason):
    if get(runtime).unavailable():
        pytest.skip(f"{runtime}: {get(runtime).unavailable()}")
    path = make(tmp_path / "f")
    result = matrix.check(path, parse(f"onnxruntime,{runtime}"))
    assert _only(result, "onnxruntime")["status"] == "pass"  # the file itself is right
    row = _only(result, runtime)
    assert row["status"] == "fail" and row["ops"] == [op]
    assert row["reason"] == reason
    assert row["advice"] and "\n" not in row["advice"]
    assert result["passed"] is False


def _dynamic_int8(folder: Path) -> Path:
    """What --quantize dynamic writes around a matrix product: DynamicQuantizeLinear, then back."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "scale", "zero"]),
        helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["y"]),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "dynamic", [x], [y]),
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=8,
    )
    helper.set_model_props(model, {"zoo.precision": "int8", "zoo.layout": "NHWC"})
    folder.mkdir(parents=True)
    path = folder / "model.onnx"
    onnx.save(model, path)
    feed = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    expected = get("onnxruntime").load(path).run({"x": feed})[0]
    data = folder / "test_data_set_0"
    data.mkdir()
    (data / "input_0.pb").write_bytes(numpy_helper.from_array(feed, "x").SerializeToString())
    (data / "output_0.pb").write_bytes(numpy_helper.from_array(expected, "y").SerializeToString())
    return path


def test_a_refusal_names_the_export_that_works(tmp_path):
    """OpenCV DNN has no dynamic quantization: the advice is the float32 or float16 export (both
    measured to run in OpenCV for every built-in architecture), not the raw error."""
    if get("opencv").unavailable():
        pytest.skip("opencv is not installed")
    row = _only(matrix.check(_dynamic_int8(tmp_path / "f"), parse("opencv")), "opencv")
    assert row["status"] == "fail" and row["ops"] == ["DynamicQuantizeLinear"]
    assert row["reason"] == "OpenCV DNN has no layer for DynamicQuantizeLinear"
    assert row["advice"].startswith(
        "OpenCV DNN has no dynamic quantization: the float32 export and --dtype fp16 run in opencv"
    )


def test_verify_shows_the_refusal_in_one_line_and_fails(registry, tmp_path):
    if get("openvino").unavailable():
        pytest.skip("openvino is not installed")
    path = _det(tmp_path / "f")
    result = invoke(registry, "verify", str(path), "--runtime", "onnxruntime,openvino")
    assert result.exit_code == 1, result.output
    (line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("model.onnx") and "openvino" in ln]
    assert "FAIL" in line and line.endswith("OpenVINO has no conversion for Det")
    assert "Exception from" not in result.stdout  # never the runtime's raw many-line error


# -- precision: a runtime that computes otherwise fails with its errors


class Perturbed:
    """A runtime that runs ONNX Runtime and adds ``by`` to every output, as bfloat16 would move them."""

    name = "perturbed"

    def __init__(self, by: float) -> None:
        self.by = by

    def unavailable(self) -> str | None:
        return None

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        inner = get("onnxruntime").load(path, precision)
        return Loaded(
            inner.input_names,
            inner.output_names,
            "bfloat16",
            "CPU",
            inner.load_seconds,
            lambda feeds: [o + np.float32(self.by) for o in inner.run(feeds)],
        )


def test_a_runtime_off_by_more_than_the_tolerance_fails_with_its_errors(tmp_path):
    path = _reverse(tmp_path / "f")
    result = matrix.check(path, [Perturbed(2e-3), Perturbed(1e-6)])
    off, close = [r for r in result["rows"]]
    assert off["status"] == "fail" and off["precision"] == "bfloat16"
    assert off["max_abs"] == pytest.approx(2e-3, rel=1e-3)
    assert off["max_rel"] == pytest.approx(2e-3 / 5, rel=1e-3)  # to the output's scale, 5
    assert "differs from the test set by 0.002 (relative 0.0004), beyond 1e-05 + 1e-05" in off["reason"]
    assert close["status"] == "pass" and close["max_abs"] == pytest.approx(1e-6, rel=1e-2)
    assert result["passed"] is False


def test_openvino_is_asked_for_float32_and_its_bfloat16_default_is_on_record(tmp_path):
    """On a CPU with AVX-512 BF16 OpenVINO computes in bfloat16 unless told: the row is float32
    (and passes); what its default gives is recorded beside it, and fails here."""
    openvino = get("openvino")
    if openvino.unavailable() or openvino.default_precision() == "float32":
        pytest.skip("OpenVINO computes in float32 by default on this CPU")
    rng = np.random.default_rng(0)
    x = rng.random((4, 64), np.float32)
    w = rng.standard_normal((64, 8)).astype(np.float32)
    path = _file(tmp_path / "f", "MatMul", x, x @ w, [w])
    row = _only(matrix.check(path, [openvino]), "openvino")
    assert row["status"] == "pass" and row["precision"] == "float32"
    default = row["default"]
    assert default["precision"] == openvino.default_precision() and default["passed"] is False
    assert default["max_abs"] > 1e-3


# -- end to end: zoo verify --runtime and zoo export --check-runtimes on a trained run


def test_verify_runs_every_file_in_each_runtime_named(registry, runs):
    folder = runs.export("lenet5")
    result = invoke(registry, "verify", str(folder), "--runtime", "onnxruntime,reference,tensorrt", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = report["runtimes"]["rows"]
    files = {Path(f["file"]).name for f in report["files"]}
    assert files == {"model.onnx", "features.onnx", "head.onnx"}
    assert {(Path(r["file"]).name, r["runtime"]) for r in rows} == {
        (f, r) for f in files for r in ("onnxruntime", "reference", "tensorrt")
    }
    for row in rows:
        if row["runtime"] == "tensorrt":
            assert row["status"] in ("not run", "pass")
        else:
            assert row["status"] == "pass" and row["precision"] == "float32", row
            assert row["max_abs"] <= 1e-4 and row["load_s"] >= 0 and row["first_run_s"] > 0


def test_export_check_runtimes_puts_the_matrix_in_the_manifest_and_the_card(registry, runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs.run("lenet5"), run, ignore=shutil.ignore_patterns("onnx*"))
    result = invoke(registry, "export", str(run), "--parts", "full", "--check-runtimes")
    out = run / "onnx-full"
    assert result.exit_code == 0, result.output
    assert "model.onnx  onnxruntime" in result.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    rows = manifest["runtimes"]["rows"]
    assert {r["file"] for r in rows} == {"model.onnx"}  # named as the manifest names its files
    assert _only(manifest["runtimes"], "onnxruntime")["status"] == "pass"
    assert _only(manifest["runtimes"], "reference")["status"] == "pass"
    # the manifest's sha256 of each file still holds
    assert invoke(registry, "verify", str(out), "--runtime", "onnxruntime").exit_code == 0
    # the card shows the matrix of the run's default export
    shutil.rmtree(out)
    assert invoke(registry, "export", str(run), "--check-runtimes").exit_code == 0
    card = (run / "README.md").read_text()
    assert "| `model.onnx` | onnxruntime | pass | float32 |" in card
    assert "| `head.onnx` | reference | pass | float32 |" in card


def test_runtime_packages_are_imported_only_to_run_a_file():
    """``zoo list`` and the matrix's modules import no runtime (OpenVINO alone takes a second)."""
    probe = (
        "import sys, zoo.runtimes, zoo.runtimes.matrix, zoo.cli.export\n"
        "from zoo.cli import cli\n"
        "cli.main(args=['list'], standalone_mode=False)\n"
        "print([m for m in ('openvino', 'cv2', 'onnxruntime') if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [PYTHON, "-c", probe], capture_output=True, text=True, env=zoo_subprocess_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_a_runtime_failing_a_new_export_exits_1_in_one_line_and_keeps_it(
    registry, runs, tmp_path, monkeypatch
):
    import zoo.cli.export

    monkeypatch.setattr(zoo.cli.export, "_runtimes", lambda _: [Perturbed(2e-3)])
    out = tmp_path / "exported"
    result = invoke(
        registry, "export", str(runs.run("lenet5")), "--parts", "full", "--out", str(out), "--check-runtimes"
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "zoo: error: 1 runtime check(s) failed (model.onnx in perturbed); the export in "
        f"{str(out)!r} is kept, its manifest.json holds the matrix (zoo verify {out} shows it)"
    ]
    row = _only(json.loads((out / "manifest.json").read_text())["runtimes"], "perturbed")
    assert row["status"] == "fail" and row["max_abs"] == pytest.approx(2e-3, rel=1e-2)


def test_openvino_s_conversion_failure_names_the_op_in_one_line():
    """Fails if: OpenVINO 2026's OpConversionFailure ('-- Conversion is failed for: Loop-17') is
    shown as 'FrontEnd API failed with OpConversionFailure:', naming nothing."""
    from zoo.runtimes.openvino import refusal

    said = refusal(
        RuntimeError(
            "Exception from src/frontends/onnx/frontend/src/frontend.cpp:120:\n"
            "FrontEnd API failed with OpConversionFailure:\n"
            "-- Conversion is failed for: Loop-17\n"
            "Exception from src/core/src/node.cpp:1: name clash\n"
        ),
        "read",
    )
    assert said.reason == "OpenVINO could not convert the file's Loop as used there" and said.ops == ("Loop",)


def test_a_limit_under_a_millisecond_still_waits():
    """Fails if: a limit under 1 ms becomes ``wait_for(0)``, so every OpenVINO run 'times out'."""
    from zoo.runtimes.openvino import wait_ms

    assert [wait_ms(s) for s in (0.0002, 0.001, 0.0015, 60)] == [1, 1, 2, 60000]
