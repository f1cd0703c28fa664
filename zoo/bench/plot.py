"""``zoo bench --plot``: latency and throughput against batch size, a line per method.

Drawn like the run folder's plots (``zoo.runs.plots``: a pyplot-free figure, written atomically).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.runs import plots


def bench_png(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], title: str) -> Path:
    """Latency (p50, with p90 as a band edge) and throughput against batch size, one line per
    method (``row["method"]``), both axes logarithmic."""
    fig = plots.figure(11, 4.2)
    latency, throughput = fig.subplots(1, 2)
    methods: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        methods.setdefault(str(row.get("method", "onnxruntime")), []).append(row)
    for method, points in methods.items():
        points = sorted(points, key=lambda r: r["batch_size"])
        batches = [p["batch_size"] for p in points]
        (line,) = latency.plot(batches, [p["p50_ms"] for p in points], marker="o", label=method)
        if all("p90_ms" in p for p in points):
            latency.fill_between(
                batches,
                [p["p50_ms"] for p in points],
                [p["p90_ms"] for p in points],
                color=line.get_color(),
                alpha=0.15,
            )
        throughput.plot(batches, [p["samples_per_s"] for p in points], marker="o", label=method)
    for ax, label in (
        (latency, "latency per call, ms (p50; band to p90)"),
        (throughput, "samples per second"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = latency.get_legend_handles_labels()  # below both panels, over no data
    fig.legend(handles, labels, loc="outside lower center", ncol=min(3, len(labels)), fontsize=8)
    fig.suptitle(title)
    return plots.save(fig, path)
