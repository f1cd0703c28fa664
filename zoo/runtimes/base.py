"""What every runtime gives zoo: load a file (or refuse it in one line), run it on named inputs.

One interface for ONNX Runtime, ONNX's reference evaluator, OpenVINO, OpenCV DNN and TensorRT, so
that ``zoo verify --runtime`` and ``zoo bench --runtime`` treat them alike. A runtime's own
package is imported only inside ``load`` and ``unavailable``: ``zoo list`` imports none of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np


class RuntimeRefused(Exception):
    """A file this runtime will not load or run: ``reason`` in one line, ``ops`` the op types it
    lacks (empty where the refusal is not about ops)."""

    def __init__(self, reason: str, ops: tuple[str, ...] = ()) -> None:
        self.reason = one_line(reason)
        self.ops = tuple(ops)
        super().__init__(self.reason)


@dataclass
class Loaded:
    """One file loaded in one runtime."""

    input_names: list[str]
    output_names: list[str]
    precision: str  # what the runtime really computes in: "float32", "bfloat16", "float16"
    device: str  # "CPU", "CUDA", ...
    load_seconds: float
    runner: Callable[[dict[str, np.ndarray]], list[np.ndarray]] = field(repr=False)
    detail: str = ""  # anything else worth a note (the provider label, the default precision)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The outputs, in ``output_names`` order."""
        return self.runner(feeds)


@runtime_checkable
class Runtime(Protocol):
    name: str  # "onnxruntime", "reference", "openvino", "opencv", "tensorrt"

    def unavailable(self) -> str | None:
        """Why this runtime cannot run here (not installed, no GPU); None if it can."""
        ...

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        """``path`` loaded: ``precision`` None is the runtime's default, "float32" forbids it to
        lower the precision itself (OpenVINO's bfloat16 default on a CPU with AVX-512 BF16); a
        float16 file still computes in float16 where the runtime runs it as written. Raises
        ``RuntimeRefused``."""
        ...


def one_line(text: str, limit: int = 300) -> str:
    """The first meaningful line of a runtime's (often multi-line) error, at most ``limit`` long."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = lines[0] if lines else "(no message)"
    return line if len(line) <= limit else line[: limit - 3] + "..."


def since(started: float) -> float:
    return time.perf_counter() - started
