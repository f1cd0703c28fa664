"""ONNX's reference evaluator (``onnx.reference``): slow, pure Python, written apart from ONNX
Runtime, so a second opinion on what a file computes. Held to ``ZOO_RUN_TIMEOUT``, checked
before each graph it runs (a Loop's body is a graph run once an iteration)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from zoo.runtimes.base import Loaded, RuntimeRefused, one_line, since
from zoo.runtimes.limits import RunTimedOut, run_limit
from zoo.runtimes.onnxruntime import file_precision


class Reference:
    name = "reference"

    def unavailable(self) -> str | None:
        try:
            import onnx.reference  # noqa: F401
        except ImportError:
            return "not installed: pip install onnx"
        return None

    def load(self, path: Path, precision: str | None = None) -> Loaded:
        import numpy as np
        import onnx
        from onnx.reference import ReferenceEvaluator

        if precision not in (None, "float32"):
            raise RuntimeRefused(
                f"the reference evaluator computes as the file is written; no {precision} hint"
            )
        started = time.perf_counter()
        try:
            proto = onnx.load(str(path))
            bounded = _bounded(ReferenceEvaluator)  # a class per file: a Loop's body runs in its own instance
            evaluator = bounded(proto)
        except Exception as exc:
            raise _refusal(exc, "load") from exc
        loaded = since(started)

        def run(feeds: dict[str, Any]) -> list[Any]:
            bounded.deadline = time.monotonic() + run_limit()
            try:
                return [np.asarray(o) for o in evaluator.run(None, feeds)]
            except RunTimedOut:
                raise
            except Exception as exc:
                if _missing(exc):
                    raise _refusal(exc, "run") from exc
                raise

        return Loaded(
            input_names=[i.name for i in proto.graph.input],
            output_names=[o.name for o in proto.graph.output],
            precision=file_precision(path),
            device="CPU",
            load_seconds=loaded,
            runner=run,
            detail=f"onnx {onnx.__version__}",
        )


def _bounded(base: type) -> type:
    class Bounded(base):  # type: ignore[misc, valid-type]
        deadline = float("inf")

        def run(self, *args: Any, **kwargs: Any) -> Any:
            if time.monotonic() > self.deadline:
                raise RunTimedOut("the reference evaluator", run_limit())
            return super().run(*args, **kwargs)

    return Bounded


def _refusal(exc: BaseException, doing: str) -> RuntimeRefused:
    """The evaluator's words as one line: the op and opset it has no implementation for."""
    import re

    said = re.search(
        r"No implementation for operator '(\w+)' domain '([\w.]*)' and version (\d+)(?:, found ([\d, ]+))?",
        str(exc),
    )
    if said:
        op, domain, version, found = said.groups()
        where = f"{domain} opset" if domain else "opset"
        have = f" (it implements versions {found.strip(', ')})" if found else ""
        return RuntimeRefused(f"the reference evaluator has no {op} for {where} {version}{have}", (op,))
    ops = _missing(exc)
    if ops:
        return RuntimeRefused(f"the reference evaluator has no {', '.join(ops)}", ops)
    return RuntimeRefused(f"the reference evaluator cannot {doing} it: {one_line(str(exc))}")


def _missing(exc: BaseException) -> tuple[str, ...]:
    """The op the evaluator names when it has no implementation for it."""
    import re

    found = re.findall(r"(?:No implementation|not implemented|Unable to instantiate)[^']*'?(\w+)'", str(exc))
    return tuple(dict.fromkeys(found))
