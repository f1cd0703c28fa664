"""Quick timing tests with pytest-benchmark: ONNX Runtime and Keras on LeNet-5 and the
convolutional decoder, for spotting regressions between commits. Excluded from the default run
(marker ``benchmark``): ``pytest -m benchmark``; they assert what was computed, never how fast
(speed claims live in benchmarks/)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import load_model
from zoo.bench.feeds import input_feed
from zoo.bench.measure import io_calls
from zoo.bench.sessions import open_session
from zoo.bench.settings import BenchSettings, SessionSettings

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def lenet(runs):
    return runs.export("lenet5") / "model.onnx"


@pytest.mark.parametrize("batch", [1, 256])
@pytest.mark.parametrize("io_binding", [True, False], ids=["bound", "numpy"])
def test_onnxruntime_lenet5(benchmark, lenet, batch, io_binding):
    opened = open_session(lenet, BenchSettings("cpu", session=SessionSettings(io_binding=io_binding)))
    feed = input_feed(opened.session, batch)
    outputs = opened.session.run(None, feed)
    call = next(iter(io_calls(opened, feed, [np.empty_like(o) for o in outputs]).values()))
    benchmark.group = f"lenet5 batch {batch}"
    benchmark(call)
    assert outputs[0].shape == (batch, 10)


@pytest.mark.parametrize("batch", [1, 256])
def test_keras_tf_function_lenet5(benchmark, runs, batch):
    import tensorflow as tf

    model = load_model(runs.run("lenet5"))
    compiled = tf.function(lambda x: model(x, training=False))
    x = np.random.default_rng(0).random((batch, 32, 32, 1), dtype=np.float32)
    benchmark.group = f"lenet5 batch {batch}"
    result = benchmark(lambda: compiled(x).numpy())
    assert result.shape == (batch, 10)


def test_onnxruntime_conv_decoder(benchmark, runs):
    opened = open_session(runs.export("conv-ae") / "decoder.onnx", BenchSettings("cpu"))
    feed = input_feed(opened.session, 64)
    outputs = opened.session.run(None, feed)
    call = io_calls(opened, feed, [np.empty_like(o) for o in outputs])["bound"]
    benchmark(call)
    assert outputs[0].shape == (64, 28, 28, 1)
