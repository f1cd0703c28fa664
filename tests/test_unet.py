"""The U-Net: any input size divisible by 4, a class per pixel, and an encoder that hands its
decoder the code and two skips."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.training import models


@pytest.mark.parametrize(("height", "width"), [(28, 28), (32, 48), (8, 4)])
def test_one_class_distribution_per_pixel_at_any_size(registry, height, width):
    model = models.build(registry.architecture("unet"))
    out = np.array(model(np.zeros((2, height, width, 1), np.float32)))
    assert out.shape == (2, height, width, 11)
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)


def test_the_encoder_hands_on_the_code_and_a_skip_per_resolution(registry):
    spec = registry.architecture("unet")
    model = models.build(spec, {"filters": "4"})
    encoder, decoder = models.parts(spec, model).values()
    assert models.passed_between(encoder, decoder) == 3
    code, skip1, skip2 = (np.array(t) for t in encoder(np.zeros((1, 28, 28, 1), np.float32)))
    assert (code.shape, skip1.shape, skip2.shape) == ((1, 7, 7, 16), (1, 28, 28, 4), (1, 14, 14, 8))
    assert [t.name for t in decoder.inputs] == ["code", "skip1", "skip2"]
    rng = np.random.default_rng(0)
    handed = [rng.random(t.shape, dtype=np.float32) for t in (code, skip1, skip2)]
    out = np.array(decoder(handed))
    for i in range(3):  # the decoder uses every tensor it is handed
        changed = [t + 1 if j == i else t for j, t in enumerate(handed)]
        assert not np.allclose(np.array(decoder(changed)), out), ["code", "skip1", "skip2"][i]
