"""What every ``zoo`` sub-command shares: the registry, warnings, JSON and tables on stdout."""

from __future__ import annotations

import json
import math
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
