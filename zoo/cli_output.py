"""What every ``zoo`` sub-command shares: the registry, warnings, JSON and tables on stdout."""

from __future__ import annotations

import json
from typing import Any

import click

from zoo.registry import Registry


def warn(message: str) -> None:
    click.echo(f"zoo: warning: {message}", err=True)


def get_registry(ctx: click.Context) -> Registry:
    """The registry given by the caller (tests), else every installed plugin's."""
    root = ctx.find_root()
    if root.obj is None:
        from zoo.host import load_registry

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
