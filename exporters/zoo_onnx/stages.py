"""The full model and its parts as Keras runs them: the reference every file is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.api import FULL, ExportJob


def keras_outputs(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """Keras' outputs, called eagerly (``predict`` would retrace for every new batch size)."""
    import keras

    outputs = model(x, training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


def output_layer_names(model: Any) -> list[str]:
    """The Keras names of a model's outputs (a VAE encoder's second is ``log_var``)."""
    names = getattr(model, "output_names", None)
    return list(names) if names else [t._keras_history.operation.name for t in model.outputs]


class Stages:
    """The full model and its parts in Keras, to feed and finish any one of them."""

    def __init__(self, job: ExportJob) -> None:
        self.models = {FULL: job.model, **job.parts}
        self.parts = list(job.parts)

    def inputs(self, stage: str, images: np.ndarray) -> np.ndarray:
        """What ``stage`` takes for ``images``: the images, or what the parts before it hand on."""
        if stage == FULL:
            return images
        h = images
        for part in self.parts[: self.parts.index(stage)]:
            h = keras_outputs(self.models[part], h)[0]
        return h

    def finish(self, stage: str, handed_on: np.ndarray) -> np.ndarray:
        """The final output, from what ``stage`` handed on, through the parts after it."""
        if stage == FULL:
            return handed_on
        h = handed_on
        for part in self.parts[self.parts.index(stage) + 1 :]:
            h = keras_outputs(self.models[part], h)[0]
        return h
