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

from zoo import settings
from zoo.errors import InvalidOption

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
    return tf.distribute.MultiWorkerMirroredStrategy()


def replicas(active: Any) -> int:
    return int(active.num_replicas_in_sync)
