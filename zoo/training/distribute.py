"""Scale-out through tf.distribute: the strategy a run trains under.

``none``: TensorFlow's default (one device). ``mirrored``: synchronous data parallelism over
this machine's GPUs, or, without GPUs, over its logical CPU devices (``ZOO_CPU_DEVICES=N``
splits the CPU into N, which is how the tests run it on one machine). ``multiworker``:
synchronous data parallelism over several hosts, each described by ``TF_CONFIG``.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from zoo.core import settings
from zoo.core.errors import InvalidOption

STRATEGIES = ("none", "mirrored", "multiworker")


def configure_devices() -> None:
    """Split the CPU into ``ZOO_CPU_DEVICES`` logical devices; must run before TF starts."""
    value = os.environ.get(settings.CPU_DEVICES, "").strip()
    if not value:
        return
    if not value.isdigit() or int(value) < 1:
        raise InvalidOption(f"{settings.CPU_DEVICES} must be a positive integer, got {value!r}")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    # RuntimeError: TensorFlow already started in this process; it keeps the devices it has.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(int(value))]
        )


def strategy(name: str) -> Any:
    """The ``tf.distribute`` strategy called ``name`` (see ``STRATEGIES``)."""
    if name not in STRATEGIES:
        raise InvalidOption(f"Unknown strategy {name!r}. Available: {', '.join(STRATEGIES)}")
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    if "TF_CONFIG" not in os.environ:
        raise InvalidOption("--strategy multiworker needs TF_CONFIG (the cluster and this worker's task)")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as exc:
        raise InvalidOption(f"TF_CONFIG is not valid JSON: {exc}") from None
    return _multi_worker_strategy_for_keras3()


def _multi_worker_strategy_for_keras3() -> Any:
    """``MultiWorkerMirroredStrategy`` with two reductions Keras 3 asks of it made valid.

    Keras 3.15's TensorFlow trainer (keras-team/keras#20585, open) calls ``strategy.reduce`` on
    a whole (x, y) batch to build the model, and with ``axis=0`` on per-replica scalars (its
    logs); the collective implementation refuses both. Here a structure is reduced leaf by leaf
    and a scalar's reduction takes no axis. Nothing else changes.
    """
    import tensorflow as tf

    class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op: Any, value: Any, axis: int | None) -> Any:
            parent = super()
            if isinstance(value, (tuple, list)):
                return tf.nest.map_structure(lambda v: parent.reduce(reduce_op, v, axis), value)
            if axis is not None and all(t.shape.rank == 0 for t in self.experimental_local_results(value)):
                axis = None
            return parent.reduce(reduce_op, value, axis)

    return KerasMultiWorkerMirroredStrategy()


def replicas(active: Any) -> int:
    return int(active.num_replicas_in_sync)
