"""The ``zoo`` command group: its options, and how errors reach the user.

Each command lives in the module of its group (catalog, train, export, bench) and is added
here. Errors a user can act on (``ZooError``, bad options) are one line on stderr with exit code 2;
so is an ``OSError`` the user can fix (a full disk, a read-only folder: ``USER_ERRNOS``), named
with its path, and any failure where the current folder was deleted. An exception from a
plugin's code is ``zoo: error in plugin 'NAME' (module:attr): ...``, exit code 1; anything else
is an internal error (a bug in zoo), exit code 1. ``--debug`` shows the traceback.

SIGINT, SIGTERM and SIGHUP are handled from the start of a command to its end
(``zoo.core.signals``): one line, ``zoo: interrupted`` (or the run's own line), exit code 128 +
the signal's number. A closed stdout is said once and the command goes on (``output.guarded_streams``).
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Sequence
from typing import Any

import click

from zoo import __version__
from zoo.cli import bench, catalog, export, plugins, train
from zoo.cli.output import guarded_streams, warn
from zoo.core import settings, signals
from zoo.core.errors import USER_ERRNOS, PluginCodeError, ZooError

MAX_MESSAGE = 400  # an exception may carry a whole tensor; a message is for reading
# zoo.runs.atomic's temporary names: .STEM.XXXXXXXX.tmp.EXT beside a file, .NAME.XXXXXXXX.tmp a folder
_TEMPORARY_FILE = re.compile(r"^\.(?P<stem>.+)\.[a-z0-9_]{8}\.tmp(?P<suffix>\.\w+)?$")
CWD_GONE = (
    "the current folder no longer exists (deleted or moved); cd to a folder that exists, "
    "or give absolute paths"
)


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


def _cwd_gone() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def _shown_path(filename: Any) -> str | None:
    """The path a user knows for ``filename``: the final name of a temporary one, the folder
    of a lock file."""
    if filename is None:
        return None
    path = os.fsdecode(filename) if isinstance(filename, (str, bytes, os.PathLike)) else str(filename)
    folder, base = os.path.split(path)
    match = _TEMPORARY_FILE.match(base)
    if match:
        return os.path.join(folder, match["stem"] + (match["suffix"] or ""))
    if base == ".lock" or (base.startswith(".") and base.endswith(".lock")):
        return folder or "."
    parent, folder_name = os.path.split(folder)
    match = _TEMPORARY_FILE.match(folder_name)
    if match and not match["suffix"]:  # a file inside a temporary folder
        return os.path.join(parent, match["stem"], base)
    return path


def os_error_line(exc: OSError) -> str:
    """``strerror: 'path'`` and the notes the code on the way added (what is kept, what next)."""
    path = _shown_path(exc.filename)
    line = exc.strerror or str(exc)
    if path:
        line += f": {path!r}"
    notes = [str(note) for note in getattr(exc, "__notes__", ())]
    return "; ".join([line, *notes])


def _interrupted_code(exc: BaseException) -> int:
    signum = getattr(exc, "signum", None) or signals.received() or signal.SIGINT
    said = "zoo: interrupted" if signum == signal.SIGINT else f"zoo: interrupted ({signals.name(signum)})"
    click.echo(said, err=True)
    return signals.exit_code(signum)


def report(exc: BaseException, debug: bool, cwd_gone: bool) -> int:
    """Say what ended the command, in one line on stderr; its exit code."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 0
    if isinstance(exc, click.ClickException):
        click.echo(f"zoo: error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    if isinstance(exc, (click.Abort, KeyboardInterrupt)):
        return _interrupted_code(exc)
    if not isinstance(exc, Exception) or debug:
        raise exc
    if isinstance(exc, ZooError):
        # "zoo: error in plugin 'x' (module:attr): ..." says whose bug it is by itself
        label = "" if isinstance(exc, PluginCodeError) else "error: "
        gone = " (the current folder no longer exists)" if cwd_gone else ""
        click.echo(f"zoo: {label}{_one_line(str(exc))}{gone}", err=True)
        return exc.exit_code
    if cwd_gone:
        click.echo(f"zoo: error: {CWD_GONE}", err=True)
        return 2
    if isinstance(exc, OSError) and exc.errno in USER_ERRNOS:
        click.echo(f"zoo: error: {_one_line(os_error_line(exc))}", err=True)
        return 2
    click.echo(
        f"zoo: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
        "(run with --debug for the traceback)",
        err=True,
    )
    return 1


class _Interruption(BaseException):
    """A ``KeyboardInterrupt`` carried past click, which would print a blank line (closing a
    terminal's ``^C``) and turn it into ``Abort``: the line is printed only for a Ctrl-C at a
    terminal, and the signal's number is kept for the exit code."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__()
        self.interrupt = interrupt


class ZooGroup(click.Group):
    """A click group whose errors are one line on stderr, never a traceback unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            with signals.holding():
                signum = getattr(exc, "signum", None) or signals.received() or signal.SIGINT
                if signum == signal.SIGINT and sys.stderr.isatty():
                    click.echo(err=True)
                raise _Interruption(exc) from None

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        # ZOO_STRICT_PLUGINS is for plugin authors: they get their plugin's traceback.
        debug = "--debug" in args or settings.flag(settings.DEBUG) or settings.flag(settings.STRICT_PLUGINS)
        standalone = extra.pop("standalone_mode", True)
        with signals.handled(), guarded_streams():
            code = self._run(args, prog_name, debug, extra)
        if standalone:
            sys.exit(code)
        return code

    def _run(self, args: list[str], prog_name: str | None, debug: bool, extra: dict[str, Any]) -> int:
        cwd_gone = _cwd_gone()
        try:
            code = super().main(args=args, prog_name=prog_name or "zoo", standalone_mode=False, **extra)
        except BaseException as exc:
            with signals.holding():  # the one line is said whatever comes now
                return report(exc.interrupt if isinstance(exc, _Interruption) else exc, debug, cwd_gone)
        with signals.holding():
            code = code if isinstance(code, int) else 0
            signum = signals.received()
            if code == 0 and signum is not None:  # its exception was dropped, or it came at the very end
                said = f"zoo: interrupted ({signals.name(signum)}) as it ended; what it made is complete"
                click.echo(said, err=True)
                return signals.exit_code(signum)
            return code


@click.group(cls=ZooGroup, no_args_is_help=True)
@click.version_option(__version__, prog_name="zoo")
@click.option("--debug", is_flag=True, help="Show tracebacks and ONNX Runtime's own log.")
@click.option(
    "--unsafe-load-code",
    is_flag=True,
    help="Load model.keras files that carry Python code (Lambda layers) and run it: only for "
    "files you trust [env: ZOO_UNSAFE_LOAD_CODE=1].",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, unsafe_load_code: bool) -> None:
    """zoo: Keras architectures from plugins, trained, exported to ONNX and benchmarked."""
    ctx.meta["zoo.debug"] = debug
    if debug:
        os.environ[settings.DEBUG] = "1"  # read by the layers below (keras_env)
    ctx.meta["zoo.unsafe_load_code"] = unsafe_load_code or settings.flag(settings.UNSAFE_LOAD_CODE)
    if ctx.meta["zoo.unsafe_load_code"]:
        os.environ[settings.UNSAFE_LOAD_CODE] = "1"  # read by zoo.training.models.load_run_model
        warn(
            "--unsafe-load-code: Keras models load outside safe mode, so code in a model file runs; "
            "use it only with files you trust"
        )


for module in (catalog, plugins, train, export, bench):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli()
