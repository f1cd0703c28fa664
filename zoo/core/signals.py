"""SIGINT (Ctrl-C), SIGTERM and SIGHUP: from the moment a command starts, each one ends it as
interrupted, with exit code 128 + the signal's number (130, 143, 129) and what it made complete.

Why the three alike: a terminal's Ctrl-C, the SIGTERM of ``timeout``, systemd or a batch system,
and the SIGHUP of a closed terminal all mean "stop, keep what is done". Python turns only SIGINT
into an exception; the other two killed zoo on the spot, leaving state.json "running", the
run's lock and a temporary file behind. A signal ignored when zoo starts (``nohup``, a
background job of a script) stays ignored.

The handler records the signal before anything else, then acts by the mode of the code it
interrupts:

- ``raise`` (everywhere by default): raises ``Interrupted``, a ``KeyboardInterrupt``, so that
  ``finally`` blocks and ``with`` exits clean up as they do for Ctrl-C;
- ``defer`` (training's epochs, ``deferring``): the first signal asks for a stop after the
  current batch (the training loop reads ``received``); a second one raises: abort;
- ``hold`` (``holding``: the few lines that commit a run folder, or report an error): nothing
  but the record; the code checks it when it is done, or enters ``raising`` where a signal may
  raise again (a new run's training, from the first line that cleans up after one).

The record is what makes a signal impossible to lose: Python runs a handler wherever the main
thread is, also inside a ``__del__`` or a weakref callback, where the exception it raises is
printed and dropped ("Exception ignored in ..."); a Ctrl-C then let training run to its end and
exit 0. ``check`` raises a recorded signal again at the next checkpoint.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

_received: list[int] = []  # the signals of this command, in order
_modes: list[str] = []  # innermost last; empty: "raise"
_installed: dict[int, Any] = {}  # signal -> the handler it had before ``handled``


class Interrupted(KeyboardInterrupt):
    """A signal, raised where the main thread was; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = exit_code(signum)


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by signal ``signum``."""
    return 128 + int(signum)


def name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _handle(signum: int, frame: Any) -> None:
    _received.append(signum)
    mode = _modes[-1] if _modes else "raise"
    if mode == "hold" or (mode == "defer" and len(_received) == 1):
        return
    raise Interrupted(signum)


def received() -> int | None:
    """The first signal this command received, or None."""
    return _received[0] if _received else None


def check() -> None:
    """Raise ``Interrupted`` if a signal came, also one whose exception was dropped."""
    if _received:
        raise Interrupted(_received[0])


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install() -> None:
    for signum in SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN:
            continue  # nohup, a script's background job: the caller wants it ignored
        signal.signal(signum, _handle)
        _installed.setdefault(signum, previous)


def reinstall() -> None:
    """Take the signals back from native code that set handlers of its own (TensorFlow's
    MultiWorkerMirroredStrategy catches SIGTERM, and swallowed it)."""
    if _installed and _on_main_thread():
        for signum in _installed:
            signal.signal(signum, _handle)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """The signals handled as this module says for the block (a whole command); the previous
    handlers come back after it. Off the main thread (where Python allows no handler) a no-op."""
    if not _on_main_thread() or _installed:
        yield
        return
    _received.clear()
    try:
        _install()
        yield
    finally:
        for signum, previous in _installed.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        _installed.clear()
        _received.clear()  # the next command (a test's next call, in one process) starts afresh


@contextlib.contextmanager
def _mode(mode: str) -> Iterator[None]:
    _modes.append(mode)
    try:
        yield
    finally:
        _modes.pop()


def raising() -> contextlib.AbstractContextManager[None]:
    """The default, inside a ``holding`` block: a signal raises ``Interrupted``."""
    return _mode("raise")


def deferring() -> contextlib.AbstractContextManager[None]:
    """The first signal only asks for a stop (``received``); a second one raises."""
    return _mode("defer")


def holding() -> contextlib.AbstractContextManager[None]:
    """Signals are only recorded; ``check`` after the block raises them."""
    return _mode("hold")
