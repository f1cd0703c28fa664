"""The walking skeleton end to end on the real MNIST: train, export, bench; prints a table.

    ZOO_DATA_DIR=DIR_WITH_MNIST_NPZ python benchmarks/skeleton.py [--epochs 1] [--out DIR]

Trains lenet5 and conv-ae through the zoo CLI (one process each, as a user runs them),
exports them, and benchmarks every exported file with ONNX Runtime. Writes
benchmarks/results/skeleton.json and prints Markdown tables with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zoo.runs.atomic import write_json

ZOO = str(Path(sys.executable).with_name("zoo"))
HERE = Path(__file__).resolve().parent


def zoo(*args: str) -> str:
    proc = subprocess.run([ZOO, *args], check=True, capture_output=True, text=True)
    return proc.stdout


def machine() -> str:
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", default="1")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--out", default=None, help="folder for the runs (default: a temporary one)")
    parser.add_argument("--batch-sizes", default="1,32,256,1024")
    options = parser.parse_args()
    out = options.out or tempfile.mkdtemp(prefix="zoo-skeleton-")
    report = {"machine": machine(), "command": " ".join(sys.argv), "architectures": []}
    for name in ("lenet5", "conv-ae"):
        started = time.perf_counter()
        # a constant rate: lenet5's default cosine schedule is meant for 20 epochs, not one
        run = zoo(
            "train", name, "--dataset", options.dataset, "--epochs", options.epochs,
            "--lr-schedule", "constant", "--out", out,
        )  # fmt: skip
        run = run.strip().splitlines()[-1]
        wall = time.perf_counter() - started
        metrics = json.loads((Path(run) / "metrics.json").read_text())
        manifest = json.loads(zoo("export", run, "--json"))
        benches = {
            f["part"]: json.loads(
                zoo(
                    "bench",
                    str(Path(manifest["path"]) / f["file"]),
                    "--provider",
                    "cpu",
                    "--batch-sizes",
                    options.batch_sizes,
                    "--json",
                )
            )
            for f in manifest["files"]
        }
        report["architectures"].append(
            {
                "name": name,
                "run": run,
                "train_wall_s": round(wall, 1),
                "metrics": metrics,
                "export": [
                    {"part": f["part"], "max_abs_diff": f["parity"]["max_abs_diff"]}
                    for f in manifest["files"]
                ],
                "chain_max_abs_diff": manifest["chain"]["max_abs_diff"],
                "bench": {part: b["results"] for part, b in benches.items()},
                "onnxruntime": next(iter(benches.values()))["onnxruntime"],
            }
        )
    write_json(HERE / "results" / "skeleton.json", report)
    print(f"machine: {report['machine']}; dataset {options.dataset}, {options.epochs} epoch(s)\n")
    print("| architecture | test metric | train time (s) | samples/s | max abs diff ONNX vs Keras |")
    print("| --- | --- | --- | --- | --- |")
    for a in report["architectures"]:
        m = a["metrics"]
        metric = f"accuracy {m['test_accuracy']:.4f}" if "test_accuracy" in m else f"MSE {m['test_mse']:.5f}"
        diffs = ", ".join(f"{e['part']} {e['max_abs_diff']:.1e}" for e in a["export"])
        print(
            f"| {a['name']} | {metric} | {m['train_seconds']:.1f} "
            f"| {m['train_samples_per_s']:.0f} | {diffs} |"
        )
    print("\nONNX Runtime CPU provider, p50 latency in ms (samples/s):\n")
    sizes = [int(s) for s in options.batch_sizes.split(",")]
    print("| file | " + " | ".join(f"batch {s}" for s in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for a in report["architectures"]:
        for part, rows in a["bench"].items():
            cells = " | ".join(f"{r['p50_ms']:.3f} ({r['samples_per_s']:,.0f})" for r in rows)
            print(f"| {a['name']} {part} | {cells} |")


if __name__ == "__main__":
    main()
