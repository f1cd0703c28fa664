"""``zoo bench --tune``: every configuration that matters, timed side by side, the best recorded.

On a GPU: cuDNN's algorithm search (heuristic, exhaustive, default), NHWC preference, CUDA
graph and TF32, with inputs and outputs bound on the device. On the CPU: intra-op threads,
graph optimization level, IO binding and thread spinning. The report gives, per batch size, the
fastest configuration and how far zoo's defaults are from it, so the defaults are checked by
measurement rather than trusted.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from zoo.bench.feeds import input_feed, run_samples
from zoo.bench.measure import measure
from zoo.bench.report import SCHEMA, now, session_report
from zoo.bench.sessions import open_session
from zoo.bench.settings import BenchSettings, SessionSettings

# The row each configuration is judged by: the compute, without host copies where they are apart.
_COMPARED_IO = ("device", "bound", "numpy")


def grid(provider: str, cores: int | None = None) -> list[SessionSettings]:
    """The configurations tried on ``provider`` (short name of the provider really used)."""
    base = SessionSettings()
    if provider == "cpu":
        cores = cores or os.cpu_count() or 1
        threads = sorted({0, 1, cores})
        return [
            replace(base, threads=t, optimization=o, io_binding=io, spinning=spin)
            for t, o, io, spin in itertools.product(
                threads, ("basic", "extended", "all"), (False, True), (True, False)
            )
        ]
    return [
        replace(base, conv_algo=a, prefer_nhwc=n, cuda_graph=g, tf32=t, io_binding=True)
        for a, n, g, t in itertools.product(
            ("heuristic", "exhaustive", "default"), (True, False), (True, False), (True, False)
        )
    ]


def _compared(rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_io = {r["io"]: r for r in rows}
    return next(by_io[io] for io in _COMPARED_IO if io in by_io)


def tune(model: str | Path, settings: BenchSettings | None = None) -> dict[str, Any]:
    """Time every configuration of ``grid`` at each batch size; JSON-able. ``settings.session``
    is ignored: the grid replaces it, zoo's defaults (``SessionSettings()``) among them."""
    settings = replace(settings or BenchSettings(), session=SessionSettings())
    defaults = open_session(model, settings)
    # Every configuration on the provider the defaults got; a graph with nodes on the CPU only
    # gets a GPU session under auto (a strict cuda session refuses it).
    used = replace(settings, provider="auto" if defaults.cpu_nodes else defaults.provider)
    samples = run_samples(Path(model))
    configurations = grid(defaults.provider)
    cells = []
    for session in configurations:
        is_default = session == SessionSettings()
        opened = defaults if is_default else open_session(model, replace(used, session=session))
        for batch in settings.batch_sizes:
            feed = input_feed(opened.session, batch, sizes=settings.sizes, samples=samples)
            compared = _compared(measure(opened, feed, settings))
            cells.append(
                {
                    "settings": opened.settings.recorded(opened.provider),
                    "batch_size": batch,
                    "io": compared["io"],
                    "p50_ms": compared["p50_ms"],
                    "samples_per_s": compared["samples_per_s"],
                    "zoo_defaults": is_default,
                }
            )
    best, verdicts = [], []
    for batch in settings.batch_sizes:
        at_batch = [c for c in cells if c["batch_size"] == batch]
        fastest = min(at_batch, key=lambda c: c["p50_ms"])
        default = next(c for c in at_batch if c["zoo_defaults"])
        best.append(fastest)
        verdicts.append(
            {
                "batch_size": batch,
                "defaults_p50_ms": default["p50_ms"],
                "best_p50_ms": fastest["p50_ms"],
                "defaults_over_best": round(default["p50_ms"] / fastest["p50_ms"], 3),
            }
        )
    return {
        "schema": SCHEMA,
        "kind": "tune",
        "model": str(model),
        **session_report(defaults),
        "zoo_defaults": asdict(SessionSettings()),
        "seconds_per_cell": settings.seconds,
        "configurations": len(configurations),
        "cells": cells,
        "best": best,
        "defaults": verdicts,
        "measured": now(),
    }
