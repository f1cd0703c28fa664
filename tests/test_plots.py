"""Plots and the model card of a run folder: valid PNGs written atomically, right counts, a card
that explains the run. Fast, and without TensorFlow."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from zoo.runs import modelcard, plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

CONFIG = {
    "architecture": "lenet5",
    "plugin": "lenet",
    "plugin_version": "0.1.0",
    "family": "classifier",
    "task": "classification",
    "input_shape": [32, 32, 1],
    "parts": ["features", "head"],
    "hyperparameters": {"activation": "tanh", "pooling": "average", "num_classes": 10},
    "dataset": "mnist-sample",
    "class_names": [str(i) for i in range(10)],
    "preprocessing": ["scaled to [0, 1]", "zero-padded 28x28 to 32x32 (rows 2+2, columns 2+2)"],
    "epochs": 2,
    "batch_size": 32,
    "learning_rate": 0.001,
    "lr_schedule": "epoch-decay",
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "validation_split": 0.1,
    "seed": 0,
    "versions": {"zoo": "0.1.0", "keras": "3.15.1", "tensorflow": "2.21.0"},
}
METRICS = {
    "test_accuracy": 0.8970000147819519,
    "test_loss": 0.34524351358413696,
    "train_seconds": 11.8,
    "train_samples_per_s": 610.2,
    "train_samples": 3600,
    "test_samples": 1000,
}
HISTORY = {
    "accuracy": [0.7725, 0.8972],
    "loss": [0.8055, 0.3569],
    "val_accuracy": [0.905, 0.93],
    "val_loss": [0.3335, 0.2492],
}


def assert_png(path, folder=None) -> None:
    """A complete PNG that matplotlib reads back at a plausible size; nothing else left beside it."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width = imread(path).shape[:2]
    assert 150 <= height <= 2000 and 150 <= width <= 2500
    folder = folder or path.parent
    assert [name for name in os.listdir(folder) if name.startswith(".") or "tmp" in name] == []


def images(n=12, size=16, channels=1, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, size, size, channels)).astype(np.float32)


def test_history_with_validation_curves(tmp_path):
    out = plots.history_png(HISTORY, tmp_path / "history.png", "lenet5 on mnist-sample")
    assert out == tmp_path / "history.png"
    assert_png(out)
    assert os.listdir(tmp_path) == ["history.png"]


def test_history_of_a_single_epoch_with_a_learning_rate_and_a_diverged_value(tmp_path):
    history = {"loss": [0.5], "val_loss": [float("inf")], "kl": [3.2], "learning_rate": [0.001]}
    assert_png(plots.history_png(history, tmp_path / "h.png", "vae, one epoch"))


def test_history_orders_loss_first_and_schedules_last():
    keys = ["accuracy", "learning_rate", "val_accuracy", "loss", "val_loss", "val_only"]
    history = {key: [1.0] for key in keys}
    assert plots._history_panels(history) == ["loss", "accuracy", "only", "learning_rate"]


def test_an_empty_history_still_gives_a_picture(tmp_path):
    assert_png(plots.history_png({}, tmp_path / "h.png", "interrupted before one epoch"))


def test_confusion_matrix_counts_with_a_class_never_predicted():
    y_true = [0, 0, 1, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 0, 0, 1]  # class 2 is never predicted
    matrix = plots.confusion_matrix(y_true, y_pred, 3)
    assert matrix.dtype == np.int64
    assert matrix.tolist() == [[1, 1, 0], [1, 2, 0], [1, 1, 0]]
    assert matrix.sum() == len(y_true)
    assert matrix[:, 2].sum() == 0


