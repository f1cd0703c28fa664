"""zoo's own evaluation of each task (zoo.training.task_evaluators): per-class numbers checked
against ones worked out by hand, on a fake model whose outputs the test chooses."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest

from zoo.core.evaluation import Evaluation, TestSplit, problems
from zoo.core.specs import ArchitectureSpec
from zoo.training import task_evaluators

SETTINGS = {"architecture": "fake", "hyperparameters": {}, "dataset": "synthetic", "seed": 0}


def spec(task: str) -> ArchitectureSpec:
    return ArchitectureSpec(
        name="fake",
        builder="fake_module:build",
        family="fake",
        task=task,
        input_shape=(None, None, 1),
        parts=(),
        summary="a fake model",
        default_dataset="synthetic",
    )


class FakeModel:
    """Answers ``predict`` with the outputs given, in order, whatever the chunks asked for; it
    records the size of each call, to see the split predicted in batches."""

    def __init__(self, outputs: np.ndarray) -> None:
        self.outputs = np.asarray(outputs, dtype=np.float32)
        self.calls: list[int] = []

    def predict(self, x: np.ndarray, batch_size: int, verbose: int) -> np.ndarray:
        start = sum(self.calls)
        self.calls.append(len(x))
        return self.outputs[start : start + len(x)]


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[labels]


def rendered(evaluation: Evaluation) -> dict[str, bytes]:
    """Each figure as PNG bytes: what zoo would write into the run folder."""
    found = {}
    for name, fig in evaluation.figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        found[name] = buffer.getvalue()
        assert found[name].startswith(b"\x89PNG"), name
    return found


def test_classification_accuracy_per_class_and_the_confusion_matrix():
    y = np.array([0, 0, 0, 1, 1, 2])
    predicted = np.array([0, 0, 1, 1, 1, 0])  # cat 2/3, dog 2/2, bird 0/1; fish has no images
    model = FakeModel(one_hot(predicted, 5))  # the fifth output is no class of the dataset
    split = TestSplit(np.zeros((6, 4, 4, 1), np.float32), y, ("cat", "dog", "bird", "fish"))
    evaluation = task_evaluators.evaluate(spec("classification"), model, split, SETTINGS)
    assert problems(evaluation) == []
    assert evaluation.metrics["accuracy_per_class"] == pytest.approx(
        {"cat": 2 / 3, "dog": 1.0, "bird": 0.0, "fish": None, "4": None}
    )
    assert evaluation.metrics["worst_class_accuracy"] == 0.0
    assert list(rendered(evaluation)) == ["confusion_matrix.png"]
    assert "**bird** 0.0%, **cat** 66.7%, **dog** 100.0%" in evaluation.lines[0]
    assert "All classes: 66.7%" in evaluation.lines[0]
    assert evaluation.lines[1:] == ["No test images of: fish."]  # the unnamed output is not said
    assert model.calls == [6]


def test_classes_named_twice_or_in_markdown_keep_apart():
    y = np.array([0, 1, 2])
    model = FakeModel(one_hot(np.array([1, 1, 2]), 3))
    split = TestSplit(np.zeros((3, 2, 2, 1), np.float32), y, ("*new*", "old", "old"))
    evaluation = task_evaluators.evaluate(spec("classification"), model, split, SETTINGS)
    assert evaluation.metrics["accuracy_per_class"] == {"*new*": 0.0, "old (1)": 1.0, "old (2)": 1.0}
    assert evaluation.lines[0].startswith(
        "Weakest classes by accuracy (the share of a class's test images classified right): "
        "**\\*new\\*** 0.0%"
    )


def test_reconstruction_mse_per_class():
    x = np.zeros((3, 4, 4, 1), np.float32)
    offsets = np.array([0.1, 0.3, 0.2], np.float32)  # each reconstruction is off by this everywhere
    model = FakeModel(x + offsets[:, None, None, None])
    split = TestSplit(x, np.array([0, 0, 1]), ("a", "b", "c"))
    evaluation = task_evaluators.evaluate(spec("reconstruction"), model, split, SETTINGS)
    assert problems(evaluation) == []
    assert evaluation.metrics["mse_per_class"] == pytest.approx(
        {"a": (0.01 + 0.09) / 2, "b": 0.04, "c": None}
    )
    assert evaluation.metrics["worst_class_mse"] == pytest.approx(0.05)
    assert sorted(rendered(evaluation)) == ["mse-per-class.png", "reconstructions.png"]
    assert "**a** 0.0500, **b** 0.0400" in evaluation.lines[0]
    assert "No test images of: c." in evaluation.lines


def test_segmentation_iou_per_class():
    x = np.array(
        [
            [[1, 0], [0, 0]],  # label 0: the top left pixel is class 1, the rest background
            [[1, 1], [0, 0]],  # label 1: the top row is class 2
        ],
        np.float32,
    )[..., None]
    predicted = np.array([[[1, 0], [0, 2]], [[2, 0], [0, 0]]])
    model = FakeModel(one_hot(predicted, 4))  # class 3 (the label "two") is in neither
    split = TestSplit(x, np.array([0, 1]), ("zero", "one", "two"))
    evaluation = task_evaluators.evaluate(spec("segmentation"), model, split, SETTINGS)
    assert problems(evaluation) == []
    # background: 5 true, 5 predicted, 4 both; class 1: the one pixel; class 2: 2 true, 2
    # predicted, 1 both
    assert evaluation.metrics["iou_per_class"] == pytest.approx(
        {"background": 4 / 6, "zero": 1.0, "one": 1 / 3, "two": None}
    )
    assert evaluation.metrics["mean_iou"] == pytest.approx((4 / 6 + 1 + 1 / 3) / 3)
    assert evaluation.metrics["worst_class_iou"] == pytest.approx(1 / 3)
    assert sorted(rendered(evaluation)) == ["iou-per-class.png", "overlays.png", "segmentations.png"]
    assert "Neither in the test images nor predicted: two." in evaluation.lines


def test_mean_iou_is_keras_mean_iou():
    """Over the classes present, as the test_mean_iou Keras gives a run: the two agree."""
    import keras

    rng = np.random.default_rng(0)
    x = (rng.random((20, 6, 6, 1)) > 0.6).astype(np.float32)
    y = rng.integers(0, 3, 20)
    scores = rng.random((20, 6, 6, 6)).astype(np.float32)  # outputs 4 and 5 seldom the truth
    evaluation = task_evaluators.evaluate(spec("segmentation"), FakeModel(scores), TestSplit(x, y), SETTINGS)
    metric = keras.metrics.MeanIoU(6, sparse_y_pred=False)
    truth = np.where(x[..., 0] > 0.5, y[:, None, None] + 1, 0)
    metric.update_state(truth, scores)
    assert evaluation.metrics["mean_iou"] == pytest.approx(float(metric.result()), abs=1e-6)


def test_a_large_split_is_measured_on_its_first_images_in_chunks(monkeypatch):
    monkeypatch.setattr(task_evaluators, "MAX_IMAGES", 5)
    monkeypatch.setattr(task_evaluators, "CHUNK", 2)
    y = np.array([0, 1, 0, 1, 0, 1, 1])
    model = FakeModel(one_hot(np.array([0, 0, 0, 0, 0, 0, 0]), 2))
    split = TestSplit(np.zeros((7, 2, 2, 1), np.float32), y, ("a", "b"))
    evaluation = task_evaluators.evaluate(spec("classification"), model, split, SETTINGS)
    assert model.calls == [2, 2, 1]
    assert evaluation.metrics["accuracy_per_class"] == {"a": 1.0, "b": 0.0}
    assert evaluation.lines[-1] == "Measured on the first 5 of the 7 test images."


def test_a_real_model_predicts_once_per_chunk():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inputs)))
    rng = np.random.default_rng(1)
    split = TestSplit(rng.random((40, 4, 4, 1)).astype(np.float32), rng.integers(0, 3, 40))
    evaluation = task_evaluators.evaluate(spec("classification"), model, split, SETTINGS)
    assert problems(evaluation) == []
    accuracy = evaluation.metrics["accuracy_per_class"]
    assert list(accuracy) == ["0", "1", "2"]  # no class names: the labels name the classes
    predicted = model.predict(split.x, verbose=0).argmax(axis=-1)
    for label in range(3):
        assert accuracy[str(label)] == pytest.approx(np.mean(predicted[split.y == label] == label))
    assert not any(math.isnan(v) for v in accuracy.values() if v is not None)
