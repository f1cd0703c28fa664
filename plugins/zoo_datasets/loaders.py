"""Dataset loaders: each returns ``(x_train, y_train, x_test, y_test)`` as NumPy arrays.

``folder:PATH`` (a user's own images) has its own module, ``zoo_datasets.folder``.
"""

from __future__ import annotations

import gzip
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from zoo.api import DatasetUnavailable

SAMPLE_FILE = Path(__file__).with_name("mnist_sample.npz")
_SPLITS = ("x_train", "y_train", "x_test", "y_test")


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    """Keras' npz layout; a damaged or foreign file is refused naming it and what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in _SPLITS if key not in getattr(data, "files", ())]
            if missing:  # a single .npy array has no names at all
                raise DatasetUnavailable(
                    f"{str(path)!r} has no {', '.join(missing)}: an .npz in Keras' layout holds "
                    f"{', '.join(_SPLITS)}"
                )
            arrays = tuple(data[key] for key in _SPLITS)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetUnavailable(f"Cannot read {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    for x, y, split in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        labels_ok = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)  # CIFAR-10 has (N, 1)
        if x.ndim not in (3, 4) or not labels_ok or len(x) != len(y) or y.dtype.kind not in "iu":
            raise DatasetUnavailable(
                f"{str(path)!r} is not a dataset: x_{split} is {x.dtype} {x.shape} and y_{split} "
                f"{y.dtype} {y.shape}, not (N, H, W[, C]) images and N integer labels"
            )
    return arrays


def _keras_download(module: str, title: str, where: str, put: str) -> tuple[np.ndarray, ...]:
    """``keras.datasets.<module>.load_data()`` (cached in ~/.keras/datasets), or one line
    saying where zoo looked and what to put where when the download fails."""
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, module).load_data()
    except Exception as exc:
        raise DatasetUnavailable(
            f"{title} is not available: {where}, and Keras' download failed ({type(exc).__name__}). "
            f"Put {put} in a folder and pass --data-dir or set ZOO_DATA_DIR"
        ) from exc
    return x_train, y_train, x_test, y_test


def load_mnist(data_dir: Path | None, input_shape: tuple) -> tuple[np.ndarray, ...]:
    """MNIST from ``data_dir/mnist.npz`` (Keras' layout), else Keras' own download."""
    if data_dir is not None and (data_dir / "mnist.npz").is_file():
        return _read_npz(data_dir / "mnist.npz")
    where = f"{str(data_dir)!r} has no mnist.npz" if data_dir else "no data directory was given"
    return _keras_download("mnist", "MNIST", where, "mnist.npz")


def _read_cifar_batches(folder: Path) -> tuple[np.ndarray, ...]:
    """The python-pickle batches CIFAR-10 is distributed as (what Keras' download unpacks)."""
    import pickle

    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:
        with open(folder / name, "rb") as fh:
            data = pickle.load(fh, encoding="bytes")  # the official distribution's format
        images = np.asarray(data[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return images, np.asarray(data[b"labels"], np.int64)

    train = [batch(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = batch("test_batch")
    return np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]), x_test, y_test


def load_cifar10(data_dir: Path | None, input_shape: tuple) -> tuple[np.ndarray, ...]:
    """CIFAR-10 from ``data_dir/cifar10.npz`` (Keras' array layout) or the extracted
    ``data_dir/cifar-10-batches-py/``, else Keras' own download."""
    if data_dir is not None and (data_dir / "cifar10.npz").is_file():
        return _read_npz(data_dir / "cifar10.npz")
    if data_dir is not None and (data_dir / "cifar-10-batches-py" / "test_batch").is_file():
        return _read_cifar_batches(data_dir / "cifar-10-batches-py")
    where = (
        f"{str(data_dir)!r} has neither cifar10.npz nor cifar-10-batches-py/"
        if data_dir
        else ("no data directory was given")
    )
    return _keras_download("cifar10", "CIFAR-10", where, "cifar10.npz")


FASHION_FOLDER = "fashion-mnist"
# The four files Fashion-MNIST is distributed as (github.com/zalandoresearch/fashion-mnist), by split.
FASHION_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
# IDX magic numbers: two zero bytes, 0x08 (unsigned bytes), then the number of dimensions.
IDX_IMAGES = 0x00000803
IDX_LABELS = 0x00000801


def read_idx(path: Path, magic: int) -> np.ndarray:
    """A gzipped IDX file (how MNIST and Fashion-MNIST are distributed): a big-endian header,
    the magic number then one uint32 per dimension, followed by the data as unsigned bytes.

    The magic number and the data's length are checked, so a wrong or cut-off download is a
    one-line error naming the file rather than a reshape failure later.
    """
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetUnavailable(f"Cannot read {str(path)!r}: {exc}") from exc
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    found = int.from_bytes(raw[:4], "big")
    if len(raw) < header or found != magic:
        raise DatasetUnavailable(
            f"{str(path)!r} is not an IDX file of {ndim}-d unsigned bytes: magic number "
            f"0x{found:08x}, expected 0x{magic:08x}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = math.prod(dims)
    if len(raw) - header != expected:
        raise DatasetUnavailable(
            f"{str(path)!r} is truncated or corrupt: its header says {'x'.join(map(str, dims))} "
            f"({expected} bytes of data) but it holds {len(raw) - header}"
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_fashion_idx(folder: Path) -> tuple[np.ndarray, ...]:
    """The four original gz files; images must be 28x28 and as many as their labels."""
    missing = [name for name in FASHION_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise DatasetUnavailable(f"{str(folder)!r} lacks {', '.join(missing)}")
    arrays = []
    for split in ("train", "test"):
        images_file, labels_file = folder / FASHION_FILES[f"x_{split}"], folder / FASHION_FILES[f"y_{split}"]
        images, labels = read_idx(images_file, IDX_IMAGES), read_idx(labels_file, IDX_LABELS)
        if images.shape[1:] != (28, 28):
            raise DatasetUnavailable(
                f"{str(images_file)!r} holds {images.shape[1]}x{images.shape[2]} images, not 28x28"
            )
        if len(images) != len(labels):
            raise DatasetUnavailable(
                f"{str(images_file)!r} holds {len(images)} images but {str(labels_file)!r} "
                f"{len(labels)} labels"
            )
        if labels.size and labels.max() > 9:
            raise DatasetUnavailable(f"{str(labels_file)!r} holds label {labels.max()}, not 0..9")
        arrays += [images, labels.astype(np.int64)]
    return tuple(arrays)


def load_fashion_mnist(data_dir: Path | None, input_shape: tuple) -> tuple[np.ndarray, ...]:
    """Fashion-MNIST from ``data_dir/fashion_mnist.npz`` (mnist.npz's keys), or the four
    original gz files in ``data_dir/fashion-mnist/``, else Keras' own download."""
    if data_dir is not None and (data_dir / "fashion_mnist.npz").is_file():
        return _read_npz(data_dir / "fashion_mnist.npz")
    folder = data_dir / FASHION_FOLDER if data_dir is not None else None
    # A folder holding some of the files is meant to be used: name what it lacks, no download.
    if folder is not None and any((folder / name).is_file() for name in FASHION_FILES.values()):
        return _read_fashion_idx(folder)
    where = (
        f"{str(data_dir)!r} has neither fashion_mnist.npz nor {FASHION_FOLDER}/ with the four .gz files"
        if data_dir
        else "no data directory was given"
    )
    put = f"fashion_mnist.npz (or {FASHION_FOLDER}/ with {', '.join(FASHION_FILES.values())})"
    return _keras_download("fashion_mnist", "Fashion-MNIST", where, put)


def load_mnist_sample(data_dir: Path | None, input_shape: tuple) -> tuple[np.ndarray, ...]:
    """The MNIST subset shipped in this package (see tools/make_mnist_sample.py)."""
    return _read_npz(SAMPLE_FILE)


def load_synthetic(
    data_dir: Path | None, input_shape: tuple, train: int = 512, test: int = 128, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Ten classes of smooth random templates plus noise, at the architecture's input shape.

    Learnable in a few steps, so tests can see a loss fall; dynamic dimensions become 32.
    """
    rng = np.random.default_rng(seed)
    h, w, c = (d or 32 for d in input_shape)
    coarse = rng.random((10, max(h // 4, 1), max(w // 4, 1), c))
    templates = np.kron(coarse, np.ones((1, 4, 4, 1)))[:, :h, :w, :]
    templates = np.pad(templates, ((0, 0), (0, h - templates.shape[1]), (0, w - templates.shape[2]), (0, 0)))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n)
        noise = rng.normal(0.0, 0.1, (n, h, w, c))
        images = np.clip(templates[labels] + noise, 0.0, 1.0).astype(np.float32)
        return images, labels

    x_train, y_train = draw(train)
    x_test, y_test = draw(test)
    return x_train, y_train, x_test, y_test