def test_confusion_matrix_of_masks_and_of_nothing():
    truth = np.array([[[0, 1], [1, 1]]])
    predicted = np.array([[[0, 1], [0, 1]]])
    assert plots.confusion_matrix(truth, predicted, 2).tolist() == [[1, 0], [1, 2]]
    assert plots.confusion_matrix([], [], 4).tolist() == np.zeros((4, 4), int).tolist()


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([0, 1], [0], "2 labels"),
        ([0, 3], [0, 1], "outside 0..2"),
        ([0, 1], [0, -1], "outside 0..2"),
        ([0, 1], [0.2, 0.8], "class indices"),
    ],
)
def test_confusion_matrix_refuses_what_is_not_labels(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        plots.confusion_matrix(y_true, y_pred, 3)


def test_confusion_png(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 200)
    predicted = np.where(rng.random(200) < 0.8, y, rng.integers(0, 10, 200))
    matrix = plots.confusion_matrix(y, predicted, 10)
    assert_png(plots.confusion_png(matrix, [str(i) for i in range(10)], tmp_path / "c.png", "lenet5"))
    many = np.eye(24, dtype=int)  # no numbers in the cells; names for the first two classes only
    assert_png(plots.confusion_png(many, ["cat", "dog"], tmp_path / "many.png", "24 classes"))
    with pytest.raises(ValueError, match="11 class names"):
        plots.confusion_png(matrix, list("abcdefghijk"), tmp_path / "bad.png", "x")
    assert sorted(os.listdir(tmp_path)) == ["c.png", "many.png"]


@pytest.mark.parametrize("channels", [1, 3])
def test_reconstructions_grey_and_colour(tmp_path, channels):
    x = images(channels=channels)
    out = plots.reconstructions_png(x, 1 - x, tmp_path / "r.png", "conv-ae", count=10)
    assert_png(out)


def test_reconstructions_of_fewer_samples_than_asked_and_of_a_bad_shape(tmp_path):
    assert_png(plots.reconstructions_png(images(3), images(3), tmp_path / "r.png", "few", count=10))
    with pytest.raises(ValueError, match="originals are"):
        plots.reconstructions_png(images(3), images(3, size=8), tmp_path / "bad.png", "x")
    assert os.listdir(tmp_path) == ["r.png"]


def test_segmentation(tmp_path):
    x = images(8, size=20)
    truth = (x[..., 0] > 0.5) * np.arange(1, 9)[:, None, None]
    predicted = np.roll(truth, 1, axis=2)[..., None]  # a trailing channel axis is accepted
    assert_png(plots.segmentation_png(x, truth, predicted, tmp_path / "s.png", "fcn", num_classes=11))
    with pytest.raises(ValueError, match="class 8 but num_classes is 5"):
        plots.segmentation_png(x, truth, predicted, tmp_path / "bad.png", "fcn", num_classes=5)
    assert os.listdir(tmp_path) == ["s.png"]


def test_a_failed_render_leaves_no_file(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def fail(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.history_png(HISTORY, tmp_path / "history.png", "x")
    assert os.listdir(tmp_path) == []


def test_the_card_holds_results_plots_and_commands():
    card = modelcard.render(
        CONFIG, METRICS, HISTORY, ["history.png", "confusion.png"], run="runs/lenet5-20260101-000000"
    )
    assert card.startswith("# lenet5 — lenet5-20260101-000000\n")
    assert "| `accuracy` | 0.897 |" in card
    assert "| `loss` | 0.3452 |" in card
    assert "`samples`" not in card  # test_samples is a count, shown under Data
    assert "| test samples | 1000 |" in card
    assert "![history](history.png)" in card and "![confusion](confusion.png)" in card
    assert "zoo export runs/lenet5-20260101-000000\n" in card
    assert "zoo bench runs/lenet5-20260101-000000/onnx/model.onnx\n" in card
    assert "zoo evaluate runs/lenet5-20260101-000000\n" in card
    assert 'keras.saving.load_model("runs/lenet5-20260101-000000/model.keras")' in card
    assert "| samples per second | 610.2 |" in card
    assert "| keras | 3.15.1 |" in card
    assert "- zero-padded 28x28 to 32x32" in card
    assert "A classification model (classifier family), trained on `mnist-sample` for 2 epochs;" in card
    assert "| input shape | 32 x 32 x 1 (height x width x channels) |" in card
    assert "None" not in card


def test_the_card_of_a_minimal_or_interrupted_run():
    card = modelcard.render({}, {}, {}, [])
    assert card.startswith("# model\n")
    assert "zoo export RUN\n" in card
    assert "No test metrics were recorded." in card
    assert "None" not in card and "## Plots" not in card

    card = modelcard.render({}, {}, {}, [], run="my runs/x")  # pasted commands still work
    assert "zoo export 'my runs/x'\n" in card
    assert 'load_model("my runs/x/model.keras")' in card

    card = modelcard.render(
        {"architecture": "vae", "epochs": 10, "status": "interrupted", "input_shape": [None, None, 1]},
        {"epochs_completed": 3, "test_loss": 91.5},
        {"loss": [120.0, 100.0, 95.0]},
        [],
    )
    assert "for 3 epochs (of 10 asked)" in card
    assert "| epochs | 3 (of 10 asked) |" in card
    assert "| status | interrupted |" in card
    assert "| `loss` | 91.5 |" in card
    assert "| input shape | any x any x 1 (height x width x channels) |" in card


def test_write_reads_the_run_folder_and_writes_atomically(tmp_path):
    run = tmp_path / "lenet5-20260101-000000"
    (run / "onnx").mkdir(parents=True)
    for name, obj in (("config.json", CONFIG), ("metrics.json", METRICS), ("history.json", HISTORY)):
        (run / name).write_text(json.dumps(obj))
    plots.history_png(HISTORY, run / "history.png", "lenet5")
    (run / "confusion.png").write_bytes(PNG_SIGNATURE)
    manifest = {
        "opset": 17,
        "layout": "NHWC",
        "files": [{"part": "full", "file": "model.onnx", "bytes": 250_000, "passed": True}],
    }
    (run / "onnx" / "manifest.json").write_text(json.dumps(manifest))

    path = modelcard.write(run)
    assert path == run / "README.md"
    card = path.read_text(encoding="utf-8")
    assert card.index("![history](history.png)") < card.index("![confusion](confusion.png)")
    assert "## ONNX export" in card and "`model.onnx`" in card
    assert f"zoo export {run}\n" in card
    assert sorted(os.listdir(run)) == [
        "README.md",
        "config.json",
        "confusion.png",
        "history.json",
        "history.png",
        "metrics.json",
        "onnx",
    ]

    modelcard.write(run, CONFIG, METRICS, HISTORY, [], run="runs/final-name")
    assert "# lenet5 — final-name" in (run / "README.md").read_text(encoding="utf-8")


def test_importing_the_modules_loads_neither_matplotlib_nor_tensorflow():
    probe = (
        "import sys, zoo.runs.plots, zoo.runs.modelcard; "
        "print([m for m in ('matplotlib', 'tensorflow', 'keras') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
