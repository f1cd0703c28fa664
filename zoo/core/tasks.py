"""What a task means, in one table: how a model of that task learns, is measured, is shown and
is named in its exports.

An architecture declares its task (``ArchitectureSpec.task``); training, evaluation, ``zoo runs``,
the exported tensor names and the judgement of lower-precision exports all read it from here.
The code that computes targets, metrics and figures lives with its layer; this module only
names what each task uses, so a new task is one row here plus that code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """One task.

    ``loss`` is the Keras loss trained with by default. ``metrics`` are the compiled metrics
    (``zoo.training.compile`` makes Keras objects of them). ``targets`` is what the model learns
    to output: ``labels``, its ``inputs`` or per-pixel ``masks`` (0 where the image is at most
    0.5, else its label + 1). ``headline`` is the test metric a run is summed up by (its figures
    and per-class measures are ``zoo.training.task_evaluators``'); ``output`` the name of the
    last tensor in exports; ``quality`` the figure a lower-precision export is judged by against
    float32 Keras.
    """

    name: str
    loss: str
    metrics: tuple[str, ...]
    targets: str
    headline: str
    output: str
    quality: str


TASKS: dict[str, Task] = {
    "classification": Task(
        name="classification",
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy",),
        targets="labels",
        headline="test_accuracy",
        output="probabilities",
        quality="accuracy",
    ),
    "reconstruction": Task(
        name="reconstruction",
        # With mean squared error, a sigmoid decoder on MNIST (mostly zeros) collapsed to all-zero
        # output within an epoch (conv-ae: test MSE 0.114); cross-entropy keeps learning.
        loss="binary_crossentropy",
        metrics=("mse", "mae"),
        targets="inputs",
        headline="test_mse",
        output="reconstruction",
        quality="mse",
    ),
    "segmentation": Task(
        name="segmentation",
        loss="sparse_categorical_crossentropy",
        metrics=("accuracy", "mean_iou"),
        targets="masks",
        headline="test_mean_iou",
        output="mask_probabilities",
        quality="pixel_accuracy",
    ),
}


def task(name: str) -> Task:
    """The task called ``name``; a ``KeyError`` names the known ones (specs are checked when
    registered, so only a hand-edited run config can get here with another name)."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None
