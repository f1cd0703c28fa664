"""The GPU's name, driver and memory through NVML (``libnvidia-ml``, installed with the driver).

ONNX Runtime keeps GPU memory in its arena until the process ends and does not report it, so the
device's used memory is read from the driver. ctypes keeps this free of extra packages; where
there is no NVIDIA driver every function answers ``None`` or an empty list.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

_NAME_LENGTH = 96
_DRIVER_LENGTH = 80


class _Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


@functools.cache
def _library() -> Any | None:
    """NVML, initialized, or None where it cannot be loaded or initialized."""
    for name in ("libnvidia-ml.so.1", "nvml.dll"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            if lib.nvmlInit_v2() == 0:
                return lib
        except AttributeError:
            return None
    return None


def _handle(lib: Any, index: int) -> ctypes.c_void_p | None:
    handle = ctypes.c_void_p()
    if lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(index), ctypes.byref(handle)) != 0:
        return None
    return handle


def _memory(lib: Any, handle: ctypes.c_void_p) -> _Memory | None:
    memory = _Memory()
    return memory if lib.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) == 0 else None


def gpus() -> list[dict[str, Any]]:
    """Every GPU the driver sees: index, name, driver version, total memory in MiB."""
    lib = _library()
    if lib is None:
        return []
    count = ctypes.c_uint()
    if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0:
        return []
    driver = ctypes.create_string_buffer(_DRIVER_LENGTH)
    version = driver.value.decode() if lib.nvmlSystemGetDriverVersion(driver, _DRIVER_LENGTH) == 0 else None
    found = []
    for index in range(count.value):
        handle = _handle(lib, index)
        if handle is None:
            continue
        name = ctypes.create_string_buffer(_NAME_LENGTH)
        lib.nvmlDeviceGetName(handle, name, _NAME_LENGTH)
        memory = _memory(lib, handle)
        found.append(
            {
                "index": index,
                "name": name.value.decode(errors="replace"),
                "driver": version,
                "memory_total_mib": round(memory.total / 2**20) if memory else None,
            }
        )
    return found


def used_mib(index: int = 0) -> float | None:
    """Memory in use on GPU ``index`` (by every process), in MiB; None without NVML."""
    lib = _library()
    if lib is None:
        return None
    handle = _handle(lib, index)
    memory = _memory(lib, handle) if handle is not None else None
    return round(memory.used / 2**20, 1) if memory else None
