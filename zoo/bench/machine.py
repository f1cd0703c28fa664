"""What a measurement ran on: CPU model, cores, system, GPUs (name, driver, memory)."""

from __future__ import annotations

import os
import platform
from typing import Any

from zoo.bench import nvml


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine's description recorded beside every figure."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "gpus": nvml.gpus(),
    }


def describe(info: dict[str, Any]) -> str:
    """One line for people: CPU, cores and each GPU with its driver."""
    text = f"{info['cpu']}, {info['cores']} cores"
    for gpu in info.get("gpus") or []:
        text += f"; GPU {gpu['index']}: {gpu['name']} ({gpu['memory_total_mib']} MiB, driver {gpu['driver']})"
    return text if info.get("gpus") else text + "; no GPU seen by the NVIDIA driver"
