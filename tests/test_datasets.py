"""The built-in datasets that read files: Fashion-MNIST (npz or the original IDX files) and
``folder:PATH`` (a user's images, labelled by sub-folder). Everything is written to tmp_path."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from zoo_datasets.folder import load_folder
from zoo_datasets.loaders import FASHION_FILES, IDX_LABELS

from zoo.core.errors import DatasetUnavailable
from zoo.training import data

# A 1x1 GIF89a, one white pixel (GIF has no encoder in TensorFlow).
WHITE_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def bmp_bytes(pixels: np.ndarray) -> bytes:
    """A 24-bit uncompressed BMP: rows bottom-up, BGR, each row padded to 4 bytes."""
    height, width, _ = pixels.shape
    row = width * 3 + (-width * 3) % 4
    body = b"".join(pixels[y, :, ::-1].tobytes().ljust(row, b"\0") for y in range(height - 1, -1, -1))
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(body), 0, 0, 54) + info + body


def write_image(path: Path, pixels: np.ndarray) -> Path:
    """``pixels`` (H, W, C) uint8 encoded by the file's extension."""
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".png":
        encoded = tf.io.encode_png(pixels).numpy()
    elif suffix in (".jpg", ".jpeg"):
        encoded = tf.io.encode_jpeg(pixels, quality=100).numpy()
    elif suffix == ".bmp":
        encoded = bmp_bytes(pixels)
    else:
        raise ValueError(suffix)
    path.write_bytes(encoded)
    return path


def solid(value: int | tuple[int, ...], size: tuple[int, int] = (10, 10)) -> np.ndarray:
    channels = np.atleast_1d(np.asarray(value, np.uint8))
    return np.broadcast_to(channels, (*size, len(channels))).copy()


def load_via_core(registry, path: Path, arch: str) -> data.Arrays:
    """As the CLI will: ``folder:PATH`` looked up, then loaded with what followed the colon."""
    name = f"folder:{path}"
    return data.load(registry.dataset(name), registry.architecture(arch), argument=name.partition(":")[2])


# folder: layouts, labels, class names


def test_class_folders_give_sorted_names_labels_and_a_20_percent_hold_out(tmp_path):
    counts = {"cat": 10, "dog": 5, "Zebra": 3}
    shade = {"Zebra": 40, "cat": 120, "dog": 200}
    for name, count in counts.items():
        for i in range(count):
            write_image(tmp_path / name / f"{i:03d}.png", solid(shade[name]))

    x_train, y_train, x_test, y_test, names = load_folder(None, (28, 28, 1), str(tmp_path))
    assert names == ("Zebra", "cat", "dog")  # sorted as Python sorts: upper case first
    assert np.bincount(y_test).tolist() == [1, 2, 1]  # 20% of 3, 10 and 5, at least one each
    assert np.bincount(y_train).tolist() == [2, 8, 4]
    assert x_train.shape == (14, 28, 28, 1) and x_test.shape == (4, 28, 28, 1)
    assert x_train.dtype == np.float32
    # Every image still carries its own class's shade after the shuffle.
    for x, y in ((x_train, y_train), (x_test, y_test)):
        expected = np.array([shade[names[label]] for label in y]) / 255
        assert np.allclose(x[:, 0, 0, 0], expected, atol=1e-6)
    # The training set is shuffled (Keras' validation_split takes its tail), and deterministically.
    assert sorted(y_train.tolist()) != y_train.tolist()
    again = load_folder(None, (28, 28, 1), str(tmp_path))
    assert np.array_equal(again[1], y_train) and np.array_equal(again[2], x_test)


def test_one_image_is_held_out_of_a_class_of_two_and_none_of_a_class_of_one(tmp_path):
    for name, count in {"a": 2, "b": 1}.items():
        for i in range(count):
            write_image(tmp_path / name / f"{i}.png", solid(9))
    _, y_train, _, y_test, _ = load_folder(None, (4, 4, 1), str(tmp_path))
    assert sorted(y_train.tolist()) == [0, 1] and y_test.tolist() == [0]


