"""The input pipeline: tf.data datasets that shuffle, batch and prefetch.

Epoch ``e`` visits the training samples in an order drawn from ``(seed, e)`` alone, so a run
resumed at epoch ``e`` sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Batches per epoch; the last batch may be smaller."""
    return -(-samples // batch_size)


def training_dataset(
    x: np.ndarray, t: np.ndarray, batch_size: int, seed: int, first_epoch: int, epochs: int
) -> Any:
    """Batches for epochs ``first_epoch`` .. ``epochs - 1``, each epoch a fresh seeded shuffle."""
    import tensorflow as tf

    n = len(x)
    images, targets = tf.constant(x), tf.constant(t)

    def one_epoch(epoch: Any) -> Any:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
        )
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def gather(indices: Any) -> tuple[Any, Any]:
        return tf.gather(images, indices), tf.gather(targets, indices)

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
