"""OpenVINO beside ONNX Runtime in ``zoo bench``: a file on OpenVINO's CPU device, timed with
its inputs set once on an infer request of its own (nothing copied in or out, as ONNX Runtime's
IO binding on the CPU), with the device and the precision read back from the compiled model.

OpenVINO's CPU plugin computes a float32 file in bfloat16 by default on a CPU with AVX-512 BF16
or AMX, and says nothing; the precision it really used is read back (by ``zoo.runtimes``, from
the layers the compiled model executes: ``bfloat16+float32`` where only the heavy ones were
lowered) and is on every row. ``--precision float32`` asks for float32.

The file is loaded through ``zoo.runtimes`` (its one-line refusals, the precision read back, the
load time). ``Loaded`` does not hand out OpenVINO's compiled model, which timing without copies
needs, so ``_compile`` compiles the file a second time with the same precision hint (a stopgap
until ``Loaded`` offers a timed call).

Time limit: each inference waits at most ``ZOO_RUN_TIMEOUT`` seconds (``InferRequest.wait_for``),
then is cancelled (``InferRequest.cancel``). OpenVINO's CPU plugin stops between the graph's
nodes, not inside one: a Loop runs its iterations to the end. A request still running after the
cancel is kept referenced for good, never destroyed: its destructor would wait for the Loop, and
the process's exit with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.bench.feeds import Declared, declared_inputs
from zoo.bench.measure import row
from zoo.bench.sessions import check_file
from zoo.bench.settings import BenchSettings
from zoo.bench.timing import time_calls
from zoo.bench.watchdog import limit, timed_out
from zoo.core.errors import InvalidOption, ModelFileError, ZooError
from zoo.runs.onnx_trust import check_external_data
from zoo.runtimes.openvino import cancel, wait_ms

RUNTIME = "openvino"
DEVICE = "CPU"


def unavailable_error() -> InvalidOption | None:
    """Why ``--runtime openvino`` cannot run here (not installed: the pip line), or None."""
    import zoo.runtimes

    reason = zoo.runtimes.get(RUNTIME).unavailable()
    return InvalidOption(f"--runtime openvino cannot be used: {reason}") if reason else None


@dataclass
class OpenVinoModel:
    """One file compiled by OpenVINO at one requested precision, and what it really runs with."""

    path: Path
    requested: str  # "default" (OpenVINO's own choice) or the precision asked for
    precision: str  # what OpenVINO computes in, read back from the compiled model
    compiled: Any
    inputs: list[Declared]
    load_ms: float  # reading and compiling the file (zoo.runtimes' load)

    @property
    def device(self) -> str:
        """The devices OpenVINO really runs the model on (``EXECUTION_DEVICES``), ``+``-joined."""
        return "+".join(str(d) for d in self.compiled.get_property("EXECUTION_DEVICES"))

    @property
    def suffix(self) -> str:
        """What a row's method adds for a precision asked for: `` float32``; nothing by default."""
        return "" if self.requested == "default" else f" {self.requested}"

    def config(self) -> dict[str, Any]:
        """The compiled model's settings that change the numbers, read back."""
        get = self.compiled.get_property
        return {
            "performance_hint": str(get("PERFORMANCE_HINT")),
            "inference_num_threads": int(get("INFERENCE_NUM_THREADS")),
            "num_streams": int(get("NUM_STREAMS")),
        }

    def bound_call(self, feed: dict[str, np.ndarray], what: str) -> Callable[[], None]:
        """One inference on ``feed``, set once on a request of its own in shared memory (no copy
        in; the outputs stay in the request's tensors)."""
        import openvino as ov

        request = self.compiled.create_infer_request()
        arrays = {name: np.ascontiguousarray(array) for name, array in feed.items()}
        try:
            for name, array in arrays.items():
                request.set_tensor(name, ov.Tensor(array, shared_memory=True))
        except Exception as exc:
            raise self._failed(exc, what) from exc

        return _BoundCall(self, request, what, arrays)

    def run(self, feed: dict[str, np.ndarray], what: str) -> dict[str, np.ndarray]:
        """Every output, by name, for ``feed`` (copied in and out, as ``session.run``)."""
        import openvino as ov

        request = self.compiled.create_infer_request()
        try:
            for name, array in feed.items():
                request.set_tensor(name, ov.Tensor(np.array(array, copy=True, order="C")))
        except Exception as exc:
            raise self._failed(exc, what) from exc
        self._infer(request, what)
        return {
            out.get_any_name(): np.array(request.get_tensor(out).data, copy=True)
            for out in self.compiled.outputs
        }

    def _infer(self, request: Any, what: str) -> None:
        seconds = limit()
        try:
            request.start_async()
            done = request.wait_for(wait_ms(seconds))
        except Exception as exc:
            raise self._failed(exc, what) from exc
        if not done:
            raise self._stop(request, what, seconds)

    def _stop(self, request: Any, what: str, seconds: float) -> ZooError:
        """Cancel ``request``; one still running inside a node is kept for good (see above)."""
        note = ""
        if cancel(request, self.compiled):
            note = "; OpenVINO cannot stop it inside a node (a Loop): zoo leaves it and exits without waiting"
        return timed_out("OpenVINO", self.path, what, seconds, note)

    def _failed(self, exc: BaseException, what: str) -> ModelFileError:
        from zoo.runtimes.openvino import refusal

        return ModelFileError(f"OpenVINO cannot run {str(self.path)!r} {what}: {refusal(exc, 'run').reason}")