def test_train_and_test_folders_are_the_split_and_resized_for_a_colour_model(registry, tmp_path):
    for split, count in (("train", 3), ("test", 2)):
        for name, colour in (("apples", (200, 30, 30)), ("pears", (30, 200, 30))):
            for i in range(count):
                write_image(tmp_path / split / name / f"{i}.jpg", solid(colour, (40, 30)))

    arrays = load_via_core(registry, tmp_path, "cnn-small")
    assert arrays.class_names == ("apples", "pears")
    assert arrays.x_train.shape == (6, 32, 32, 3) and arrays.x_test.shape == (4, 32, 32, 3)
    assert arrays.y_test.tolist() == [0, 0, 1, 1]
    assert sorted(arrays.y_train.tolist()) == [0, 0, 0, 1, 1, 1]
    assert arrays.notes == []  # resized by the loader, not padded by the core
    red = arrays.x_train[arrays.y_train == 0][0, 16, 16]
    assert np.allclose(red, np.array([200, 30, 30]) / 255, atol=2 / 255)  # JPEG at quality 100


def test_a_colour_image_is_greyed_by_the_lectures_weights_for_a_grey_model(registry, tmp_path):
    colour = (200, 100, 50)
    for name in ("a", "b"):
        for i in range(2):
            write_image(tmp_path / name / f"{i}.png", solid(colour, (12, 20)))

    arrays = load_via_core(registry, tmp_path, "dense-ae")
    assert arrays.x_train.shape == (2, 28, 28, 1) and arrays.x_test.shape == (2, 28, 28, 1)
    grey = (0.3 * 200 + 0.59 * 100 + 0.11 * 50) / 255
    assert arrays.x_train[0, 14, 14, 0] == pytest.approx(grey, abs=1e-5)
    assert arrays.notes == ["converted RGB to grey by 0.3 R + 0.59 G + 0.11 B"]


def test_grey_becomes_rgb_when_any_image_is_colour_and_alpha_is_dropped(tmp_path):
    write_image(tmp_path / "a" / "grey.png", solid(100))
    write_image(tmp_path / "a" / "grey-alpha.png", solid((100, 7)))
    write_image(tmp_path / "b" / "rgba.png", solid((10, 20, 30, 7)))
    write_image(tmp_path / "b" / "rgb.bmp", solid((10, 20, 30)))

    x_train, y_train, x_test, y_test, _ = load_folder(None, (8, 8, 1), str(tmp_path))
    images = np.concatenate([x_train, x_test])
    labels = np.concatenate([y_train, y_test])
    assert images.shape == (4, 8, 8, 3)
    assert np.allclose(images[labels == 0], 100 / 255)
    assert np.allclose(images[labels == 1], np.array([10, 20, 30]) / 255)


def test_open_dimensions_take_the_first_training_images_size(tmp_path):
    write_image(tmp_path / "train" / "a" / "1.png", solid(50, (10, 12)))
    write_image(tmp_path / "train" / "b" / "2.png", solid(50, (20, 20)))
    write_image(tmp_path / "test" / "a" / "3.png", solid(50, (5, 5)))
    write_image(tmp_path / "test" / "b" / "4.png", solid(50, (30, 7)))
    x_train, _, x_test, _, _ = load_folder(None, (None, None, 1), str(tmp_path))
    assert x_train.shape == (2, 10, 12, 1) and x_test.shape == (2, 10, 12, 1)
    x_train, _, _, _, _ = load_folder(None, (None, 16, 1), str(tmp_path))
    assert x_train.shape == (2, 10, 16, 1)


