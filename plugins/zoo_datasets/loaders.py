"""Dataset loaders: each returns ``(x_train, y_train, x_test, y_test)`` as NumPy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.errors import DatasetUnavailable

SAMPLE_FILE = Path(__file__).with_name("mnist_sample.npz")
_SPLITS = ("x_train", "y_train", "x_test", "y_test")


def _read_npz(path: Path) -> tuple[np.ndarray, ...]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return tuple(data[key] for key in _SPLITS)
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetUnavailable(f"Cannot read {str(path)!r}: {exc}") from exc


def load_mnist(data_dir: Path | None, input_shape: tuple) -> tuple[np.ndarray, ...]:
    """MNIST from ``data_dir/mnist.npz`` (Keras' layout), else Keras' own download."""
    if data_dir is not None and (data_dir / "mnist.npz").is_file():
        return _read_npz(data_dir / "mnist.npz")
    where = f"{str(data_dir)!r} has no mnist.npz" if data_dir else "no data directory was given"
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:
        raise DatasetUnavailable(
            f"MNIST is not available: {where}, and Keras' download failed "
            f"({type(exc).__name__}). Put mnist.npz in a folder and pass --data-dir or set "
            f"ZOO_DATA_DIR"
        ) from exc
    return x_train, y_train, x_test, y_test


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
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:
        raise DatasetUnavailable(
            f"CIFAR-10 is not available: {where}, and Keras' download failed ({type(exc).__name__}). "
            f"Put cifar10.npz in a folder and pass --data-dir or set ZOO_DATA_DIR"
        ) from exc
    return x_train, y_train, x_test, y_test


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
