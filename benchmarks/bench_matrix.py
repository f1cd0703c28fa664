"""The CPU inference matrix: every built-in architecture, every exported part and the chain,
ONNX Runtime beside the run's Keras model, at several batch sizes. Prints Markdown; writes
benchmarks/results/bench_matrix_cpu.json.

    python benchmarks/bench_matrix.py [--only lenet5,conv-ae] [--batch-sizes 1,32,256] [--seconds 1]

Each architecture is trained one epoch on the embedded MNIST sample (speed does not depend on
what was learnt), exported with zoo's defaults, and measured with `zoo bench RUN_DIR --against
keras` in this process: the same inputs (the run's test samples) for every method.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.atomic import write_json  # noqa: E402
from zoo.sessions import SessionSettings  # noqa: E402
from zoo.bench_run import bench_run  # noqa: E402
from zoo.export import export_run  # noqa: E402
from zoo.host import load_registry  # noqa: E402
from zoo.train import TrainRequest, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
BUILTIN_PLUGINS = {"lenet", "autoencoders", "cnn", "fcn"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="")
    parser.add_argument("--batch-sizes", default="1,32,256")
    parser.add_argument("--seconds", type=float, default=1.0)
    options = parser.parse_args()
    registry = load_registry()
    names = (
        options.only.split(",")
        if options.only
        else sorted(n for n, s in registry.architectures.items() if s.plugin in BUILTIN_PLUGINS)
    )
    batches = tuple(int(b) for b in options.batch_sizes.split(","))
    out = Path(tempfile.mkdtemp(prefix="zoo-bench-matrix-"))
    reports = {}
    for name in names:
        run = train(registry, TrainRequest(name, dataset="mnist-sample", epochs=1, out=out), verbose=0).path
        export_run(registry, run)
        report = bench_run(
            run,
            provider="cpu",
            batch_sizes=batches,
            seconds=options.seconds,
            settings=SessionSettings(),
            against_keras=True,
            registry=registry,
        )
        reports[name] = report
        print(name, report.get("speedup_over_keras_tf_function"), flush=True)
    machine = next(iter(reports.values()))["machine"] if reports else {}
    RESULTS.mkdir(exist_ok=True)
    write_json(
        RESULTS / "bench_matrix_cpu.json",
        {"command": "python benchmarks/bench_matrix.py " + " ".join(sys.argv[1:]), "reports": reports},
    )
    print(f"\nmachine: {machine.get('cpu')}, {machine.get('cores')} cores; onnxruntime CPU provider\n")
    header = [
        "architecture",
        "method",
        *[f"p50 ms @{b}" for b in batches],
        *[f"samples/s @{b}" for b in batches],
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for name, report in reports.items():
        methods: dict[str, dict[int, dict]] = {}
        for row in report["rows"]:
            methods.setdefault(row["method"], {})[row["batch_size"]] = row
        for method, cells in methods.items():
            p50 = [f"{cells[b]['p50_ms']:.3f}" if b in cells else "-" for b in batches]
            rate = [f"{cells[b]['samples_per_s']:,.0f}" if b in cells else "-" for b in batches]
            print("| " + " | ".join([name, method, *p50, *rate]) + " |")
    print("\nONNX Runtime's full model against Keras' tf.function (p50 ratio):\n")
    print("| architecture | " + " | ".join(f"batch {b}" for b in batches) + " |")
    print("|" + " --- |" * (len(batches) + 1))
    for name, report in reports.items():
        ratios = report.get("speedup_over_keras_tf_function", {})
        print(f"| {name} | " + " | ".join(f"{ratios.get(str(b), '-')}x" for b in batches) + " |")


if __name__ == "__main__":
    main()
