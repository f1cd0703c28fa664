"""Scale-out through tf.distribute: the strategy a run trains under.

``none``: TensorFlow's default (one device). ``mirrored``: synchronous data parallelism over
this machine's GPUs, or, without GPUs, over its logical CPU devices (``ZOO_CPU_DEVICES=N``
splits the CPU into N, which is how the tests run it on one machine). ``multiworker``:
synchronous data parallelism over several hosts, each described by ``TF_CONFIG``; a worker
gives up when the others have not all started within ``ZOO_WORKER_TIMEOUT`` seconds (60).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from zoo.core import settings, signals
from zoo.core.errors import InvalidOption

STRATEGIES = ("none", "mirrored", "multiworker")
# ZOO_CPU_DEVICES splits the CPU to try the mirrored strategy on one machine; more logical devices
# than this are no test of anything, and TensorFlow takes minutes to create thousands of them
# (100000 were still starting after 300 s).
MAX_CPU_DEVICES = 64
WORKER_TIMEOUT_S = 60.0  # default of ZOO_WORKER_TIMEOUT


def cpu_devices() -> int | None:
    """``ZOO_CPU_DEVICES``, checked: None where unset, else 1 to ``MAX_CPU_DEVICES``."""
    value = os.environ.get(settings.CPU_DEVICES, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_CPU_DEVICES:
        raise InvalidOption(
            f"{settings.CPU_DEVICES} must be a whole number from 1 to {MAX_CPU_DEVICES} "
            f"(logical CPU devices), got {value!r}"
        )
    return int(value)


def worker_timeout() -> float:
    """``ZOO_WORKER_TIMEOUT``: the seconds ``multiworker`` waits for every worker to start."""
    return settings.positive_number(settings.WORKER_TIMEOUT, WORKER_TIMEOUT_S)


def check_environment(name: str) -> None:
    """What the strategy ``name`` reads from the environment, refused before TensorFlow starts."""
    cpu_devices()
    if name == "multiworker":
        worker_timeout()
        _tf_config()


def configure_devices() -> None:
    """Split the CPU into ``ZOO_CPU_DEVICES`` logical devices; must run before TF starts."""
    count = cpu_devices()
    if count is None:
        return
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    # RuntimeError: TensorFlow already started in this process; it keeps the devices it has.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )


def _tf_config() -> dict[str, Any]:
    if "TF_CONFIG" not in os.environ:
        raise InvalidOption("--strategy multiworker needs TF_CONFIG (the cluster and this worker's task)")
    try:
        config = json.loads(os.environ["TF_CONFIG"])
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidOption(f"TF_CONFIG is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidOption("TF_CONFIG must be a JSON object with 'cluster' and 'task'")
    return config


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
    return _start_multiworker(_tf_config(), worker_timeout())


def _start_multiworker(config: dict[str, Any], seconds: float) -> Any:
    """The multi-worker strategy once every worker of TF_CONFIG has started, or ``InvalidOption``
    after ``seconds``.

    TensorFlow waits for every peer with no deadline of its own (``CoordinationServiceAgent::
    WaitForAllTasks``), in native code that holds the GIL, so no Python handler or thread can
    run meanwhile; and it sets a SIGTERM handler of its own. A worker whose peer never came
    waited for ever and only SIGKILL ended it. Here the coordination service is configured as
    TensorFlow would, plus a registration barrier with a timeout, so that the wait ends; then
    the signals are taken back (``zoo.core.signals.reinstall``). A SIGTERM during the wait itself
    is still TensorFlow's; the timeout ends it."""
    import tensorflow as tf

    _register_within(seconds)
    try:
        return _multi_worker_strategy_for_keras3()
    except tf.errors.DeadlineExceededError:
        raise InvalidOption(
            f"--strategy multiworker: not every worker in TF_CONFIG started within {seconds:g} s "
            f"({_workers(config)}); start them all, or give them longer with "
            f"{settings.WORKER_TIMEOUT}=SECONDS"
        ) from None
    finally:
        signals.reinstall()


def _register_within(seconds: float) -> None:
    """The coordination service MultiWorkerMirroredStrategy configures (the same jobs and
    leader), with a registration barrier that fails after ``seconds``; where this TensorFlow
    lacks what it needs, nothing changes."""
    try:
        import tensorflow as tf
        from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
        from tensorflow.python.distribute import multi_worker_util
        from tensorflow.python.eager import context
    except ImportError:
        return
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster = multi_worker_util.normalize_cluster_spec(resolver.cluster_spec())
    eager = context.context()
    if resolver.task_type not in ("chief", "worker") or eager.coordination_service is not None:
        return
    fields = coordination_config_pb2.CoordinationServiceConfig.DESCRIPTOR.fields_by_name
    if "cluster_register_with_barrier" not in fields:
        return
    eager.configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster.num_tasks(job))
            for job in ("chief", "worker")
            if job in cluster.jobs
        ],
        cluster_register_timeout_in_ms=max(1, int(seconds * 1000)),
    )
    eager.coordination_service.cluster_register_with_barrier = True


def _workers(config: dict[str, Any]) -> str:
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        return "TF_CONFIG names no cluster"
    addresses = [str(a) for kind in cluster.values() if isinstance(kind, list) for a in kind]
    shown = ", ".join(addresses[:8]) + (", ..." if len(addresses) > 8 else "")
    return f"this is {task.get('type')} {task.get('index')} of {shown}"


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
