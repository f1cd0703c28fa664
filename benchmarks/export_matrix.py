"""Every built-in architecture exported in every layout and precision: file sizes and measured
differences, per architecture, part, layout and precision. Prints Markdown; writes
benchmarks/results/export_matrix.json.

    python benchmarks/export_matrix.py [--only lenet5,conv-ae] [--epochs 1] [--dataset mnist-sample]

Each architecture is trained briefly on the embedded MNIST sample (so its numbers are those of
a model that has learnt something), then exported with zoo's exporter in NHWC and NCHW, each
in float32, float16, int8 static and int8 dynamic. Float32 files are compared with Keras (max
absolute difference, judged by zoo's comparison rule: 1e-5 plus 1e-5 of the output's
largest value); the others by their task metric on the test images
against float32 Keras, as the exporter judges them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.bench.machine import machine  # noqa: E402
from zoo.core.errors import ZooError  # noqa: E402
from zoo.core.host import load_registry  # noqa: E402
from zoo.export.orchestrate import export_run  # noqa: E402
from zoo.runs.atomic import write_json  # noqa: E402
from zoo.training.train import TrainRequest, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
COMBINATIONS = [
    (layout, precision)
    for layout in ("nhwc", "nchw")
    for precision in ("fp32", "fp16", "int8-static", "int8-dynamic")
]


def options(layout: str, precision: str) -> dict:
    if precision.startswith("int8"):
        return {"layout": layout, "quantize": precision.split("-")[1]}
    return {"layout": layout, "dtype": precision}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dataset", default="mnist-sample")
    options_ = parser.parse_args()
    registry = load_registry()
    names = (
        options_.only.split(",")
        if options_.only
        else sorted(
            n
            for n, s in registry.architectures.items()
            if s.plugin in {"lenet", "autoencoders", "cnn", "fcn"}
        )
    )
    out = Path(tempfile.mkdtemp(prefix="zoo-export-matrix-"))
    rows, failures = [], []
    for name in names:
        request = TrainRequest(name, dataset=options_.dataset, epochs=options_.epochs, out=out)
        run = train(registry, request, verbose=0).path
        for layout, precision in COMBINATIONS:
            started = time.perf_counter()
            try:
                result = export_run(registry, run, options=options(layout, precision))
            except ZooError as exc:
                failures.append(
                    {"architecture": name, "layout": layout, "precision": precision, "error": str(exc)}
                )
                print(f"{name} {layout} {precision}: FAILED {exc}", flush=True)
                continue
            seconds = time.perf_counter() - started
            for f in result.manifest["files"]:
                metric = f["parity"].get("metric")
                rows.append(
                    {
                        "architecture": name,
                        "part": f["part"],
                        "layout": layout.upper(),
                        "precision": precision,
                        "bytes": f["bytes"],
                        "max_abs_diff": f["parity"]["max_abs_diff"],
                        "metric": metric,
                        "export_seconds": round(seconds, 1),
                    }
                )
            print(f"{name} {layout} {precision}: ok in {seconds:.1f} s", flush=True)
    report = {
        "machine": machine(),
        "command": "python benchmarks/export_matrix.py " + " ".join(sys.argv[1:]),
        "trained": f"{options_.epochs} epoch(s) on {options_.dataset}",
        "rows": rows,
        "failures": failures,
    }
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "export_matrix.json", report)
    print(f"\nmachine: {report['machine']['cpu']}, {report['machine']['cores']} cores\n")
    header = [
        "architecture",
        "part",
        "layout",
        "precision",
        "KiB",
        "max abs diff vs Keras",
        "metric: fp32 -> this",
    ]
    print("| " + " | ".join(header) + " |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        m = r["metric"]
        change = (
            "-" if not m else f"{m['name']} {m['float32_keras']:.4g} -> {m[r['precision'].split('-')[0]]:.4g}"
        )
        cells = [r["architecture"], r["part"], r["layout"], r["precision"], f"{r['bytes'] / 1024:,.0f}"]
        print("| " + " | ".join([*cells, f"{r['max_abs_diff']:.2e}", change]) + " |")
    if failures:
        print(f"\n{len(failures)} combinations failed:")
        for f in failures:
            print(f"- {f['architecture']} {f['layout']} {f['precision']}: {f['error']}")


if __name__ == "__main__":
    main()
