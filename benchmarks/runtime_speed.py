"""OpenVINO against ONNX Runtime on this machine's CPU, side by side on the same files and inputs:
LeNet-5 and the conv-ae halves at several batch sizes, OpenVINO at its default precision and at
float32. Prints a Markdown table and the JSON; writes benchmarks/results/runtime_speed.json.

    python benchmarks/runtime_speed.py [--batch-sizes 1,64,1024] [--repeats 5] [--seconds 1]
                                       [--runs DIR]

Each architecture is trained one epoch on the embedded MNIST sample (speed does not depend on
what was learnt) and exported with zoo's defaults (``--runs DIR`` reuses the runs in DIR). Every
file is then measured ``--repeats`` times by ``zoo bench FILE --runtime ...,... --precision
default,float32 --json``, each a process of its own: at each batch size the same feed (the run's
test samples, repeated up to the batch size) goes to ONNX Runtime (CPU provider, zoo's session
defaults: IO binding) and to OpenVINO (CPU device, inputs set once on its infer request), one
after the other; the order of the two runtimes alternates from one repeat to the next. The table
gives the median over the repeats of each row's p50 latency, and the precision each runtime
really computed in, read back.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.bench.machine import describe  # noqa: E402
from zoo.runs.atomic import write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ZOO = str(Path(sys.executable).with_name("zoo"))
# (architecture, exported file): LeNet-5's full model and the conv-ae halves
FILES = (("lenet5", "model.onnx"), ("conv-ae", "encoder.onnx"), ("conv-ae", "decoder.onnx"))
PRECISIONS = ("default", "float32")  # OpenVINO's own choice, and float32 asked for


def zoo(*args: str) -> str:
    """``zoo ARGS`` in a process of its own; its stdout, or the error that stopped it."""
    result = subprocess.run([ZOO, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"zoo {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def make_runs(out: Path) -> dict[str, Path]:
    """A run of each architecture (one epoch on mnist-sample), exported; reused where ``out``
    already holds an exported one."""
    runs = {}
    for name in dict.fromkeys(arch for arch, _ in FILES):
        found = sorted(p for p in out.glob(f"{name}-*") if (p / "onnx" / "manifest.json").is_file())
        if found:
            runs[name] = found[-1]
            continue
        before = set(out.glob(f"{name}-*"))
        zoo("train", name, "--dataset", "mnist-sample", "--epochs", "1", "--out", str(out))
        (run,) = set(out.glob(f"{name}-*")) - before
        zoo("export", str(run))
        runs[name] = run
    return runs


def row_key(row: dict) -> str:
    """``onnxruntime`` or ``openvino default`` / ``openvino float32``: a column of the table."""
    if row["runtime"] == "onnxruntime":
        return "onnxruntime"
    return "openvino " + ("float32" if row["method"].endswith(" float32") else "default")


def measure(files: dict[str, Path], batches: str, repeats: int, seconds: float) -> dict:
    """Every file, ``repeats`` times, both runtimes side by side; the reports and the p50s."""
    reports: dict[str, list[dict]] = {label: [] for label in files}
    for repeat in range(repeats):
        order = "onnxruntime,openvino" if repeat % 2 == 0 else "openvino,onnxruntime"
        for label, path in files.items():
            report = json.loads(
                zoo(
                    "bench", str(path), "--runtime", order, "--precision", ",".join(PRECISIONS),
                    "--batch-sizes", batches, "--seconds", str(seconds), "--json",
                )
            )  # fmt: skip
            reports[label].append(report)
            p50 = {f"{row_key(r)} @{r['batch_size']}": round(r["p50_ms"], 4) for r in report["rows"]}
            print(f"repeat {repeat + 1}/{repeats} {label} ({order}): {p50}", flush=True)
    return reports


def summarize(reports: dict[str, list[dict]]) -> list[dict]:
    """Per file and batch size: each column's median p50 over the repeats, its precision and
    its p50 in every repeat."""
    table = []
    for label, runs in reports.items():
        cells: dict[tuple[int, str], list[dict]] = {}
        for report in runs:
            for r in report["rows"]:
                cells.setdefault((r["batch_size"], row_key(r)), []).append(r)
        for batch in sorted({b for b, _ in cells}):
            entry: dict = {"file": label, "batch_size": batch}
            for column in ("onnxruntime", *(f"openvino {p}" for p in PRECISIONS)):
                rows = cells.get((batch, column), [])
                entry[column] = {
                    "p50_ms_median": round(statistics.median(r["p50_ms"] for r in rows), 4),
                    "p50_ms_each": [round(r["p50_ms"], 4) for r in rows],
                    "precision": ", ".join(dict.fromkeys(r["precision"] for r in rows)),
                }
            table.append(entry)
    return table


def markdown(table: list[dict], first: dict, command: str, repeats: int) -> str:
    vino = first["openvino"]
    config = vino["config"]
    lines = [
        "## OpenVINO against ONNX Runtime (CPU)",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d')}. Machine: {describe(first['machine'])}; "
        f"onnxruntime {first['onnxruntime']} (CPU provider, zoo's session defaults, IO binding), "
        f"openvino {vino['version']} (CPU device, {config['performance_hint']} hint, "
        f"{config['inference_num_threads']} threads, {config['num_streams']} stream(s), inputs set "
        "once on the infer request). Each file measured by `zoo bench FILE --runtime "
        "onnxruntime,openvino --precision default,float32 --json`, "
        f"{repeats} times, each a process of its own, the two runtimes' order alternating; at each "
        "batch size every runtime is fed the same arrays (the run's test samples). p50 latency in "
        "ms, median over the repeats; the precision is what each runtime really computed in, read "
        "back. This machine is shared: single p50s move by up to 40%.",
        "",
        "| file | batch | ONNX Runtime | OpenVINO default | OpenVINO float32 | default / ORT "
        "| float32 / ORT |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in table:
        ort = e["onnxruntime"]["p50_ms_median"]
        cells = [e["file"], str(e["batch_size"])]
        for column in ("onnxruntime", "openvino default", "openvino float32"):
            cells.append(f"{e[column]['p50_ms_median']:.4f} ({e[column]['precision']})")
        cells += [f"{e[c]['p50_ms_median'] / ort:.2f}x" for c in ("openvino default", "openvino float32")]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "A ratio above 1: OpenVINO is slower than ONNX Runtime on that row.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-sizes", default="1,64,1024")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--runs", type=Path, help="Reuse (or make) the runs in this folder.")
    options = parser.parse_args()
    out = options.runs or Path(tempfile.mkdtemp(prefix="zoo-runtime-speed-"))
    out.mkdir(parents=True, exist_ok=True)
    runs = make_runs(out)
    files = {f"{arch} {name}": runs[arch] / "onnx" / name for arch, name in FILES}
    command = "python benchmarks/runtime_speed.py " + " ".join(sys.argv[1:])
    reports = measure(files, options.batch_sizes, options.repeats, options.seconds)
    table = summarize(reports)
    first = next(iter(reports.values()))[0]
    result = {
        "command": command.strip(),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": first["machine"],
        "onnxruntime": first["onnxruntime"],
        "openvino": first["openvino"],
        "repeats": options.repeats,
        "seconds_per_cell": options.seconds,
        "table": table,
        "reports": reports,
    }
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "runtime_speed.json", result)
    print(markdown(table, first, command.strip(), options.repeats))
    print(json.dumps({k: v for k, v in result.items() if k != "reports"}, indent=2))


if __name__ == "__main__":
    main()
