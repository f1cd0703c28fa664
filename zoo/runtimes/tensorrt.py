"""TensorRT through ONNX Runtime's TensorRT provider, only where a GPU really runs (a one-node
graph gets a TensorRT session with CPU fallback disabled); elsewhere it is "not run" with the
reason, never a pass. TensorRT builds its engine in float32 unless told otherwise (no FP16 flag is
set here)."""

from __future__ import annotations

from pathlib import Path

from zoo.runtimes.base import Loaded, RuntimeRefused
from zoo.runtimes.onnxruntime import gpu_unavailable, load_session


class TensorRt:
    name = "tensorrt"

    def unavailable(self) -> str | None:
        return gpu_unavailable("TensorRT")

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        if precision not in (None, "float32"):
            raise RuntimeRefused(f"zoo builds TensorRT engines in float32 only; no {precision} hint")
        return load_session(Path(path), "TensorRT", self.name)