def test_hidden_files_other_extensions_and_nested_folders(tmp_path):
    write_image(tmp_path / "a" / "one.PNG", solid(1))
    write_image(tmp_path / "a" / "more" / "two.jpeg", solid((1, 2, 3)))
    (tmp_path / "a" / "white.gif").write_bytes(WHITE_GIF)
    write_image(tmp_path / "b" / "three.png", solid(1))
    write_image(tmp_path / "b" / "four.png", solid(1))
    for junk in ("a/.DS_Store", "a/notes.txt", "b/.hidden.png", "b/.cache/x.png", "README.md"):
        (tmp_path / junk).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / junk).write_bytes(b"not an image")
    (tmp_path / ".git").mkdir()
    (tmp_path / "__MACOSX" / "a").mkdir(parents=True)

    x_train, y_train, x_test, y_test, names = load_folder(None, (6, 6, 1), str(tmp_path))
    assert names == ("a", "b")
    assert sorted([*y_train.tolist(), *y_test.tolist()]) == [0, 0, 0, 1, 1]
    assert np.concatenate([x_train, x_test]).max() == 1.0  # the GIF's white pixel


# folder: mistakes


def _layout(tmp_path: Path, files: tuple[str, ...]) -> Path:
    for name in files:
        path = tmp_path / name
        if name.endswith(".png") and not name.endswith("bad.png"):
            write_image(path, solid(1))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"text")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "argument", "message"),
    [
        ((), "missing", r"^Dataset folder '.*missing' does not exist$"),
        (("file.png",), "file.png", r"^Dataset folder '.*file\.png' is not a folder$"),
        (("loose.png",), "", r"^Dataset folder '.*' has no class sub-folders: put each class's images"),
        (("a/1.png", "b/readme.txt"), "", r"^Class folder '.*b' has no images \(\.bmp, \.gif, "),
        (
            ("a/1.png", "a/bad.png", "b/2.png"),
            "",
            r"^Cannot decode image '.*bad\.png': Unknown image file format",
        ),
        (
            ("train/a/1.png", "train/b/2.png", "test/a/3.png", "test/c/4.png"),
            "",
            r"train/ and test/ must have the same class sub-folders; only in train/: b; only in test/: c$",
        ),
        (("a/1.png", "b/2.png"), "", r"has one image per class, too few to hold out a test split"),
        (("train/a/1.png", "validation/a/2.png"), "", r"mixes a train/test layout with other folders"),
    ],
)
def test_bad_folders_are_one_line_errors(tmp_path, files, argument, message):
    root = _layout(tmp_path, files)
    with pytest.raises(DatasetUnavailable, match=message) as info:
        load_folder(None, (8, 8, 1), str(root / argument) if argument else str(root))
    assert "\n" not in str(info.value)


def test_folder_needs_a_path(registry):
    with pytest.raises(DatasetUnavailable, match=r"write it as folder:PATH"):
        registry.dataset("folder")
    with pytest.raises(DatasetUnavailable, match=r"write it as folder:PATH"):
        registry.dataset("folder:")
    with pytest.raises(DatasetUnavailable, match=r"needs a path"):
        load_folder(None, (8, 8, 1), "")


def test_the_folder_spec(registry):
    spec = registry.dataset("folder:/anywhere")
    assert spec.argument == "PATH" and spec.num_classes == 0 and spec.image_shape is None
    assert spec.loader == "zoo_datasets.folder:load_folder"


# Fashion-MNIST


