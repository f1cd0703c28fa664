"""The input pipeline: tf.data datasets that shuffle, batch and prefetch.

Epoch ``e`` visits the training samples in an order drawn from ``(seed, e)`` alone, so a run
resumed at epoch ``e`` sees exactly the batches an uninterrupted run would have seen. A training
augmentation (``zoo.training.augment``) is keyed on the same ``(seed, e)`` and the example's index,
so it is the same after a resume too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.training import augment


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Batches per epoch; the last batch may be smaller."""
    return -(-samples // batch_size)


def training_dataset(
    x: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    seed: int,
    first_epoch: int,
    epochs: int,
    augmentation: str = augment.NONE,
    targets_kind: str = "labels",
) -> Any:
    """Batches for epochs ``first_epoch`` .. ``epochs - 1``, each epoch a fresh seeded shuffle,
    distorted by ``augmentation`` (``targets_kind``: the task's targets, which follow the images)."""
    import tensorflow as tf

    n = len(x)
    images, targets = tf.constant(x), tf.constant(t)

    def one_epoch(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        draws = augment.parameters(augmentation, n, seed, epoch)
        if draws is None:
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return tf.data.Dataset.from_tensor_slices((order, tf.gather(draws, order))).batch(batch_size)

    def gather(indices: Any, draws: Any = None) -> tuple[Any, Any]:
        batch = tf.gather(images, indices), tf.gather(targets, indices)
        return augment.apply(augmentation, *batch, targets_kind, draws)

    return (
        tf.data.Dataset.range(first_epoch, epochs)
        .flat_map(one_epoch)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def evaluation_dataset(x: np.ndarray, t: np.ndarray, batch_size: int) -> Any:
    """Batches in order, for validation and test."""
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, t)).batch(batch_size).prefetch(tf.data.AUTOTUNE)
