"""How a model is compiled for training: Adam, a learning-rate schedule, and its task's loss and
metrics (``zoo.core.tasks``)."""

from __future__ import annotations

from typing import Any

from zoo.core.specs import EPOCH_DECAY, ArchitectureSpec
from zoo.core.tasks import task
from zoo.training.keras_env import import_keras


def metrics(spec: ArchitectureSpec, model: Any) -> list[Any]:
    """The task's metrics as Keras takes them; ``mean_iou`` over the model's output classes."""
    keras = import_keras()
    found: list[Any] = []
    for name in task(spec.task).metrics:
        if name == "mean_iou":
            classes = int(model.output.shape[-1])
            found.append(keras.metrics.MeanIoU(classes, sparse_y_pred=False, name="mean_iou"))
        else:
            found.append(name)
    return found


def compile_model(
    model: Any,
    spec: ArchitectureSpec,
    learning_rate: float,
    steps_per_epoch: int = 0,
    schedule: str | None = None,
    epochs: int = 1,
) -> None:
    """Adam with a learning-rate schedule, the spec's loss (or its task's), its task's metrics.

    ``schedule`` (default: the spec's): ``constant``; ``epoch-decay`` (times ``EPOCH_DECAY``
    after every epoch of ``steps_per_epoch`` batches); ``cosine`` (to 0 over ``epochs``);
    ``plateau`` (constant here; halved by a callback when the validation loss stalls).
    """
    keras = import_keras()
    schedule = schedule or spec.lr_schedule
    rate: Any = learning_rate
    if schedule == "epoch-decay" and steps_per_epoch > 0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=steps_per_epoch, decay_rate=EPOCH_DECAY, staircase=True
        )
    elif schedule == "cosine" and steps_per_epoch > 0:
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps_per_epoch * epochs)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=spec.training_loss,
        metrics=metrics(spec, model),
    )


def stretch_cosine(model: Any, learning_rate: float, steps_per_epoch: int, epochs: int) -> None:
    """A cosine schedule reaches 0 at the end of the epochs it was compiled for; a resume that
    extends the run (``--epochs N``) gives it the new total, so the added epochs do not train at
    a rate of 0. The run goes on as if N had been asked for from the start; for the same total
    (an interrupted run) nothing changes."""
    keras = import_keras()
    model.optimizer.learning_rate = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=steps_per_epoch * epochs
    )
