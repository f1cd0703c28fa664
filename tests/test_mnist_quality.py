"""LeNet-5 trained one epoch on the full MNIST reaches at least 97% test accuracy, at a constant
learning rate (its default cosine schedule, meant for 20 epochs, would decay to zero within the
one epoch: 96.9%)."""

from __future__ import annotations

import json

import pytest

from zoo.training.train import TrainRequest, train

pytestmark = pytest.mark.slow


def test_lenet5_one_epoch_on_full_mnist(registry, tmp_path, mnist_path):
    run = train(
        registry,
        TrainRequest(
            architecture="lenet5",
            dataset="mnist",
            data_dir=str(mnist_path),
            epochs=1,
            lr_schedule="constant",
            seed=0,
            out=tmp_path,
        ),
        verbose=0,
    ).path
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_samples"] == 10000 and metrics["train_samples"] == 54000
    assert metrics["test_accuracy"] >= 0.97, metrics
