"""The fully convolutional model: any input size divisible by its stride, a class per pixel."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.training import data, models


@pytest.mark.parametrize(("height", "width"), [(28, 28), (32, 48), (8, 4)])
def test_one_class_distribution_per_pixel_at_any_size(registry, height, width):
    model = models.build(registry.architecture("fcn"))
    out = np.array(model(np.zeros((2, height, width, 1), np.float32)))
    assert out.shape == (2, height, width, 11)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def test_masks_are_background_or_label_plus_one():
    x = np.zeros((2, 2, 2, 1), np.float32)
    x[0, 0, 0] = 0.9
    x[1, 1, 1] = 0.51
    x[1, 0, 0] = 0.5  # not brighter than the threshold
    masks = data.segmentation_masks(x, np.array([3, 0]))
    assert masks.tolist() == [[[4, 0], [0, 0]], [[0, 0], [0, 1]]]
