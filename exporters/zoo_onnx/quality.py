"""Lower-precision files (float16, int8) judged by what the model is for: the change of its
task's quality figure (``zoo.api.task(...).quality``: accuracy, MSE or pixel accuracy) on test
images, against float32 Keras, within ``ALLOWED_CHANGE``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.api import ExportJob, segmentation_masks, task
from zoo_onnx.stages import keras_outputs

# How much worse than float32 a lower-precision file may score on the test set:
# accuracy and pixel accuracy in percentage points, MSE as a relative increase.
ALLOWED_CHANGE = {
    "fp16": {"accuracy_points": 0.5, "mse_relative": 0.02},
    "int8": {"accuracy_points": 1.5, "mse_relative": 0.25},
}
EVALUATION_SAMPLES = 1000  # test images a lower-precision file is scored on
CALIBRATION_SAMPLES = 256  # training images static int8 quantization calibrates on


def metric(task_name: str, outputs: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[str, float]:
    """The task's quality figure for outputs in NHWC, and its name."""
    quality = task(task_name).quality
    if quality == "accuracy":
        return quality, float(np.mean(outputs.argmax(axis=-1) == y))
    if quality == "pixel_accuracy":
        return quality, float(np.mean(outputs.argmax(axis=-1) == segmentation_masks(x, y)))
    return quality, float(np.mean((outputs.astype(np.float64) - x) ** 2))


def within(precision: str, name: str, reference: float, value: float) -> bool:
    """Whether ``value`` is at most the allowed change worse than float32's ``reference``."""
    allowed = ALLOWED_CHANGE[precision]
    if name == "mse":
        return value <= reference * (1 + allowed["mse_relative"]) + 1e-7
    return (reference - value) * 100 <= allowed["accuracy_points"]


@dataclass(frozen=True)
class Evaluation:
    """The images a lower-precision export is judged on, and float32 Keras' figure on them."""

    x: np.ndarray
    y: np.ndarray
    calibration: np.ndarray  # training images (static int8 calibrates on the first ones)
    source: str  # in words, for the manifest
    reference: tuple[str, float]  # (figure, float32 Keras' value)

    def judge(self, precision: str, task_name: str, outputs: np.ndarray) -> tuple[str, float, bool]:
        """(figure, value, passed) of a file's final ``outputs`` for ``self.x``."""
        name, value = metric(task_name, outputs, self.x, self.y)
        return name, value, within(precision, name, self.reference[1], value)


def evaluation(job: ExportJob, samples: np.ndarray) -> Evaluation:
    """The run's first test images (its run samples where its dataset cannot be loaded here)."""
    arrays = job.load_data()
    if arrays is not None:
        x, y, calibration = (
            arrays.x_test[:EVALUATION_SAMPLES],
            arrays.y_test[:EVALUATION_SAMPLES],
            arrays.x_train,
        )
        source = f"the first {len(x)} test images of {job.run.config.get('dataset')}"
    else:
        _, y = job.run.samples()
        x, calibration = samples, samples
        source = f"the run's {len(x)} test samples (its dataset cannot be loaded here)"
    reference = metric(job.spec.task, keras_outputs(job.model, [x])[0], x, y)
    return Evaluation(x, y, calibration, source, reference)
