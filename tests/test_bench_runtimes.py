"""``zoo bench --runtime``: OpenVINO beside ONNX Runtime, timed on the same inputs, with the
precision OpenVINO really computes in; what cannot go with it refused in one line (issue 17).

The files are made with onnx.helper (no TensorFlow); OpenVINO runs for real where it is
installed (the tests that need it are skipped elsewhere), and is hidden to see the pip line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ZOO, invoke, zoo_subprocess_env
from zoo.core import settings

QUICK = ("--seconds", "0", "--batch-sizes", "1,3")


def _save(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    from onnx import helper, save

    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=list(initializers))
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def _value(name: str, shape: list, kind: str = "FLOAT"):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, getattr(TensorProto, kind), shape)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """y = x @ w + 1 on a (batch, 4) float input: a MatMul, which OpenVINO's CPU plugin lowers to
    bfloat16 by default where the CPU has AVX-512 BF16 or AMX."""
    import numpy as np
    from onnx import TensorProto, helper

    return _save(
        tmp_path / "tiny.onnx",
        [helper.make_node("MatMul", ["x", "w"], ["t"]), helper.make_node("Add", ["t", "one"], ["y"])],
        [_value("x", ["batch", 4])],
        [_value("y", ["batch", 4])],
        [
            helper.make_tensor("w", TensorProto.FLOAT, [4, 4], np.eye(4, dtype=np.float32).ravel() * 2),
            helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        ],
    )


@pytest.fixture
def openvino():
    return pytest.importorskip("openvino")


# --- refused in one line, exit 2 -----------------------------------------------------------


@pytest.mark.parametrize("runtimes", ["openvino", "onnxruntime,openvino"])
def test_openvino_not_installed_is_one_line_with_the_pip_line(tiny, monkeypatch, runtimes):
    """Fails if: ``--runtime openvino`` without OpenVINO is a traceback, an internal error, or
    quietly times ONNX Runtime alone."""
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino raises ImportError
    result = invoke(None, "bench", str(tiny), "--runtime", runtimes, *QUICK)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        "zoo: error: --runtime openvino cannot be used: not installed: pip install 'keras-zoo[openvino]'\n"
    )
    assert result.stdout == ""


ONNXRUNTIME_ONLY = [
    ("--provider", "cpu"),
    ("--threads", "1"),
    ("--optimization", "basic"),
    ("--no-spinning",),
    ("--io-binding",),
    ("--no-io-binding",),
    ("--no-cuda-graph",),
    ("--cudnn-algo", "exhaustive"),
    ("--no-nhwc",),
    ("--no-tf32",),
    ("--ort-defaults",),
    ("--tune",),
]


@pytest.mark.parametrize("option", ONNXRUNTIME_ONLY, ids=lambda o: o[0])
def test_an_onnxruntime_option_without_onnxruntime_is_refused_naming_it(tiny, option):
    """Fails if: an option that only sets ONNX Runtime is silently ignored by ``--runtime
    openvino`` (the user believes it applied)."""
    result = invoke(None, "bench", str(tiny), "--runtime", "openvino", *option, *QUICK)
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"zoo: error: {option[0]} sets ONNX Runtime, which --runtime openvino does not time: "
        "drop it, or add onnxruntime to --runtime\n"
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ("--runtime", "onnxruntime,openvino", "--tune"),
            "--tune tries ONNX Runtime's configurations alone: drop openvino from --runtime",
        ),
        (
            ("--precision", "float32"),
            "--precision sets OpenVINO's inference precision (ONNX Runtime computes as the file is "
            "written): add openvino to --runtime, or drop --precision",
        ),
        (
            ("--runtime", "opencv"),
            "Invalid value for --runtime: zoo bench times onnxruntime and openvino, not opencv "
            "(`zoo verify --runtime opencv` checks a file there)",
        ),
        (
            ("--runtime", "openvino", "--precision", "fp8"),
            "Invalid value for --precision: 'fp8' is not a list of default, float32, bfloat16, float16",
        ),
    ],
    ids=["tune", "precision-without-openvino", "opencv", "unknown-precision"],
)
def test_what_cannot_go_with_the_runtimes_is_refused_in_one_line(tiny, args, line):
    """Fails if: --tune, --precision or a runtime bench does not time is accepted and ignored."""
    result = invoke(None, "bench", str(tiny), *args, *QUICK)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"zoo: error: {line}\n"


# --- side by side --------------------------------------------------------------------------


def test_side_by_side_rows_of_both_runtimes_on_the_same_inputs(tiny, openvino, monkeypatch):
    """Fails if: ``--runtime onnxruntime,openvino`` lacks either runtime's rows, feeds them
    different arrays, or does not say the precision each really computed in (OpenVINO's
    default read back from OpenVINO itself, float32 when asked)."""
    import zoo.bench.file as bench_file

    fed: list[tuple[str, int]] = []  # (runtime, id of the feed's array), in the order timed
    measure, measure_openvino = bench_file.measure, bench_file.measure_openvino

    def spy_ort(opened, feed, settings, *rest):
        fed.append(("onnxruntime", id(feed["x"])))
        return measure(opened, feed, settings, *rest)

    def spy_ov(model, feed, settings, method):
        fed.append(("openvino", id(feed["x"])))
        return measure_openvino(model, feed, settings, method)

    monkeypatch.setattr(bench_file, "measure", spy_ort)
    monkeypatch.setattr(bench_file, "measure_openvino", spy_ov)
    result = invoke(
        None,
        "bench",
        str(tiny),
        "--runtime",
        "onnxruntime,openvino",
        "--precision",
        "default,float32",
        "--json",
        *QUICK,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # what OpenVINO computes this file in by default, read back by zoo.runtimes from the layers
    # OpenVINO executes (bfloat16 here, on AVX-512 BF16; float32 on CPUs without)
    from zoo.runtimes import get

    default = get("openvino").load(tiny).precision
    table = [(r["method"], r["runtime"], r["precision"], r["io"], r["batch_size"]) for r in report["rows"]]
    assert table == [
        (method, runtime, precision, "bound", batch)
        for batch in (1, 3)
        for method, runtime, precision in (
            ("onnxruntime cpu", "onnxruntime", "float32"),
            ("openvino cpu", "openvino", default),
            ("openvino cpu float32", "openvino", "float32"),
        )
    ]
    assert report["runtimes"] == ["onnxruntime", "openvino"] and report["provider"] == "cpu"
    assert report["openvino"]["device"] == "CPU"
    assert report["openvino"]["precisions"] == [
        {"requested": "default", "used": default},
        {"requested": "float32", "used": "float32"},
    ]
    # one feed per batch size, the very same arrays for every runtime
    assert [r for r, _ in fed] == ["onnxruntime", "openvino", "openvino"] * 2
    assert len({i for _, i in fed[:3]}) == 1 and len({i for _, i in fed[3:]}) == 1
    if default != "float32":  # OpenVINO's default moves the outputs: said, not silent
        assert "OpenVINO computes in " + default in result.stderr


def test_openvino_alone_reports_no_onnxruntime_session(tiny, openvino):
    """Fails if: ``--runtime openvino`` opens an ONNX Runtime session, or reports its provider
    as if ONNX Runtime had run the rows."""
    result = invoke(
        None, "bench", str(tiny), "--runtime", "openvino", "--precision", "float32", "--json", *QUICK
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["provider"] is None and report["session_options"] is None
    assert {(r["runtime"], r["precision"], r["method"]) for r in report["rows"]} == {
        ("openvino", "float32", "openvino cpu float32")
    }


def test_a_run_side_by_side_times_every_part_and_chain_in_both_runtimes(runs, registry, openvino):
    """Fails if: ``zoo bench RUN --runtime onnxruntime,openvino`` leaves out OpenVINO's parts or
    chain."""
    run = runs.run("dense-ae")
    runs.export("dense-ae")
    result = invoke(
        registry,
        "bench",
        str(run),
        "--runtime",
        "onnxruntime,openvino",
        "--precision",
        "float32",
        "--json",
        "--seconds",
        "0",
        "--batch-sizes",
        "2",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [(r["method"], r["runtime"], r["io"]) for r in rows] == [
        ("onnxruntime full", "onnxruntime", "bound"),
        ("onnxruntime encoder", "onnxruntime", "bound"),
        ("onnxruntime decoder", "onnxruntime", "bound"),
        ("onnxruntime chain encoder->decoder", "onnxruntime", "numpy"),
        ("openvino full float32", "openvino", "bound"),
        ("openvino encoder float32", "openvino", "bound"),
        ("openvino decoder float32", "openvino", "bound"),
        ("openvino chain encoder->decoder float32", "openvino", "numpy"),
    ]
    assert all(r["precision"] == "float32" for r in rows)


def test_the_same_feeds_reach_every_runtime_of_a_run(runs, openvino, monkeypatch):
    """Fails if: OpenVINO's parts of a run are fed other arrays than ONNX Runtime's (the
    decoder's codes computed again, by OpenVINO)."""
    import zoo.bench.run as bench_run
    from zoo.bench.settings import BenchSettings

    fed: dict[str, list[int]] = {}
    measure, measure_openvino = bench_run.measure, bench_run.measure_openvino

    def spy_ort(opened, feed, settings, method):
        fed.setdefault(method.split()[-1], []).append(id(next(iter(feed.values()))))
        return measure(opened, feed, settings, method)

    def spy_ov(model, feed, settings, method):
        fed.setdefault(method.split()[1], []).append(id(next(iter(feed.values()))))
        return measure_openvino(model, feed, settings, method)

    monkeypatch.setattr(bench_run, "measure", spy_ort)
    monkeypatch.setattr(bench_run, "measure_openvino", spy_ov)
    runs.export("dense-ae")
    settings = BenchSettings("cpu", (2,), 0.0, runtimes=("onnxruntime", "openvino"))
    bench_run.bench_run(runs.run("dense-ae"), settings)
    assert set(fed) == {"full", "encoder", "decoder"}
    assert all(len(ids) == 2 and ids[0] == ids[1] for ids in fed.values()), fed


# --- the time limit ------------------------------------------------------------------------


def _many_nodes(path: Path) -> Path:
    """400 MatMul+Tanh on (batch, 512): seconds per inference at batch 4096, but many nodes,
    between which OpenVINO can stop."""
    import numpy as np
    from onnx import TensorProto, helper

    nodes, previous = [], "x"
    for i in range(400):
        nodes += [
            helper.make_node("MatMul", [previous, "w"], [f"m{i}"]),
            helper.make_node("Tanh", [f"m{i}"], [f"t{i}"]),
        ]
        previous = f"t{i}"
    weights = (np.eye(512, dtype=np.float32) * 0.5).ravel()
    return _save(
        path,
        nodes,
        [_value("x", ["batch", 512])],
        [_value(previous, ["batch", 512])],
        [helper.make_tensor("w", TensorProto.FLOAT, [512, 512], weights)],
    )


def test_openvino_stops_an_inference_past_the_time_limit(tmp_path, openvino, monkeypatch):
    """Fails if: an OpenVINO inference runs past ZOO_RUN_TIMEOUT instead of being cancelled and
    named in one line, exit 2."""
    model = _many_nodes(tmp_path / "slow.onnx")
    monkeypatch.setenv(settings.RUN_TIMEOUT, "0.05")
    started = time.monotonic()
    result = invoke(
        None,
        "bench",
        str(model),
        "--runtime",
        "openvino",
        "--precision",
        "float32",
        "--seconds",
        "0",
        "--batch-sizes",
        "4096",
    )
    assert result.exit_code == 2, result.output
    assert result.stderr == (
        f"zoo: error: OpenVINO stopped {str(model)!r} at batch 4096: one inference ran past 0.05 s "
        f"(raise {settings.RUN_TIMEOUT} for a model this slow)\n"
    )
    assert time.monotonic() - started < 20


def test_a_loop_openvino_cannot_stop_does_not_hold_zoo_past_the_limit(tmp_path, openvino):
    """Fails if: ``zoo bench --runtime openvino`` of a Loop of 10^12 iterations (which OpenVINO
    cannot cancel inside the node) runs for ever instead of exiting 2 after ZOO_RUN_TIMEOUT."""
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond"], ["go_on"]),
            helper.make_node("Add", ["v", "one"], ["v_next"]),
        ],
        "body",
        # the condition's name is not the outer one's: OpenVINO 2026.4 refuses a body input that
        # shadows an outer name ("canonical inputs size")
        [_value("i", [], "INT64"), _value("cond", [], "BOOL"), _value("v", ["N", 4])],
        [_value("go_on", [], "BOOL"), _value("v_next", ["N", 4])],
        initializer=[helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )
    model = _save(
        tmp_path / "loop.onnx",
        [helper.make_node("Loop", ["trips", "go", "x"], ["y"], body=body)],
        [_value("x", ["N", 4])],
        [_value("y", ["N", 4])],
        [
            helper.make_tensor("trips", TensorProto.INT64, [], [10**12]),
            helper.make_tensor("go", TensorProto.BOOL, [], [True]),
        ],
    )
    started = time.monotonic()
    result = subprocess.run(
        [ZOO, "bench", str(model), "--runtime", "openvino", "--seconds", "0", "--batch-sizes", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=zoo_subprocess_env(**{settings.RUN_TIMEOUT: "1"}),
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"zoo: error: OpenVINO stopped {str(model)!r} at batch 1: one inference")
    assert "cannot stop it inside a node (a Loop)" in result.stderr
    assert time.monotonic() - started < 30


# --- what is said about the precision ------------------------------------------------------


def test_the_precision_openvino_really_used_is_said_when_it_is_not_the_files():
    """Fails if: OpenVINO's default bfloat16, or a precision asked for and not given, passes
    without a word (its outputs differ from ONNX Runtime's by 1e-3)."""
    from zoo.cli.bench import _precision_warnings

    def report(*precisions):
        return {"openvino": {"file_precision": "float32", "precisions": [dict(p) for p in precisions]}}

    assert _precision_warnings(report({"requested": "default", "used": "float32"})) == []
    assert _precision_warnings(report({"requested": "float32", "used": "float32"})) == []
    assert _precision_warnings(report({"requested": "default", "used": "bfloat16"})) == [
        "OpenVINO computes in bfloat16 by default on this CPU (the file holds float32): its outputs "
        "differ; --precision float32 for parity"
    ]
    assert _precision_warnings(report({"requested": "float16", "used": "float32"})) == [
        "OpenVINO was asked for float16 but computes in float32 here"
    ]
    assert _precision_warnings({"openvino": None}) == []


def test_a_file_openvino_refuses_is_named_with_the_op(tmp_path, openvino):
    """Fails if: a file OpenVINO cannot convert is OpenVINO's many-line error or a traceback."""
    from onnx import helper

    model = _save(
        tmp_path / "det.onnx",
        [helper.make_node("Det", ["x"], ["y"])],
        [_value("x", ["N", 3, 3])],
        [_value("y", ["N"])],
    )
    result = invoke(None, "bench", str(model), "--runtime", "onnxruntime,openvino", *QUICK)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"zoo: error: {str(model)!r} in OpenVINO: OpenVINO has no conversion for Det\n"