@dataclass
class _BoundCall:
    """A request with its inputs set; it holds the arrays whose memory the input tensors share."""

    model: OpenVinoModel
    request: Any
    what: str
    arrays: dict[str, np.ndarray]

    def __call__(self) -> None:
        self.model._infer(self.request, self.what)


def open_openvino(path: str | Path, requested: str = "default") -> OpenVinoModel:
    """``path`` compiled on OpenVINO's CPU device at ``requested`` precision (``default``: its own
    choice); the same checks before any read as an ONNX Runtime session (external data inside the
    file's folder), and OpenVINO's refusal in one line."""
    import zoo.runtimes
    from zoo.runtimes import RuntimeRefused

    path = Path(path)
    check_file(path)
    check_external_data(path)
    if error := unavailable_error():
        raise error
    hint = None if requested == "default" else requested
    try:
        loaded = zoo.runtimes.get(RUNTIME).load(path, hint)
    except RuntimeRefused as exc:
        raise ModelFileError(f"{str(path)!r} in OpenVINO: {exc.reason}") from exc
    compiled = _compile(path, hint)
    inputs = declared_inputs(path) or []
    return OpenVinoModel(
        path, requested, loaded.precision, compiled, inputs, round(loaded.load_seconds * 1e3, 3)
    )


def _compile(path: Path, precision: str | None) -> Any:
    """OpenVINO's compiled model of ``path``, as ``zoo.runtimes.openvino`` compiles it."""
    import openvino as ov

    from zoo.runtimes.openvino import DEVICE as RUNTIMES_DEVICE
    from zoo.runtimes.openvino import HINTS

    config = {} if precision is None else {"INFERENCE_PRECISION_HINT": HINTS[precision]}
    return ov.Core().compile_model(str(path), RUNTIMES_DEVICE, config)


def measure_openvino(
    model: OpenVinoModel, feed: dict[str, np.ndarray], settings: BenchSettings, method: str
) -> list[dict[str, Any]]:
    """The row of ``model`` at ``feed``: IO ``bound`` (inputs set once, nothing copied), the
    first inference at this shape apart (OpenVINO prepares a dynamic shape on first sight)."""
    batch = len(next(iter(feed.values())))
    what = f"at batch {batch}"
    call = model.bound_call(feed, what)
    start = time.perf_counter()
    call()
    first_ms = (time.perf_counter() - start) * 1e3
    latencies = time_calls(call, settings.seconds, settings.min_runs, settings.warmup)
    return [
        row(
            method,
            "bound",
            batch,
            latencies,
            session_create_ms=model.load_ms,
            first_run_ms=round(first_ms, 3),
            runtime=RUNTIME,
            precision=model.precision,
        )
    ]


def openvino_report(models: list[OpenVinoModel], file_precision: str) -> dict[str, Any] | None:
    """The report's ``openvino`` object (docs/bench-json.md); None when OpenVINO was not timed."""
    if not models:
        return None
    import openvino as ov

    core = ov.Core()
    used: dict[str, list[str]] = {}
    for model in models:
        used.setdefault(model.requested, [])
        if model.precision not in used[model.requested]:
            used[model.requested].append(model.precision)
    return {
        "version": ov.__version__.split("-")[0],
        "device": models[0].device,
        "device_name": str(core.get_property(DEVICE, "FULL_DEVICE_NAME")),
        "file_precision": file_precision,
        "precisions": [{"requested": r, "used": ", ".join(p)} for r, p in used.items()],
        "config": models[0].config(),
    }
