"""`zoo bench RUN_DIR`: every exported part, their chain and the run's Keras model side by side."""

from __future__ import annotations

import json
import re

from tests.conftest import invoke


def test_a_run_is_benchmarked_part_by_part_with_keras_beside_it(runs, registry):
    runs.export("lenet5")
    run = runs.run("lenet5")
    result = invoke(
        registry,
        "bench",
        str(run),
        "--against",
        "keras",
        "--batch-sizes",
        "1,4",
        "--seconds",
        "0",
        "--provider",
        "cpu",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    methods = {(r["method"], r["batch_size"]) for r in report["rows"]}
    for batch in (1, 4):
        for method in (
            "onnxruntime full",
            "onnxruntime features",
            "onnxruntime head",
            "onnxruntime chain features->head",
            "keras tf.function",
            "keras predict",
        ):
            assert (method, batch) in methods
    assert all(r["runs"] >= 10 for r in report["rows"])
    assert set(report["speedup_over_keras_tf_function"]) == {"1", "4"}
    # The speed-up is the ratio of exactly the two rows the report names (on the CPU, ONNX
    # Runtime's IO binding in host memory against Keras fed NumPy); tests/test_bench_promises.py
    # holds the choice of rows on a GPU.
    compared = report["speedup_rows"]
    assert compared == {
        "keras": {"method": "keras tf.function", "io": "numpy"},
        "onnxruntime": {"method": "onnxruntime full", "io": "bound"},
    }
    for batch, ratio in report["speedup_over_keras_tf_function"].items():
        keras, ort = (
            next(
                r["p50_ms"]
                for r in report["rows"]
                if (r["method"], r["io"], str(r["batch_size"])) == (side["method"], side["io"], batch)
            )
            for side in (compared["keras"], compared["onnxruntime"])
        )
        assert ratio == round(keras / ort, 2)
    assert re.fullmatch(r"(CPU|GPU):\d+", report["keras_device"])
    assert report["provider"] == "cpu" and report["input_data"].startswith("the run's test samples")
    table = invoke(registry, "bench", str(run), "--batch-sizes", "1", "--seconds", "0", "--provider", "cpu")
    assert (
        table.exit_code == 0
        and "METHOD" in table.stdout
        and "onnxruntime chain features->head" in table.stdout
    )


def test_bench_of_a_run_without_an_export_says_what_to_do(registry, tmp_path, runs):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(runs.run("dense-ae"), run, ignore=shutil.ignore_patterns("onnx*"))
    result = invoke(registry, "bench", str(run), "--provider", "cpu")
    assert result.exit_code == 2 and "has no readable onnx/manifest.json: run `zoo export" in result.stderr
    single = invoke(registry, "bench", str(run / "model.keras"), "--against", "keras")
    assert single.exit_code == 2 and "--against keras needs a run folder" in single.stderr


def test_plot_draws_latency_and_throughput_against_batch_size(runs, registry, tmp_path):
    model = runs.export("lenet5") / "head.onnx"
    png = tmp_path / "bench.png"
    result = invoke(
        registry,
        "bench",
        str(model),
        "--batch-sizes",
        "1,2",
        "--seconds",
        "0",
        "--provider",
        "cpu",
        "--plot",
        str(png),
    )
    assert result.exit_code == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "plot written to" in result.stderr
