"""train -> export -> bench through the CLI, on synthetic data, and what each leaves behind."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import AUTOENCODER_RUN_FILES, invoke
from zoo.runs import run_folder as run_files


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    from tests.conftest import make_registry

    out = tmp_path_factory.mktemp("cli-runs")
    result = invoke(
        make_registry(),
        "train",
        "conv-ae",
        "--dataset",
        "synthetic",
        "--epochs",
        "2",
        "--batch-size",
        "32",
        "--seed",
        "3",
        "-p",
        "filters=8",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.stderr
    return result, out


def test_train_prints_the_run_folder_last_and_writes_it_complete(cli_run):
    result, out = cli_run
    path = Path(result.stdout.splitlines()[-1])
    assert path.parent == out and path.name.startswith("conv-ae-")
    assert "Epoch 2/2" in result.stdout and "samples_per_s" in result.stdout  # Keras' progress
    assert set(os.listdir(path)) == AUTOENCODER_RUN_FILES
    assert os.listdir(out) == [path.name]  # no temporary left behind
    config = json.loads((path / "config.json").read_text())
    assert config["architecture"] == "conv-ae" and config["dataset"] == "synthetic"
    assert config["hyperparameters"] == {"filters": 8, "activation": "relu"}
    assert (config["epochs"], config["batch_size"], config["seed"]) == (2, 32, 3)
    assert set(config["versions"]) == {"zoo", "python", "keras", "tensorflow", "numpy"}
    history = json.loads((path / "history.json").read_text())
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    metrics = json.loads((path / "metrics.json").read_text())
    assert {"test_loss", "test_mse", "test_mae", "train_seconds", "train_samples_per_s"} <= set(metrics)
    x, _ = run_files.Run.open(path).samples()
    assert x.shape == (64, 28, 28, 1) and x.min() >= 0 and x.max() <= 1


def test_export_then_bench_through_the_cli(cli_run, registry):
    result, _ = cli_run
    run = result.stdout.splitlines()[-1]
    exported = invoke(registry, "export", run, "--json")
    assert exported.exit_code == 0, exported.stderr
    manifest = json.loads(exported.stdout)
    assert manifest["path"] == str(Path(run) / "onnx")
    assert {f["file"] for f in manifest["files"]} == {"model.onnx", "encoder.onnx", "decoder.onnx"}
    assert sorted(os.listdir(manifest["path"])) == [
        "decoder.onnx",
        "encoder.onnx",
        "manifest.json",
        "model.onnx",
        "test_data",
    ]
    encoder, decoder = manifest["files"][1], manifest["files"][2]
    assert encoder["inputs"][0]["shape"][1:] == [28, 28, 1]
    assert decoder["inputs"][0]["shape"][1:] == encoder["outputs"][0]["shape"][1:] == [4, 4, 32]
    assert manifest["links"] == [
        {
            "from": "encoder",
            "to": "decoder",
            "tensors": ["code"],
            "outputs": [encoder["outputs"][0]],
            "inputs": [decoder["inputs"][0]],
            "output": encoder["outputs"][0],
            "input": decoder["inputs"][0],
            "agree": True,
        }
    ]

    table = invoke(registry, "export", run)
    assert table.exit_code == 0
    assert table.stdout.splitlines()[-1] == str(Path(run) / "onnx")
    assert table.stdout.splitlines()[0].split()[:3] == ["PART", "FILE", "INPUT"]

    bench = invoke(
        registry,
        "bench",
        str(Path(run) / "onnx" / "encoder.onnx"),
        "--provider",
        "cpu",
        "--batch-sizes",
        "1,8",
        "--seconds",
        "0.05",
        "--json",
    )
    assert bench.exit_code == 0, bench.stderr
    report = json.loads(bench.stdout)
    assert report["provider"] == "cpu" and report["requested"] == "cpu" and report["fallback"] is None
    assert [r["batch_size"] for r in report["rows"]] == [1, 8]
    for row in report["rows"]:
        assert set(row) >= {
            "method",
            "io",
            "batch_size",
            "runs",
            "mean_ms",
            "std_ms",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "samples_per_s",
        }
        assert row["runs"] >= 10 and 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]


def test_a_failed_validation_exits_non_zero_and_leaves_no_folder(runs, registry, monkeypatch):
    import zoo_onnx.compare

    run = runs.run("lenet5")
    monkeypatch.setattr(zoo_onnx.compare, "FP32_TOLERANCE", 0.0)
    monkeypatch.setattr(zoo_onnx.compare, "FP32_RTOL", 0.0)
    out = run.parent / "strict-export"
    result = invoke(registry, "export", str(run), "--out", str(out))
    assert result.exit_code == 1
    # with no tolerance at all, LeNet-5's first check to fail is the fold of its input scaling
    assert result.stderr.startswith(f"zoo: error: Export of '{run}' failed validation (full: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not out.exists()
    assert not [p for p in os.listdir(run.parent) if "strict-export" in p]


def test_export_refuses_an_incomplete_run_folder(tmp_path, registry):
    (tmp_path / "config.json").write_text("{}")
    result = invoke(registry, "export", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"zoo: error: '{tmp_path}' is not a complete run folder: missing model.keras, samples.npz\n"
    )


def test_export_refuses_a_corrupt_model_file(runs, registry, tmp_path):
    import shutil

    broken = tmp_path / "broken-run"
    shutil.copytree(runs.run("lenet5"), broken, ignore=shutil.ignore_patterns("onnx"))
    (broken / "model.keras").write_bytes(b"not a zip file")
    result = invoke(registry, "export", str(broken))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"zoo: error: Cannot load '{broken / 'model.keras'}'")
    assert not (broken / "onnx").exists()


def test_bench_auto_reports_the_provider_really_used(runs, registry):
    import onnxruntime as ort

    model = runs.export("lenet5") / "model.onnx"
    result = invoke(registry, "bench", str(model), "--batch-sizes", "2", "--seconds", "0", "--json")
    report = json.loads(result.stdout)
    session = ort.InferenceSession(str(model), providers=ort.get_available_providers())
    really = "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"
    assert report["provider"] == really
    if really == "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        # onnxruntime-gpu without a working CUDA: the fallback must be said, never silent.
        assert report["fallback"].startswith("running on the CPU: ")
        assert result.stderr == f"zoo: warning: {report['fallback']}\n"
    elif really == "cpu":
        assert report["fallback"] is None and result.stderr == ""


def test_bench_cuda_where_cuda_cannot_run_is_a_clear_error(runs, registry):
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(runs.export("lenet5") / "model.onnx"), providers=ort.get_available_providers()
    )
    if "CUDAExecutionProvider" in session.get_providers():
        pytest.skip("CUDA really works here")
    result = invoke(registry, "bench", str(runs.export("lenet5") / "model.onnx"), "--provider", "cuda")
    assert result.exit_code == 2
    assert result.stderr.startswith("zoo: error: CUDA was asked for but cannot be used: ")
    assert len(result.stderr.splitlines()) == 1


def test_bench_refuses_a_file_that_is_not_onnx(tmp_path, registry):
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(np.arange(100, dtype=np.uint8).tobytes())
    result = invoke(registry, "bench", str(fake), "--provider", "cpu")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"zoo: error: Cannot read '{fake}' as ONNX: ")
    assert len(result.stderr.splitlines()) == 1


def test_export_never_replaces_an_unrelated_folder(runs, registry, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = invoke(registry, "export", str(runs.run("lenet5")), "--out", str(precious))
    assert result.exit_code == 2
    assert result.stderr == (
        f"zoo: error: Output folder '{precious}' is not empty and holds no earlier export "
        "(manifest.json); choose another --out\n"
    )
    assert os.listdir(precious) == ["thesis.tex"]


def test_train_out_must_be_a_folder(registry, tmp_path):
    target = tmp_path / "file"
    target.write_text("")
    result = invoke(registry, "train", "lenet5", "--dataset", "synthetic", "--out", str(target))
    assert result.exit_code == 2
    assert result.stderr == f"zoo: error: --out '{target}' is a file, not a folder\n"


def test_bench_a_fully_convolutional_model_at_a_chosen_size(runs, registry):
    model = runs.export("fcn") / "model.onnx"
    result = invoke(
        registry,
        "bench",
        str(model),
        "--batch-sizes",
        "2",
        "--seconds",
        "0",
        "--height",
        "20",
        "--width",
        "36",
        "--threads",
        "1",
        "--optimization",
        "extended",
        "--provider",
        "cpu",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sizes"] == {"height": 20, "width": 36}
    assert (
        report["session_options"]["threads"] == 1 and report["session_options"]["optimization"] == "extended"
    )
    assert report["input_data"] == "random in [0, 1)"  # the run's samples are 28x28, not 20x36
    row = report["rows"][0]
    assert row["session_create_ms"] > 0 and row["first_run_ms"] > 0 and report["peak_rss_mib"] > 10
    assert {"mean_ms", "std_ms", "p50_ms", "p90_ms", "p99_ms"} <= set(report["rows"][0])
    missing = invoke(registry, "bench", str(model), "--provider", "cpu")
    assert missing.exit_code == 2 and "--height N, --width N" in missing.stderr
    bad = invoke(registry, "bench", str(model), "--axis", "height=x")
    assert bad.exit_code == 2 and "is not NAME=N" in bad.stderr


def test_bench_of_a_run_gives_height_and_width_to_every_session_it_opens(runs, registry, monkeypatch):
    """Fails if: ``zoo bench RUN_DIR`` opens its sessions without ``--height/--width`` (fcn under
    TensorRT or a CUDA graph needs them to build; issue 15, defect 2)."""
    import zoo.bench.run

    runs.export("fcn")
    opened: list[dict] = []
    real = zoo.bench.run.open_session

    def spy(path, settings):
        opened.append(dict(settings.sizes))
        return real(path, settings)

    monkeypatch.setattr(zoo.bench.run, "open_session", spy)
    result = invoke(
        registry,
        "bench",
        str(runs.run("fcn")),
        "--provider",
        "cpu",
        "--batch-sizes",
        "1",
        "--seconds",
        "0",
        "--height",
        "20",
        "--width",
        "36",
        "--axis",
        "code_height=5",
        "--axis",
        "code_width=9",
    )
    assert result.exit_code == 0, result.stderr
    assert len(opened) == 3  # the full model and both parts
    assert all(sizes["height"] == 20 and sizes["width"] == 36 for sizes in opened), opened
