"""Every `zoo bench --json` report against docs/bench-json.md, key for key, both ways."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import ROOT, invoke

DOC = ROOT / "docs" / "bench-json.md"


def documented() -> dict[str, set[str]]:
    """The keys of each section's table: section title -> keys."""
    sections: dict[str, set[str]] = {}
    title = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
        match = re.match(r"\| `([a-z_0-9]+)` \|", line)
        if match:
            sections.setdefault(title, set()).add(match.group(1))
    return sections


def bench_json(registry, *args: str) -> dict:
    result = invoke(registry, "bench", *args, "--seconds", "0", "--provider", "cpu", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def keys() -> dict[str, set[str]]:
    sections = documented()
    common = sections["Every report (`kind` `file` and `run`)"]
    return {
        "file": common | sections["`kind` `file`"],
        "run": common | sections["`kind` `run`"],
        "row": sections["Rows"],
        "tune": (common - {"runtimes", "openvino", "input_data", "isolated", "peak_rss_mib", "rows"})
        | sections["`kind` `tune`"],
    }


def test_a_file_report_has_exactly_the_documented_keys(runs, registry, keys):
    report = bench_json(registry, str(runs.export("lenet5") / "model.onnx"), "--batch-sizes", "1,3")
    assert report["schema"] == "zoo-bench/1" and report["kind"] == "file"
    assert set(report) == keys["file"]
    assert [set(row) for row in report["rows"]] == [keys["row"]] * 2


@pytest.mark.parametrize("runtimes", ["onnxruntime,openvino", "openvino"])
def test_an_openvino_report_has_exactly_the_documented_keys(runs, registry, keys, runtimes):
    pytest.importorskip("openvino")
    model = str(runs.export("lenet5") / "model.onnx")
    result = invoke(
        registry, "bench", model, "--runtime", runtimes, "--batch-sizes", "1", "--seconds", "0", "--json"
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == keys["file"] and report["runtimes"] == runtimes.split(",")
    assert set(report["openvino"]) == {
        "version",
        "device",
        "device_name",
        "file_precision",
        "precisions",
        "config",
    }
    assert all(set(row) == keys["row"] for row in report["rows"])
    assert [row["runtime"] for row in report["rows"]] == runtimes.split(",")
    if runtimes == "openvino":  # ONNX Runtime's keys: null, as documented
        onnxruntime_keys = ("provider", "requested", "execution_providers", "cpu_ep_fallback")
        assert all(report[key] is None for key in (*onnxruntime_keys, "session_options", "onnxruntime"))


def test_a_run_report_has_exactly_the_documented_keys(runs, registry, keys):
    runs.export("dense-ae")
    report = bench_json(registry, str(runs.run("dense-ae")), "--batch-sizes", "2")
    optional = {"speedup_over_keras_tf_function", "speedup_rows", "keras_device"}  # --against keras
    assert report["kind"] == "run" and set(report) == keys["run"] - optional
    methods = [row["method"] for row in report["rows"]]
    assert methods == [
        "onnxruntime full",
        "onnxruntime encoder",
        "onnxruntime decoder",
        "onnxruntime chain encoder->decoder",
    ]
    assert all(set(row) == keys["row"] for row in report["rows"])


def test_a_tune_report_has_exactly_the_documented_keys(runs, registry, keys):
    report = bench_json(
        registry, str(runs.export("dense-ae") / "decoder.onnx"), "--batch-sizes", "1", "--tune"
    )
    assert report["kind"] == "tune" and set(report) == keys["tune"]


def test_a_run_report_against_keras_has_exactly_the_documented_keys(runs, registry, keys):
    runs.export("lenet5")
    report = bench_json(registry, str(runs.run("lenet5")), "--batch-sizes", "1", "--against", "keras")
    assert report["kind"] == "run" and set(report) == keys["run"]
    assert all(set(row) == keys["row"] for row in report["rows"])
