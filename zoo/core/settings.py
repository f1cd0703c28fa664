"""The environment variables zoo reads, in one place."""

from __future__ import annotations

import os

DEBUG = "ZOO_DEBUG"  # 1: tracebacks and TensorFlow / ONNX Runtime logs (what `zoo --debug` sets)
STRICT_PLUGINS = "ZOO_STRICT_PLUGINS"  # 1: a plugin's error is raised, with its traceback
LOAD_PLUGINS = "ZOO_LOAD_PLUGINS"  # "a,b": load only these plugins; empty: none
# seconds: a plugin that takes longer to import and register is named in a warning (zoo.core.host)
SLOW_PLUGIN_SECONDS = "ZOO_SLOW_PLUGIN_SECONDS"
# N: the most values (height x width x channels) a registered input or image shape may have
MAX_INPUT_PIXELS = "ZOO_MAX_INPUT_PIXELS"
DATA_DIR = "ZOO_DATA_DIR"  # the folder datasets are read from
CPU_DEVICES = "ZOO_CPU_DEVICES"  # N: split the CPU into N logical devices (--strategy mirrored, tests)
# seconds: how long --strategy multiworker waits for every worker in TF_CONFIG to start (default 60)
WORKER_TIMEOUT = "ZOO_WORKER_TIMEOUT"
# "a,b": modules `zoo bench --isolate` imports in each child before ONNX Runtime (e.g. ort_gpu_env)
ORT_PRELOAD = "ZOO_ORT_PRELOAD"
# 1: load Keras models outside safe mode, so code they carry (a Lambda layer) runs: only for files
# you trust (what `zoo --unsafe-load-code` sets)
UNSAFE_LOAD_CODE = "ZOO_UNSAFE_LOAD_CODE"
# Limits on files from elsewhere (a small file must not exhaust the machine or run forever);
# raise one for a file you trust. Each is a positive number, read by positive_number().
# MiB: the largest config.json or metadata.json zoo reads from a model.keras (default 64)
MAX_KERAS_CONFIG_MB = "ZOO_MAX_KERAS_CONFIG_MB"
# times: the most a model.keras member may unpack to over the bytes it stores (default 100)
MAX_KERAS_EXPANSION = "ZOO_MAX_KERAS_EXPANSION"
# seconds: the longest one ONNX Runtime inference on a file may run in bench and verify (default 60)
RUN_TIMEOUT = "ZOO_RUN_TIMEOUT"
# pixels / MiB: the largest image a folder dataset decodes, from its header (50,000,000) and its
# size (256); the datasets plugin reads them through zoo.api.limit (plugins cannot import this module)
MAX_IMAGE_PIXELS = "ZOO_MAX_IMAGE_PIXELS"
MAX_IMAGE_MB = "ZOO_MAX_IMAGE_MB"


def flag(name: str) -> bool:
    """A boolean environment variable: 1, true, yes or on (any case) mean yes."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def plugin_allowlist() -> list[str] | None:
    """The plugins ZOO_LOAD_PLUGINS names, or None when it is unset (load all)."""
    value = os.environ.get(LOAD_PLUGINS)
    return None if value is None else [n.strip() for n in value.split(",") if n.strip()]


def positive_number(name: str, default: float) -> float:
    """A limit from the environment: ``default`` where ``name`` is unset or empty, else a positive
    finite number (``InvalidOption`` naming the variable otherwise)."""
    import math

    from zoo.core.errors import InvalidOption

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InvalidOption(f"{name}={text!r} is not a positive number")
    return value
