"""A time limit on each inference ``zoo bench`` runs (an ONNX Loop of 10^12 iterations never
ended).

ONNX Runtime stops a run whose ``RunOptions.terminate`` is set from another thread: between
nodes, and inside Loop and Scan between iterations (a single node that never returns is out of
its reach). A ``Watchdog`` is one thread watching every call made through it, which sets that
flag on a call that has run longer than ``ZOO_RUN_TIMEOUT`` seconds (60 by default); the call
fails, and the failure is a ``RunTimedOut`` naming the file and the limit. The limit is per call,
not per timed loop (bench's loops make thousands of calls), and the thread polls, so a call is
stopped between 1 and 1.25 times the limit after it started. A watched call costs a clock read
and two stores more than the call itself (0.1 us; the fastest call measured takes 1.5 us).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from zoo.core import settings
from zoo.core.errors import ModelFileError

# The slowest call in benchmarks/BENCHMARKS.md (fcn's full model at batch 1024 on 2 CPU cores)
# takes 0.42 s: 60 s leaves a model 140 times slower room.
DEFAULT_SECONDS = 60.0
T = TypeVar("T")


class RunTimedOut(ModelFileError):
    """An inference on a file ran past the time limit and was stopped."""


def limit() -> float:
    """Seconds one inference may take: ``ZOO_RUN_TIMEOUT``, else 60."""
    return settings.positive_number(settings.RUN_TIMEOUT, DEFAULT_SECONDS)


class Watchdog:
    """Stops any call made through ``run`` or ``watched`` that runs past ``seconds``; the calls
    pass ``options`` to ONNX Runtime. A context manager: the thread lives inside the ``with``."""

    def __init__(self, path: str | Path, seconds: float | None = None, debug: bool = False) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        self.seconds = limit() if seconds is None else seconds
        self.options = ort.RunOptions()
        # ONNX Runtime's Python run_with_iobinding looks this entry up in any RunOptions given;
        # absent, the lookup raises and catches an exception: 23 us a call (a 2 us call took 25).
        # 0 is what an absent entry means (the CUDA graph a run captures or replays).
        self.options.add_run_config_entry("gpu_graph_id", "0")
        if not debug:
            self.options.log_severity_level = 4  # the stop is reported in one line, not logged too
        self.started: float | None = None  # when the call under way started (time.monotonic)
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="zoo-run-watchdog", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        poll = min(1.0, self.seconds / 4)
        while not self._stop.wait(poll):
            started = self.started
            if started is not None and time.monotonic() - started > self.seconds:
                self.fired = True
                self.options.terminate = True
                return

    def watched(self, call: Callable[[], T], what: str = "") -> Callable[[], T]:
        """``call`` (which passes ``self.options`` to ONNX Runtime), timed by the watchdog."""

        def run() -> T:
            self.started = time.monotonic()
            try:
                return call()
            except Exception as exc:
                if self.fired:
                    raise self.timed_out(what) from exc
                raise
            finally:
                self.started = None

        return run

    def run(self, call: Callable[[], T], what: str = "") -> T:
        return self.watched(call, what)()

    def timed_out(self, what: str) -> RunTimedOut:
        return timed_out("ONNX Runtime", self.path, what, self.seconds)


def timed_out(runtime: str, path: str | Path, what: str, seconds: float, note: str = "") -> RunTimedOut:
    """The one line said when ``runtime`` stopped an inference of ``path`` at the limit."""
    where = f" {what}" if what else ""
    return RunTimedOut(
        f"{runtime} stopped {str(path)!r}{where}: one inference ran past {seconds:g} s"
        f"{note} (raise {settings.RUN_TIMEOUT} for a model this slow)"
    )


def session_run(dog: Watchdog, session: Any, feed: dict[str, Any], what: str = "") -> list[Any]:
    """``session.run`` of every output for ``feed``, stopped past the watchdog's limit."""
    return dog.run(lambda: session.run(None, feed, dog.options), what)
