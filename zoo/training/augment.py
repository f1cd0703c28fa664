"""Training-time augmentation: random distortions of the training images, in the tf.data pipeline.

Only the batches the model is fitted on are distorted (``zoo.training.pipeline.training_dataset``);
validation, test, samples.npz and every export see the images as they are, and no augmentation op
is ever part of the model. Each example's distortion is drawn from ``(run seed, epoch, example
index)`` alone, so it does not depend on the batch size or on the order, and a resumed run draws
exactly what an uninterrupted one would have drawn.

The targets follow the images: an autoencoder's target is its distorted input (a denoising
autoencoder corrupts that in its own layer, after this), a segmentation mask gets the same
transform with nearest-neighbour sampling and the background class 0 where it comes from outside
the image; labels are left as they are.

This module imports TensorFlow only when a batch is distorted, so that the CLI can list the names.
"""

from __future__ import annotations

from typing import Any

# LeCun et al. 1998 (Proc. IEEE 86(11), section III.C) distorted the training images by "horizontal
# and vertical translations, scaling, squeezing (simultaneous horizontal compression and vertical
# elongation, or the reverse) and horizontal shearing", without giving the ranges. These are
# small enough that a digit stays the same digit and inside the 28x28 frame (MNIST's digits sit in
# a 20x20 box centred in it), and about as large as the distortions of the paper's figure:
TRANSLATION = 1 / 14  # of the height (rows) and the width (columns): ±2 px on MNIST's 28x28, ±2.3 on 32x32
SCALE = 0.1  # both axes by 0.9 .. 1.1
SQUEEZE = 0.1  # columns by q and rows by 1/q, q in 0.9 .. 1.1: narrower and taller, or the reverse
SHEAR = 0.15  # column += shear * (row - centre row), shear in -0.15 .. 0.15 (about ±8.5 degrees)

# A constant folded into the shuffle's seed, so the distortions are a stream apart from the order.
_SALT = 0x417567  # "Aug"

AUGMENTATIONS: dict[str, str] = {
    "none": "none (the training images as they are)",
    "affine": (
        "affine, as LeCun et al. 1998: per image and epoch, translation up to ±1/14 of the height and "
        f"width (±2 px at 28x28), scaling by {1 - SCALE:g}..{1 + SCALE:g}, squeezing "
        f"(width x q, height / q, q in {1 - SQUEEZE:g}..{1 + SQUEEZE:g}), horizontal shear "
        f"±{SHEAR:g}; bilinear, 0 outside the image"
    ),
}
NONE = "none"
PARAMETERS = 5  # per example: translation x and y, scale, squeeze, shear


def describe(name: str) -> str:
    """What the augmentation ``name`` does, for config.json and the model card."""
    return AUGMENTATIONS[name]


def parameters(name: str, count: int, seed: Any, epoch: Any) -> Any:
    """``count`` x ``PARAMETERS`` uniform draws in [-1, 1) for epoch ``epoch`` of a run seeded
    ``seed``: row ``i`` is example ``i``'s distortion in that epoch (``None`` for ``none``)."""
    if name == NONE:
        return None
    import tensorflow as tf

    key = tf.random.experimental.stateless_fold_in(
        tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)]), _SALT
    )
    return tf.random.stateless_uniform([count, PARAMETERS], seed=key, minval=-1.0, maxval=1.0)


def affine_transforms(draws: Any, height: int, width: int) -> Any:
    """(N, 8) transforms for ``ImageProjectiveTransformV3`` from (N, 5) draws in [-1, 1).

    The distortion maps an input pixel ``p`` to ``c + t + L (p - c)`` about the image centre
    ``c``, with ``L = [[s q, h s / q], [0, s / q]]`` (scale ``s``, squeeze ``q``, shear ``h``);
    the op wants the inverse, output pixel to input pixel: ``c + L^-1 (p - c - t)``.
    """
    import tensorflow as tf

    draws = tf.cast(draws, tf.float32)
    tx = draws[:, 0] * TRANSLATION * width
    ty = draws[:, 1] * TRANSLATION * height
    scale = 1.0 + draws[:, 2] * SCALE
    squeeze = 1.0 + draws[:, 3] * SQUEEZE
    shear = draws[:, 4] * SHEAR
    sx, sy = scale * squeeze, scale / squeeze
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    a0, a1 = 1.0 / sx, -shear / sx  # first row of L^-1
    b1 = 1.0 / sy  # second row: (0, 1 / sy)
    a2 = cx - a0 * (cx + tx) - a1 * (cy + ty)
    b2 = cy - b1 * (cy + ty)
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, zeros, b1, b2, zeros, zeros], axis=1)


def warp(images: Any, transforms: Any, nearest: bool = False) -> Any:
    """NHWC ``images`` (or NHW masks) moved by ``transforms``; 0 where a pixel comes from outside."""
    import tensorflow as tf

    squeeze = images.shape.rank == 3
    batch = images[..., tf.newaxis] if squeeze else images
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=batch,
        transforms=transforms,
        output_shape=tf.shape(batch)[1:3],
        fill_value=tf.zeros([], tf.float32),
        interpolation="NEAREST" if nearest else "BILINEAR",
        fill_mode="CONSTANT",
    )
    return out[..., 0] if squeeze else out


def apply(name: str, images: Any, targets: Any, kind: str, draws: Any) -> tuple[Any, Any]:
    """A batch and its targets distorted alike by ``draws`` (``parameters`` of its examples).

    ``kind`` is the task's targets (``zoo.core.tasks``): ``labels`` are kept, ``inputs`` become
    the distorted images, ``masks`` are moved with the images by nearest-neighbour sampling.
    """
    if name == NONE or draws is None:
        return images, targets
    import tensorflow as tf

    images, targets = tf.convert_to_tensor(images), tf.convert_to_tensor(targets)
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        height, width = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    transforms = affine_transforms(draws, height, width)
    moved = warp(images, transforms)
    if kind == "inputs":
        return moved, moved
    if kind == "masks":
        return moved, warp(targets, transforms, nearest=True)
    return moved, targets
