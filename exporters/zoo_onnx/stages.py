"""The full model and its parts as Keras runs them: the reference every file is compared with.

A stage's inputs are a list of arrays: ``[images]`` for the full model and the first part, what
the part before hands on for a later part (its first k outputs, k the number of inputs the
part takes: ``ExportJob.passed_on``, zoo's one statement of the rule).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.api import FULL, ExportJob


def keras_outputs(model: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Keras' outputs for ``inputs`` (one array per model input), called eagerly (``predict``
    would retrace for every new batch size)."""
    import keras

    outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


def output_layer_names(model: Any) -> list[str]:
    """The Keras names of a model's outputs (a VAE encoder's second is ``log_var``, a U-Net
    encoder's are ``[..., skip1, skip2]``)."""
    names = getattr(model, "output_names", None)
    return list(names) if names else [t._keras_history.operation.name for t in model.outputs]


class Stages:
    """The full model and its parts in Keras, to feed and finish any one of them."""

    def __init__(self, job: ExportJob) -> None:
        self.models = {FULL: job.model, **job.parts}
        self.parts = list(job.parts)
        self.passed = {part: job.passed_on(part) for part in self.parts}

    def inputs(self, stage: str, images: np.ndarray) -> list[np.ndarray]:
        """What ``stage`` takes for ``images``: the images, or what the parts before it hand on."""
        h = [images]
        if stage == FULL:
            return h
        for part in self.parts[: self.parts.index(stage)]:
            h = keras_outputs(self.models[part], h)[: self.passed[part]]
        return h

    def finish(self, stage: str, outputs: Sequence[np.ndarray]) -> np.ndarray:
        """The final output, from every output of ``stage``, through the parts after it."""
        if stage == FULL:
            return outputs[0]
        at = self.parts.index(stage)
        h = list(outputs)
        for before, part in itertools.pairwise(self.parts[at:]):
            h = keras_outputs(self.models[part], h[: self.passed[before]])
        return h[0]

    def handed_in(self, stage: str) -> list[str]:
        """The Keras names of the outputs the part before ``stage`` hands it (its first input
        is ``code``/``features`` in the files; the others keep these names); empty for the
        full model and the first part."""
        if stage == FULL or stage == self.parts[0]:
            return []
        before = self.parts[self.parts.index(stage) - 1]
        return output_layer_names(self.models[before])[: self.passed[before]]
