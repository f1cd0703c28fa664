"""``zoo bench RUN --against keras``: the speed-up compares like with like (issue 15, defect 1).
Keras is fed and read through NumPy, so its time holds the host copies; it is set against ONNX
Runtime's full-model row that holds them too, never the compute-only ``device`` row, and the
report names both rows and Keras' device. Each docstring names the break the test was seen to
catch ("Fails if: ...").
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.conftest import invoke


def rows_at(batch: int, device: float, copies: float, keras: float, predict: float) -> list[dict]:
    """Rows as a GPU measures them: ONNX Runtime's compute alone and with the host copies, a
    part and the chain, Keras fed and read through NumPy."""
    return [
        {"method": "onnxruntime full", "io": "device", "batch_size": batch, "p50_ms": device},
        {"method": "onnxruntime full", "io": "device+copies", "batch_size": batch, "p50_ms": copies},
        {"method": "onnxruntime encoder", "io": "device+copies", "batch_size": batch, "p50_ms": copies / 3},
        {"method": "onnxruntime chain encoder->decoder", "io": "numpy", "batch_size": batch, "p50_ms": 0.1},
        {"method": "keras tf.function", "io": "numpy", "batch_size": batch, "p50_ms": keras},
        {"method": "keras predict", "io": "numpy", "batch_size": batch, "p50_ms": predict},
    ]


def test_the_speedup_is_keras_over_onnxruntime_with_the_host_copies_on_both_sides():
    """Keras tf.function's p50 over the p50 of ONNX Runtime's full model in the IO mode that,
    like Keras fed NumPy, copies from and to host memory: ``device+copies`` on a GPU.

    Fails if: the ratio is inverted (0.5 for 2.0), taken from the compute-only ``device`` row or
    the fastest row in any IO mode (8.0), from ``keras predict`` (10.0), from a part or the chain,
    or from another batch size."""
    from zoo.bench.run import speedup

    rows = rows_at(1, device=1.0, copies=4.0, keras=8.0, predict=40.0)
    rows += rows_at(64, device=2.0, copies=5.0, keras=30.0, predict=90.0)
    assert speedup(rows, (1, 64), "keras tf.function", "onnxruntime full") == {
        "speedup_over_keras_tf_function": {"1": 2.0, "64": 6.0},
        "speedup_rows": {
            "keras": {"method": "keras tf.function", "io": "numpy"},
            "onnxruntime": {"method": "onnxruntime full", "io": "device+copies"},
        },
    }
    # On the CPU (IO binding in host memory, or plain session.run) the one row is the one there.
    cpu = [{"method": "onnxruntime full", "io": "bound", "batch_size": 1, "p50_ms": 0.5}]
    cpu += [{"method": "keras tf.function", "io": "numpy", "batch_size": 1, "p50_ms": 2.0}]
    assert speedup(cpu, (1,), "keras tf.function", "onnxruntime full")["speedup_over_keras_tf_function"] == {
        "1": 4.0
    }


def test_a_speedup_without_a_row_with_host_copies_is_refused():
    """Fails if: a compute-only row is compared when no row with the host copies exists."""
    from zoo.bench.run import compared_row

    rows = [r for r in rows_at(1, 1.0, 4.0, 8.0, 40.0) if r["io"] != "device+copies"]
    with pytest.raises(ValueError, match="0 rows of 'onnxruntime full' at batch 1 with host IO"):
        compared_row(rows, 1, "onnxruntime full")


def test_bench_run_against_keras_compares_the_rows_it_names(monkeypatch, runs, registry):
    """``zoo bench RUN --against keras`` on a (faked) GPU: ONNX Runtime's rows as a GPU gives
    them (``device`` 1 ms, ``device+copies`` 4 ms for the full model), Keras on ``GPU:0`` at
    8 ms. The JSON and the table give 2.00x and name both rows and Keras' device; every row is
    timed for the ``--seconds`` asked.

    Fails if: the speed-up is taken from the ``device`` row (8.00x) or inverted (0.50x), the
    compared rows or Keras' device are not reported, ``--seconds`` does not reach the Keras
    and chain rows, or the run's ``provider`` is not every file's (TensorRT took part of the
    full model, all of each part: ``tensorrt+cuda``)."""
    import zoo.bench.run as bench_run
    from zoo.bench.measure import row

    runs.export("lenet5")
    last = []

    def keras_callables(run, registry, sample):
        def function(x):
            last.append("keras tf.function")

        def predict(x):
            last.append("keras predict")

        return function, predict, "GPU:0"

    p50 = {"keras tf.function": 0.008, "keras predict": 0.02}
    asked = []

    def time_calls(fn, seconds, min_runs, warmup):
        asked.append(seconds)
        last.clear()
        fn()
        return [p50.get(last[0] if last else "chain", 0.003)] * min_runs

    def measure(opened, feed, settings, method):
        asked.append(settings.seconds)
        batch = len(next(iter(feed.values())))
        io_ms = (
            {"device": 1.0, "device+copies": 4.0} if method == "onnxruntime full" else {"device+copies": 2.0}
        )
        return [row(method, io, batch, [ms / 1e3] * 10) for io, ms in io_ms.items()]

    real_open = bench_run.open_session

    def open_session(path, settings):  # TensorRT took all of each part, part of the full model
        engine = {"TRT engine": "tensorrt"}
        placements = {**engine, "Resize r": "cuda"} if path.stem == "model" else engine
        return replace(real_open(path, settings), placements=placements)

    monkeypatch.setattr(bench_run, "open_session", open_session)
    monkeypatch.setattr(bench_run, "_keras_callables", keras_callables)
    monkeypatch.setattr(bench_run, "time_calls", time_calls)
    monkeypatch.setattr(bench_run, "measure", measure)
    args = [str(runs.run("lenet5")), "--against", "keras", "--batch-sizes", "1,4", "--provider", "cpu"]
    result = invoke(registry, "bench", *args, "--seconds", "2.5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["speedup_over_keras_tf_function"] == {"1": 2.0, "4": 2.0}
    assert report["speedup_rows"] == {
        "keras": {"method": "keras tf.function", "io": "numpy"},
        "onnxruntime": {"method": "onnxruntime full", "io": "device+copies"},
    }
    assert report["keras_device"] == "GPU:0"
    assert report["provider"] == "tensorrt+cuda" and report["nodes_per_provider"] == {
        "tensorrt": 3,
        "cuda": 1,
    }
    # full, features, head (measure) and chain, tf.function, predict (time_calls), per batch size
    assert asked == [2.5] * 12
    table = invoke(registry, "bench", *args, "--seconds", "2.5")
    assert table.exit_code == 0, table.stderr
    assert (
        "speed-up: p50 of keras tf.function (numpy, on GPU:0) over p50 of onnxruntime full "
        "(device+copies); both take host NumPy in and out" in table.stdout
    )
    assert "batch 4: onnxruntime full is 2.00x keras tf.function" in table.stdout
