"""What every ``zoo`` sub-command shares: the registry, warnings, JSON and tables on stdout, and
standard streams that a closed pipe does not stop (``guarded_streams``)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from zoo.core.registry import Registry

# Counts (epochs, batch sizes) far beyond any real run: a typo is refused, not passed to
# TensorFlow to overflow there after minutes of start-up.
MAX_COUNT = 2**31 - 1


class FiniteFloatRange(click.FloatRange):
    """A ``FloatRange`` that also refuses NaN and infinity, which a range check lets through."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def warn(message: str) -> None:
    click.echo(f"zoo: warning: {message}", err=True)


def get_registry(ctx: click.Context) -> Registry:
    """The registry given by the caller (tests), else every installed plugin's."""
    root = ctx.find_root()
    if root.obj is None:
        from zoo.core.host import load_registry

        root.obj = load_registry(warn=warn)
    return root.obj


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2))


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


class _Guarded:
    """A standard stream whose reader may go away (``zoo train ... | head -1``): the first write
    that meets the closed pipe sends the stream to /dev/null, ``on_lost`` says so once, and the
    command goes on. Python ignores SIGPIPE, so the write raised BrokenPipeError instead, deep
    in Keras' progress bar: training stopped, "failed", exit code 1."""

    def __init__(self, stream: Any, on_lost: Callable[[], None], lost: list[bool] | None = None) -> None:
        self._stream = stream
        self._on_lost = on_lost
        self._lost = lost if lost is not None else [False]  # shared with ``buffer``'s guard

    def _lose(self) -> None:
        if self._lost[0]:
            return
        self._lost[0] = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())  # what is still buffered, and the exit's flush, go there
            os.close(devnull)
        self._on_lost()

    def write(self, data: Any) -> int:
        if self._lost[0]:
            return len(data)
        try:
            return self._stream.write(data)
        except BrokenPipeError:
            self._lose()
            return len(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._lost[0]:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._lose()

    @property
    def buffer(self) -> _Guarded:
        return _Guarded(self._stream.buffer, self._on_lost, self._lost)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _say_stdout_closed() -> None:
    with contextlib.suppress(OSError, ValueError):
        warn("stdout was closed (the program reading it ended); zoo goes on without writing to it")


def _open_standard_fds() -> None:
    """Give a standard file descriptor that was closed at start (``zoo ... >&-``) /dev/null: the
    next file opened would take its number otherwise, and stray output would land in it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_RDWR)
                if devnull != fd:
                    os.dup2(devnull, fd)
                    os.close(devnull)


@contextlib.contextmanager
def guarded_streams() -> Iterator[None]:
    """stdout and stderr guarded for the block (``_Guarded``): a closed stdout is said once on
    stderr and the command goes on, its exit code unchanged; a closed stderr is dropped silently."""
    _open_standard_fds()
    # None where the descriptor was closed at start: /dev/null from now on
    out = sys.stdout if sys.stdout is not None else open(os.devnull, "w")  # noqa: SIM115
    err = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
    sys.stdout, sys.stderr = _Guarded(out, _say_stdout_closed), _Guarded(err, lambda: None)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
