"""``zoo bench --isolate``: each batch size measured in a process of its own.

ONNX Runtime keeps the GPU memory of its arena (and the CUDA graphs it captured) until the
process ends, so in one process a cell's memory figure includes every earlier cell's. A child
process per cell starts from nothing; the parent merges the children's reports.

The child runs ``zoo.bench.isolate.main``: it reads one request (JSON: what to measure and the
``BenchSettings``) on stdin and writes one report (JSON) on stdout; an error it can explain is
one line on stderr and exit code 2.

A child never outlives its parent: a signal to the parent (Ctrl-C, SIGTERM, SIGHUP: raised by
``zoo.core.signals``) or any error kills the child before it propagates, and on Linux the child
asks the kernel to SIGKILL it when the parent dies, even by SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
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
        child = _run_child(json.dumps(request))
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


def _run_child(request: str) -> subprocess.CompletedProcess[str]:
    """One child, run to its end; killed (and waited for) if anything, a signal included, ends
    the wait first."""
    with subprocess.Popen(
        [sys.executable, "-c", _child_program()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            out, err = child.communicate(request)
        except BaseException:
            child.kill()
            child.wait()
            raise
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def end_with_parent(parent: int) -> None:
    """Linux: the kernel SIGKILLs this child when its parent dies, however it dies. Called
    first in the child (this module imports nothing of ONNX Runtime)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request above took effect
        os._exit(1)


def _child_program() -> str:
    """The child's program: ``end_with_parent``, then the modules named in ``ZOO_ORT_PRELOAD``
    (a module that sets up ONNX Runtime's GPU libraries on a machine where onnxruntime-gpu was
    carried, see docs/gpu.md), then ``main``."""
    preload = [m.strip() for m in os.environ.get(environment.ORT_PRELOAD, "").split(",") if m.strip()]
    first = f"from zoo.bench import isolate; isolate.end_with_parent({os.getpid()}); "
    return first + "".join(f"import {m}; " for m in preload) + "isolate.main()"


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
