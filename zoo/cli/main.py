"""The ``zoo`` command group: its options, and how errors reach the user.

Each command lives in the module of its group (catalog, train, export, bench) and is added
here. Errors a user can act on (``ZooError``, bad options) are one line on stderr with exit code 2;
an exception from a plugin's code is ``zoo: error in plugin 'NAME' (module:attr): ...``, exit code
1; anything else is an internal error (a bug in zoo), exit code 1. ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from zoo import __version__
from zoo.cli import bench, catalog, export, plugins, train
from zoo.cli.output import warn
from zoo.core import settings
from zoo.core.errors import PluginCodeError, ZooError

MAX_MESSAGE = 400  # an exception may carry a whole tensor; a message is for reading


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 1] + "…"


class ZooGroup(click.Group):
    """A click group whose errors are one line on stderr, never a traceback unless --debug."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        # ZOO_STRICT_PLUGINS is for plugin authors: they get their plugin's traceback.
        debug = "--debug" in args or settings.flag(settings.DEBUG) or settings.flag(settings.STRICT_PLUGINS)
        standalone = extra.pop("standalone_mode", True)
        try:
            code = super().main(args=args, prog_name=prog_name or "zoo", standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            code = 0
        except click.ClickException as exc:
            click.echo(f"zoo: error: {_one_line(exc.format_message())}", err=True)
            code = exc.exit_code
        except ZooError as exc:
            if debug:
                raise
            # "zoo: error in plugin 'x' (module:attr): ..." says whose bug it is by itself
            label = "" if isinstance(exc, PluginCodeError) else "error: "
            click.echo(f"zoo: {label}{_one_line(str(exc))}", err=True)
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            click.echo("zoo: interrupted", err=True)
            code = 130
        except Exception as exc:
            if debug:
                raise
            click.echo(
                f"zoo: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                "(run with --debug for the traceback)",
                err=True,
            )
            code = 1
        code = code if isinstance(code, int) else 0
        if standalone:
            sys.exit(code)
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
