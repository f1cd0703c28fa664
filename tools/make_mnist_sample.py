"""Write plugins/zoo_datasets/mnist_sample.npz: a balanced, fixed subset of the real MNIST.

    python tools/make_mnist_sample.py PATH/TO/mnist.npz   # Keras' mnist.npz

400 training and 100 test images per digit, chosen with seed 0, uint8 as in Keras' layout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from zoo.runs.atomic import atomic_path

OUT = Path(__file__).resolve().parents[1] / "plugins" / "zoo_datasets" / "mnist_sample.npz"


def pick(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [rng.choice(np.flatnonzero(labels == d), per_class, replace=False) for d in range(10)]
    return np.sort(np.concatenate(chosen))


def main(source: str) -> None:
    rng = np.random.default_rng(0)
    with np.load(source) as mnist, atomic_path(OUT) as tmp:
        train = pick(mnist["y_train"], 400, rng)
        test = pick(mnist["y_test"], 100, rng)
        np.savez_compressed(
            tmp,
            x_train=mnist["x_train"][train],
            y_train=mnist["y_train"][train],
            x_test=mnist["x_test"][test],
            y_test=mnist["y_test"][test],
        )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/make_mnist_sample.py PATH/TO/mnist.npz")
    main(sys.argv[1])
