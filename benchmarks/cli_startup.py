"""How long the light commands take from a cold process (median wall time of several runs).

python benchmarks/cli_startup.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from zoo.bench.machine import machine

ZOO = str(Path(sys.executable).with_name("zoo"))
COMMANDS = (["list"], ["list", "--json"], ["info", "lenet5"], ["plugins", "--all"])


def wall_times(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([ZOO, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    rows = []
    for args in COMMANDS:
        times = wall_times(args, options.runs)
        rows.append(
            {
                "command": "zoo " + " ".join(args),
                "median_s": statistics.median(times),
                "min_s": min(times),
                "max_s": max(times),
                "runs": options.runs,
            }
        )
    m = machine()
    machine_text = f"{m['cpu']}, {m['cores']} cores, Python {platform.python_version()}"
    if options.json:
        print(json.dumps({"machine": machine_text, "results": rows}, indent=2))
        return
    print(f"machine: {machine_text}")
    print(f"{'command':<22} {'median s':>9} {'min s':>7} {'max s':>7}")
    for r in rows:
        print(f"{r['command']:<22} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {r['max_s']:>7.3f}")


if __name__ == "__main__":
    main()
