"""Datasets: loading, scaling to [0, 1], and explicit adaptation to a model's input."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.core.errors import DatasetUnavailable, ShapeMismatch
from zoo.training import data


def test_uint8_images_are_scaled_and_given_a_channel():
    x = data.as_float_images(np.full((2, 4, 4), 255, np.uint8), "d")
    assert x.shape == (2, 4, 4, 1) and x.dtype == np.float32 and x.max() == 1.0


def test_float_images_outside_unit_range_are_refused():
    with pytest.raises(DatasetUnavailable, match="outside"):
        data.as_float_images(np.full((1, 2, 2, 1), 3.0), "d")


def test_28_is_padded_to_32_and_the_note_says_so():
    x, notes = data.fit_to_input(np.ones((1, 28, 28, 1), np.float32), (32, 32, 1), "mnist", "lenet5")
    assert x.shape == (1, 32, 32, 1)
    assert x[0, :2].sum() == 0 and x[0, 2:30, 2:30].min() == 1
    assert notes == ["zero-padded 28x28 to 32x32 (rows 2+2, columns 2+2)"]


def test_colour_to_grey_uses_the_lectures_weights():
    rgb = np.zeros((1, 2, 2, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 1.0, 0.5, 0.25
    x, notes = data.fit_to_input(rgb, (2, 2, 1), "d", "m")
    assert np.allclose(x, 0.3 * 1.0 + 0.59 * 0.5 + 0.11 * 0.25)
    assert "0.3 R + 0.59 G + 0.11 B" in notes[0]


def test_grey_to_rgb_repeats_the_channel():
    x, _ = data.fit_to_input(np.full((1, 2, 2, 1), 0.5, np.float32), (2, 2, 3), "d", "m")
    assert x.shape == (1, 2, 2, 3) and np.all(x == 0.5)


def test_images_larger_than_the_input_are_a_clear_error():
    with pytest.raises(ShapeMismatch) as info:
        data.fit_to_input(np.ones((1, 32, 32, 1), np.float32), (28, 28, 1), "big", "conv-ae")
    assert str(info.value) == "Dataset 'big' has images of shape (32, 32, 1) but 'conv-ae' takes (28, 28, 1)"


def test_data_dir_comes_from_the_option_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path
    assert data.data_dir(str(tmp_path / "..")) == tmp_path / ".."
    monkeypatch.delenv("ZOO_DATA_DIR")
    assert data.data_dir() is None
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "missing"))  # checked by the loader that needs it
    assert data.data_dir() == tmp_path / "missing"
    with pytest.raises(DatasetUnavailable, match="from --data-dir"):
        data.data_dir(str(tmp_path / "missing"))


def test_the_embedded_sample_is_real_balanced_mnist(registry):
    arrays = data.load(registry.dataset("mnist-sample"), registry.architecture("conv-ae"))
    assert arrays.x_train.shape == (4000, 28, 28, 1) and arrays.x_test.shape == (1000, 28, 28, 1)
    assert np.bincount(arrays.y_train).tolist() == [400] * 10
    assert 0.10 < arrays.x_train.mean() < 0.16  # MNIST's mean intensity is about 0.13


def test_synthetic_fits_any_input_shape(registry):
    arrays = data.load(registry.dataset("synthetic"), registry.architecture("lenet5"))
    assert arrays.x_train.shape[1:] == (32, 32, 1) and arrays.notes == []


def test_mnist_without_the_file_or_network_is_a_clear_error(registry, tmp_path, monkeypatch):
    import keras

    def offline():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DatasetUnavailable, match=r"has no mnist.npz, and Keras' download failed \(OSError\)"):
        data.load(registry.dataset("mnist"), registry.architecture("conv-ae"), tmp_path)


def test_mnist_is_read_from_the_data_directory(registry, mnist_path):
    arrays = data.load(registry.dataset("mnist"), registry.architecture("lenet5"), mnist_path)
    assert arrays.x_train.shape == (60000, 32, 32, 1) and arrays.x_test.shape == (10000, 32, 32, 1)
    assert np.bincount(arrays.y_test).tolist()[:3] == [980, 1135, 1032]


def test_cifar10_is_read_from_the_distributed_batches(registry, tmp_path):
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}
        (folder / name).write_bytes(pickle.dumps(batch))
    arrays = data.load(registry.dataset("cifar10"), registry.architecture("cnn-small"), tmp_path)
    assert arrays.x_train.shape == (20, 32, 32, 3) and arrays.x_test.shape == (4, 32, 32, 3)
    assert arrays.y_test.tolist() == [0, 1, 2, 9]
    first = pickle.loads((folder / "test_batch").read_bytes())[b"data"][0]
    assert arrays.x_test[0, 0, 1, 2] == np.float32(first[2 * 1024 + 1] / 255.0)  # channel-planar -> HWC


def test_mnist_fits_the_colour_cnn_by_padding_and_repeating(registry):
    arrays = data.load(registry.dataset("mnist-sample"), registry.architecture("cnn-small"))
    assert arrays.x_train.shape[1:] == (32, 32, 3)
    assert arrays.notes == [
        "repeated the grey channel to RGB",
        "zero-padded 28x28 to 32x32 (rows 2+2, columns 2+2)",
    ]
