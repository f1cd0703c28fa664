"""``zoo bench --isolate``: each batch size measured in a process of its own.

ONNX Runtime keeps the GPU memory of its arena (and the CUDA graphs it captured) until the
process ends, so in one process a cell's memory figure includes every earlier cell's. A child
process per cell starts from nothing; the parent merges the children's reports.

The child runs ``zoo.bench.isolate.main``: it reads one request (JSON: what to measure and the
``BenchSettings``) on stdin and writes one report (JSON) on stdout; an error it can explain is
one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from typing import Any

from zoo.bench.settings import BenchSettings
from zoo.core import settings as environment
from zoo.core.errors import ZooError


class CellFailed(ZooError):
    """A child process measuring one cell failed."""


def isolated(kind: str, target: str, settings: BenchSettings, against_keras: bool = False) -> dict[str, Any]:
    """The report of ``kind`` (``file`` or ``run``) of ``target``, a child per batch size."""
    reports = []
    for batch in settings.batch_sizes:
        cell = replace(settings, batch_sizes=(batch,))
        request = {"kind": kind, "target": target, "settings": cell.to_json(), "against_keras": against_keras}
        child = subprocess.run(
            [sys.executable, "-c", _child_program()],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            lines = [ln for ln in child.stderr.strip().splitlines() if ln.strip()]
            reason = lines[-1].removeprefix("zoo: error: ") if lines else f"exit code {child.returncode}"
            raise CellFailed(f"the process measuring batch size {batch} failed: {reason}")
        reports.append(json.loads(child.stdout))
    merged = reports[0]
    merged["rows"] = [row for report in reports for row in report["rows"]]
    merged["isolated"] = True
    merged["peak_rss_mib"] = max(report["peak_rss_mib"] for report in reports)
    if "speedup_over_keras_tf_function" in merged:
        merged["speedup_over_keras_tf_function"] = {
            k: v for report in reports for k, v in report["speedup_over_keras_tf_function"].items()
        }
    return merged


def _child_program() -> str:
    """The child's program: the modules named in ``ZOO_ORT_PRELOAD`` first (a module that sets
    up ONNX Runtime's GPU libraries on a machine where onnxruntime-gpu was carried, see
    docs/gpu.md), then ``main``."""
    preload = [m.strip() for m in os.environ.get(environment.ORT_PRELOAD, "").split(",") if m.strip()]
    return "".join(f"import {m}; " for m in preload) + "from zoo.bench.isolate import main; main()"


def measure_cell(request: dict[str, Any]) -> dict[str, Any]:
    """The report of one cell, in this process."""
    settings = BenchSettings.from_json(request["settings"])
    if request["kind"] == "file":
        from zoo.bench.file import bench

        return bench(request["target"], settings)
    from zoo.bench.run import bench_run

    registry = None
    if request.get("against_keras"):
        from zoo.core.host import load_registry

        registry = load_registry()
    return bench_run(
        request["target"], settings, against_keras=bool(request.get("against_keras")), registry=registry
    )


def main() -> None:
    request = json.loads(sys.stdin.read())
    try:
        report = measure_cell(request)
    except ZooError as exc:
        print(f"zoo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(exc.exit_code)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