def idx_gz(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(f">I{array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())
    return path


def fake_fashion(rng: np.random.Generator, train: int = 6, test: int = 4) -> dict[str, np.ndarray]:
    return {
        "x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, test, dtype=np.uint8),
    }


def write_fashion_idx(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    for key, name in FASHION_FILES.items():
        idx_gz(folder / name, arrays[key])


@pytest.fixture
def offline(monkeypatch):
    """Keras' download fails, as it does without a network."""
    import keras

    def fail():
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", fail)


def test_fashion_mnist_spec(registry):
    spec = registry.dataset("fashion_mnist")
    assert spec.image_shape == (28, 28, 1) and spec.num_classes == 10
    assert spec.class_names[0] == "T-shirt/top" and spec.class_names[9] == "Ankle boot"
    assert "1708.07747" in spec.source


def test_fashion_mnist_from_an_npz(registry, tmp_path, offline):
    arrays = fake_fashion(np.random.default_rng(0))
    np.savez(tmp_path / "fashion_mnist.npz", **arrays)
    loaded = data.load(registry.dataset("fashion_mnist"), registry.architecture("dense-ae"), tmp_path)
    assert loaded.x_train.shape == (6, 28, 28, 1) and loaded.x_test.shape == (4, 28, 28, 1)
    assert np.allclose(loaded.x_test[..., 0] * 255, arrays["x_test"])
    assert loaded.y_train.tolist() == arrays["y_train"].tolist()
    assert loaded.class_names[8] == "Bag"


def test_fashion_mnist_from_the_original_idx_files(registry, tmp_path, offline):
    arrays = fake_fashion(np.random.default_rng(1))
    write_fashion_idx(tmp_path / "fashion-mnist", arrays)
    loaded = data.load(registry.dataset("fashion_mnist"), registry.architecture("lenet5"), tmp_path)
    assert loaded.x_train.shape == (6, 32, 32, 1)  # padded by the core for LeNet-5
    assert np.allclose(loaded.x_train[:, 2:30, 2:30, 0] * 255, arrays["x_train"])
    assert loaded.y_test.tolist() == arrays["y_test"].tolist()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            "swap",
            r"'.*train-images-idx3-ubyte\.gz' is not an IDX file of 3-d unsigned bytes: magic "
            r"number 0x00000801, expected 0x00000803",
        ),
        ("truncate", r"'.*t10k-images-idx3-ubyte\.gz' is truncated or corrupt: its header says 4x28x28"),
        ("not-gzip", r"^Cannot read '.*train-labels-idx1-ubyte\.gz': "),
        ("size", r"'.*t10k-images-idx3-ubyte\.gz' holds 14x14 images, not 28x28"),
        ("count", r"'.*train-images-idx3-ubyte\.gz' holds 6 images but '.*' 5 labels"),
        ("missing", r"'.*fashion-mnist' lacks t10k-labels-idx1-ubyte\.gz$"),
    ],
)
def test_malformed_idx_files_are_named(registry, tmp_path, offline, damage, message):
    folder = tmp_path / "fashion-mnist"
    arrays = fake_fashion(np.random.default_rng(2))
    write_fashion_idx(folder, arrays)
    if damage == "swap":
        idx_gz(folder / FASHION_FILES["x_train"], arrays["y_train"])
    elif damage == "truncate":
        raw = gzip.decompress((folder / FASHION_FILES["x_test"]).read_bytes())
        (folder / FASHION_FILES["x_test"]).write_bytes(gzip.compress(raw[:-5]))
    elif damage == "not-gzip":
        (folder / FASHION_FILES["y_train"]).write_bytes(b"<html>404</html>")
    elif damage == "size":
        idx_gz(folder / FASHION_FILES["x_test"], arrays["x_test"][:, :14, :14])
    elif damage == "count":
        idx_gz(folder / FASHION_FILES["y_train"], arrays["y_train"][:5], IDX_LABELS)
    elif damage == "missing":
        (folder / FASHION_FILES["y_test"]).unlink()
    with pytest.raises(DatasetUnavailable, match=message) as info:
        data.load(registry.dataset("fashion_mnist"), registry.architecture("dense-ae"), tmp_path)
    assert "\n" not in str(info.value)


def test_fashion_mnist_without_files_or_network_says_where_it_looked(registry, tmp_path, offline):
    with pytest.raises(
        DatasetUnavailable,
        match=r"has neither fashion_mnist\.npz nor fashion-mnist/ with the four \.gz files, and Keras' "
        r"download failed \(OSError\)",
    ):
        data.load(registry.dataset("fashion_mnist"), registry.architecture("dense-ae"), tmp_path)
