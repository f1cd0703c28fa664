"""The ``zoo`` command: one module per command group; each parses, calls one function of the
layers below and prints."""

from __future__ import annotations

from zoo.cli.main import cli, main

__all__ = ["cli", "main"]
