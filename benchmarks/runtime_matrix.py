"""Which runtimes take every built-in architecture's files: the runtime matrix of
``zoo verify --runtime`` over every part, in NHWC and NCHW, float32 and float16 (and int8 for
LeNet-5, for information). Writes benchmarks/results/runtime_matrix.json and docs/deploy.md.

    python benchmarks/runtime_matrix.py [--only lenet5,conv-ae] [--epochs 1] [--dataset mnist-sample]
                                        [--runtime LIST] [--int8 lenet5] [--check] [--out-dir DIR]
    python benchmarks/runtime_matrix.py --render benchmarks/results/runtime_matrix.json

Each built-in architecture is trained once, briefly, on the embedded MNIST sample (so that its
files hold a model that has learnt something), then exported with zoo's exporter in each layout
and precision, every part (the full model and each part, as ``zoo export`` writes them by
default). ``zoo.runtimes.matrix`` runs each file's test set in each runtime: ONNX Runtime (and
its CUDA and TensorRT providers where a GPU really runs), ``onnx.reference``, OpenVINO (asked for
float32; its default precision is run as well and recorded) and OpenCV DNN. A runtime that is not
installed is "not run", never a pass.

``--check`` (CI): exit 1 when a float32 file fails, or is not run, in onnxruntime, reference,
openvino or opencv, or a float32 export fails; float16 and int8 findings are reported, not fatal
(onnx.reference sums float16 ConvTranspose in float16: docs/deploy.md). ``--out-dir`` writes the
JSON and deploy.md there instead of into the repository (CI leaves the committed ones alone).
``--render`` writes deploy.md again from a JSON this script wrote, without running anything.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
JSON_NAME = "runtime_matrix.json"
DOC = ROOT / "docs" / "deploy.md"
LAYOUTS = ("NHWC", "NCHW")
PRECISIONS = ("fp32", "fp16")
INT8 = ("int8-static", "int8-dynamic")
RUNTIMES = "onnxruntime,reference,openvino,opencv,tensorrt"
REQUIRED = ("onnxruntime", "reference", "openvino", "opencv")  # issue 17's "Done when", at float32
FATAL = "fp32"  # the precision --check holds every file to
PACKAGES = {  # runtime -> the distributions that may provide it, first found wins
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "reference": ("onnx",),
    "openvino": ("openvino",),
    "opencv": (
        "opencv-python-headless",
        "opencv-python",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
    ),
    "tensorrt": ("tensorrt", "tensorrt-cu12", "tensorrt-cu13"),
}


# --- running ----------------------------------------------------------------------------------------


def options(layout: str, precision: str) -> dict[str, Any]:
    """The exporter's options for one layout and precision (``int8-static``: ``--quantize static``)."""
    if precision.startswith("int8"):
        return {"layout": layout.lower(), "quantize": precision.split("-")[1]}
    return {"layout": layout.lower(), "dtype": precision}


def builtin_architectures(registry: Any) -> list[str]:
    """Every architecture of zoo's own plugins (a third party's installed beside them is not zoo's)."""
    builtin = {p.name for p in registry.plugins if p.builtin}
    return sorted(n for n, s in registry.architectures.items() if s.plugin in builtin)


def versions(runtime_names: Sequence[str]) -> dict[str, str | None]:
    """Each runtime's package version, None where it is not installed."""
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in dict.fromkeys(runtime_names):
        found[name] = None
        for package in PACKAGES.get(name, (name,)):
            try:
                found[name] = f"{package} {metadata.version(package)}"
                break
            except metadata.PackageNotFoundError:
                continue
    return found


def collect(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Train (runs and exports in ``out``), export and run the matrix; the report this script writes."""
    from zoo.bench.machine import machine
    from zoo.core.errors import ZooError
    from zoo.core.host import load_registry
    from zoo.export.orchestrate import export_run
    from zoo.runtimes import matrix, parse
    from zoo.training.train import TrainRequest, train

    logging.disable(logging.WARNING)  # ONNX Runtime's quantizer advises pre-processing, per file
    registry = load_registry()
    names = args.only.split(",") if args.only else builtin_architectures(registry)
    int8 = [n for n in args.int8.split(",") if n and n in names]
    runtimes = matrix.expand(parse(args.runtime))
    rows: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    available: dict[str, Any] = {}
    started_all = time.perf_counter()
    for name in names:
        started = time.perf_counter()
        request = TrainRequest(name, dataset=args.dataset, epochs=args.epochs, out=out)
        run = train(registry, request, verbose=0).path
        print(f"{name}: trained in {time.perf_counter() - started:.1f} s", flush=True)
        combinations = [(lay, p) for lay in LAYOUTS for p in PRECISIONS]
        combinations += [(lay, p) for lay in LAYOUTS for p in INT8 if name in int8]
        for layout, precision in combinations:
            started = time.perf_counter()
            where = {"architecture": name, "layout": layout, "precision": precision}
            try:
                folder = export_run(registry, run, options=options(layout, precision)).path
                exported = time.perf_counter() - started
                found = matrix.check(folder, runtimes)
            except ZooError as exc:
                failures.append({**where, "error": str(exc)})
                print(f"{name} {layout} {precision}: FAILED {exc}", flush=True)
                continue
            for r in found["runtimes"]:
                key = r["name"] if r.get("device") in (None, "CPU") else f"{r['name']} ({r['device']})"
                available[key] = r
            rows += [merged(where, row) for row in found["rows"]]
            bad = [f"{r['file']} in {r['runtime']}" for r in found["rows"] if r["status"] == matrix.FAIL]
            print(
                f"{name} {layout} {precision}: exported in {exported:.1f} s, matrix in "
                f"{time.perf_counter() - started - exported:.1f} s"
                + (f"; fails: {', '.join(bad)}" if bad else ""),
                flush=True,
            )
    return {
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "command": "python benchmarks/runtime_matrix.py " + " ".join(sys.argv[1:]),
        "trained": f"{args.epochs} epoch(s) on {args.dataset}",
        "seconds": round(time.perf_counter() - started_all, 1),
        "versions": versions([r.name for r in runtimes]),
        "runtimes": list(available.values()),
        "rows": rows,
        "failures": failures,
    }


def merged(where: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A matrix row with the export it came from; the precision the runtime computed in becomes
    ``computed_in`` (``precision`` is the export's: fp32, fp16, int8-static, int8-dynamic)."""
    row = dict(row)
    return {**where, "computed_in": row.pop("precision", None), **row}


# --- judging ------------------------------------------------------------------------------------------


def column(row: dict[str, Any]) -> str:
    """The runtime as a table's column names it (``onnxruntime (CUDA)`` beside the CPU's)."""
    device = row.get("device")
    runtime = row["runtime"]
    return runtime if device in (None, "CPU") or runtime == "tensorrt" else f"{runtime} ({device})"


def part_of(row: dict[str, Any]) -> str:
    return row.get("part") or Path(row["file"]).stem


def verdict(report: dict[str, Any], required: Sequence[str] = REQUIRED) -> list[str]:
    """Why ``--check`` fails, one line each; empty when every float32 export was made and each of
    its files passes in every ``required`` runtime (not run is never a pass) and fails in none
    that ran (a CUDA or TensorRT row included)."""
    problems = [
        f"{f['architecture']} {f['layout']} {f['precision']}: the export failed: {f['error']}"
        for f in report["failures"]
        if f["precision"] == FATAL
    ]
    files: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in report["rows"]:
        if row["precision"] == FATAL:
            files.setdefault((row["architecture"], row["layout"], row["file"]), []).append(row)
    for (arch, layout, file), rows in files.items():
        where = f"{arch} {layout} {FATAL} {file}"
        for row in rows:
            if row["status"] == "fail":
                problems.append(f"{where} in {column(row)}: {row.get('reason') or 'failed'}")
        for runtime in required:
            theirs = [r for r in rows if r["runtime"] == runtime]
            if not theirs:
                problems.append(f"{where}: never run in {runtime}")
            elif all(r["status"] == "not run" for r in theirs):
                problems.append(f"{where} in {runtime}: not run ({theirs[0].get('reason') or 'no reason'})")
    return problems


# --- rendering ----------------------------------------------------------------------------------------

INTRODUCTION = """\
# Deploy anywhere: which runtimes take zoo's files

zoo's ONNX files are meant to leave zoo: this page says, per built-in architecture, part,
layout and precision, which runtimes run them and give the outputs the file's own test set
records, and, for any that does not, which op and why, and whether zoo can export around it.
This page is written by `benchmarks/runtime_matrix.py`, its words kept in the script and its
tables from its own run (edit the script, not this page); CI runs the same matrix on every
change and fails if a float32 file fails in any runtime.

## Check a file yourself

Each exported file carries its test set (inputs and the outputs Keras gave), so any runtime can
be checked against it, from the files alone:

```bash
pip install 'keras-zoo[openvino,opencv]'   # the runtimes beside ONNX Runtime (optional extras)
zoo verify runs/lenet5-20260101-120000/onnx --runtime openvino,opencv
zoo verify model.onnx --runtime onnxruntime,reference,openvino,opencv --json
```

Without `--runtime`, `zoo verify` runs every runtime zoo knows; one that is not installed (or a
GPU that is not there) is "not run" with the reason, never a pass. `zoo export RUN
--check-runtimes` runs the same matrix on the files it has just made and writes it into
`manifest.json` and the run's model card. Each row gives pass or fail with the largest absolute
and relative error, the precision the runtime really computed in, the op a runtime lacks or its
error in one line, what to export instead, and load and first-run times
([docs/export.md](export.md#the-runtime-matrix-which-runtimes-take-each-file)).

| runtime | what runs | install |
| --- | --- | --- |
| `onnxruntime` | ONNX Runtime's CPU provider (its CUDA provider too where a GPU really runs) | always |
| `reference` | `onnx.reference`, ONNX's own evaluator in pure Python | always |
| `openvino` | OpenVINO's CPU plugin, asked for float32 | `pip install 'keras-zoo[openvino]'` |
| `opencv` | OpenCV DNN (`cv2.dnn.readNetFromONNX`) | `pip install 'keras-zoo[opencv]'` |
| `tensorrt` | ONNX Runtime's TensorRT provider, where a GPU really runs | `onnxruntime-gpu`, TensorRT 10 |

## OpenVINO computes in bfloat16 unless told

On a CPU with AVX-512 BF16 (or AMX), OpenVINO's CPU plugin runs a float32 file in bfloat16 by
default, without a word: LeNet-5's probabilities move by 2e-3 to 3e-3 against ONNX Runtime's,
far beyond the 1e-5 a float32 file is held to. zoo's matrix asks OpenVINO for float32 and also runs
it once at its default, recording the precision found (the table "OpenVINO's precision" below).
In your own code, ask for float32 when you compile:

```python
import openvino as ov

core = ov.Core()
compiled = core.compile_model("model.onnx", "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
print(compiled.get_property("INFERENCE_PRECISION_HINT"))  # <Type: 'float32'>; bfloat16 unasked
```

(`benchmark_app -infer_precision f32` for OpenVINO's own benchmark tool.) bfloat16 is faster on
large batches (1.5 to 2.2 times float32's speed at batch 1024 for LeNet-5 and the conv-ae halves
on this CPU, as `benchmarks/runtime_speed.py` measured it) and is often good enough for a
classifier's top class; the choice should be yours, made knowingly.
`zoo bench FILE --runtime onnxruntime,openvino --precision default,float32` measures them side
by side on your file ([docs/bench.md](bench.md)).
"""

KNOWN = """\
## Known differences, and why

- **float16 in `onnx.reference`** (the FCN's and U-Net's full models and decoders): the reference
  evaluator computes a float16 ConvTranspose with NumPy in float16 and sums in float16, where ONNX
  Runtime, whose outputs a float16 file's test set holds, accumulates in float32. The outputs
  part by about 3e-3, beyond the 1e-3 a float16 file is held to. The file is right; the two
  runtimes round differently. No float16 export of zoo's avoids it (the op is what these decoders
  are); the float32 export passes in `onnx.reference`, and the float16 one in every other runtime.
- **OpenVINO's default precision**: above; a float32 file fails its tolerance at OpenVINO's
  bfloat16 default on such a CPU, and passes with `INFERENCE_PRECISION_HINT=f32`.
- **int8** (LeNet-5's files, for information): an int8 file is held to ONNX Runtime's own int8
  outputs, and int8 kernels round differently from one runtime to the next. OpenCV DNN has no
  `DynamicQuantizeLinear`, so it refuses `--quantize dynamic` files (it runs LeNet-5's
  `--quantize static` ones). `onnx.reference` implements `DequantizeLinear` only from opset 19,
  and zoo's exporter (tf2onnx) writes opsets up to 18, so it refuses `--quantize static` files
  (it runs the dynamic ones). For those runtimes use the float32 export, or `--dtype fp16`.
"""


def cell(rows: list[dict[str, Any]]) -> str:
    """One file in one runtime (several rows only where a runtime ran on several devices)."""
    if not rows:
        return "-"
    statuses = {r["status"] for r in rows}
    if "fail" in statuses:
        return "**FAIL**"
    return "pass" if statuses == {"pass"} else "not run"


def table(report: dict[str, Any], precision: str) -> list[str]:
    """Rows: architecture x part; columns: layout x runtime (those that ran somewhere)."""
    rows = [r for r in report["rows"] if r["precision"] == precision]
    ran = list(dict.fromkeys(column(r) for r in report["rows"] if r["status"] != "not run"))
    ran = [c for c in ran if any(column(r) == c for r in rows)]
    layouts = [lay for lay in LAYOUTS if any(r["layout"] == lay for r in rows)]
    if not rows or not ran:
        return ["No file at this precision ran in any runtime."]
    header = ["architecture", "part", *[f"{lay} {c}" for lay in layouts for c in ran]]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    files = list(dict.fromkeys((r["architecture"], part_of(r)) for r in rows))
    for arch, part in files:
        cells = []
        for lay in layouts:
            for c in ran:
                cells.append(
                    cell(
                        [
                            r
                            for r in rows
                            if r["architecture"] == arch
                            and part_of(r) == part
                            and r["layout"] == lay
                            and column(r) == c
                        ]
                    )
                )
        lines.append("| " + " | ".join([arch, part, *cells]) + " |")
    return lines


def runtimes_ran(report: dict[str, Any]) -> list[str]:
    """The runtimes (as columns name them) that ran at least one file, in the report's order."""
    return list(dict.fromkeys(column(r) for r in report["rows"] if r["status"] != "not run"))


def counts(report: dict[str, Any]) -> list[str]:
    """Per precision and layout, per runtime that ran: files passing of those exported, and how
    many failed."""
    ran = runtimes_ran(report)
    header = ["precision", "layout", *ran]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for precision, layout in dict.fromkeys((r["precision"], r["layout"]) for r in report["rows"]):
        cells = []
        for runtime in ran:
            these = [
                r
                for r in report["rows"]
                if (r["precision"], r["layout"], column(r)) == (precision, layout, runtime)
            ]
            passed = sum(r["status"] == "pass" for r in these)
            failed = sum(r["status"] == "fail" for r in these)
            not_run = len(these) - passed - failed
            note = [f"**{failed} FAIL**" if failed else "", f"{not_run} not run" if not_run else ""]
            cells.append(" ".join([f"{passed}/{len(these)}", *[n for n in note if n]]))
        lines.append("| " + " | ".join([precision, layout, *cells]) + " |")
    return lines


def openvino_precision(report: dict[str, Any]) -> list[str]:
    """What OpenVINO computed in when asked for float32, and at its own default."""
    rows = [r for r in report["rows"] if r["runtime"] == "openvino" and r["status"] != "not run"]
    if not rows:
        return ["OpenVINO did not run here."]
    header = [
        "export",
        "layout",
        "asked float32, computed in",
        "its default, computed in",
        "pass at its default",
        "largest difference at its default",
    ]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for precision, layout in dict.fromkeys((r["precision"], r["layout"]) for r in rows):
        these = [r for r in rows if (r["precision"], r["layout"]) == (precision, layout)]
        forced = ", ".join(sorted({r.get("computed_in") or "?" for r in these}))
        defaults = [r.get("default") for r in these if r.get("default")]
        if not defaults:
            lines.append(f"| {precision} | {layout} | {forced} | the same (nothing lowered) | - | - |")
            continue
        found = ", ".join(sorted({d.get("precision") or "?" for d in defaults}))
        passed = sum(bool(d.get("passed")) for d in defaults)
        worst = max((d.get("max_abs") or 0.0 for d in defaults), default=0.0)
        lines.append(
            f"| {precision} | {layout} | {forced} | {found} | {passed}/{len(defaults)} | {worst:.2g} |"
        )
    return lines


def not_passing(report: dict[str, Any]) -> list[str]:
    """Every file that does not pass in a runtime that ran, grouped where runtime, precision, ops
    and advice are the same: which op and why (the worst case's words), and the export that works
    instead, or why none of zoo's does."""
    ran = set(runtimes_ran(report))
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in report["rows"]:
        if r["status"] == "pass" or column(r) not in ran:
            continue
        key = (column(r), r["precision"], r["status"], tuple(r.get("ops") or ()), r.get("advice"))
        groups.setdefault(key, []).append(r)
    lines: list[str] = []
    order = [*PRECISIONS, *INT8]
    ranked = sorted(groups.items(), key=lambda g: (order.index(g[0][1]) if g[0][1] in order else 99, g[0][0]))
    for (runtime, precision, status, ops, advice), rows in ranked:
        files = ", ".join(dict.fromkeys(f"{r['architecture']} {part_of(r)}" for r in rows))
        layouts = " and ".join(dict.fromkeys(r["layout"] for r in rows))
        worst = max(rows, key=lambda r: r.get("max_abs") or 0.0)
        reason = (worst.get("reason") or "no reason given").rstrip(".")
        if len(rows) > 1 and worst.get("max_abs") is not None:
            reason += " (the largest of these)"
        said = f"- `{runtime}`, {precision}, {layouts}: {files}: **{status.upper()}**: {reason}."
        if ops:
            said += f" Ops it lacks: {', '.join(f'`{o}`' for o in ops)}."
        if advice:
            said += f" Export around it: {advice.rstrip('.')}."
        lines.append(said)
    for f in report["failures"]:
        lines.append(
            f"- {f['architecture']} ({f['layout']}, {f['precision']}): the export failed: {f['error']}"
        )
    return lines or ["Every file passes in every runtime that ran."]


def render(report: dict[str, Any]) -> str:
    """docs/deploy.md: the hand-written parts above, the measured ones from ``report``."""
    from zoo.bench.machine import describe

    precisions = list(dict.fromkeys(r["precision"] for r in report["rows"]))
    missing = [r for r in report.get("runtimes", []) if not r.get("available")]
    versions = "; ".join(
        f"{name}: {v or 'not installed'}" for name, v in (report.get("versions") or {}).items()
    )
    out = [INTRODUCTION]
    out += [
        "## The matrix, as measured",
        "",
        f"Written by `{report['command'].strip()}` on {report['date']} (do not edit by hand; run it "
        f"again). Machine: {describe(report['machine'])}. Runtimes: {versions}. Each architecture "
        f"was trained {report['trained']}, exported with zoo's exporter (every part: the full model "
        "and each part) in each layout and precision, and each file's test set run in each runtime "
        "by `zoo.runtimes.matrix` (what `zoo verify --runtime` runs), judged by zoo's comparison "
        "rule with the tolerance the file records (float32: 1e-5 absolute plus 1e-5 of the output's "
        'scale; float16: 1e-3 and 1e-3; int8: 1e-2 and 1e-2). "pass": the runtime gives the '
        'test set\'s outputs within that tolerance; "**FAIL**": it refuses the file or gives '
        'other outputs (listed under "Files that do not pass"); "not run": the runtime is '
        "not installed here, or no GPU runs it.",
        "",
    ]
    for r in missing:
        out.append(f"Not run here: `{r['name']}` ({r.get('reason') or 'unavailable'}).")
    if missing:
        out.append("")
    out += ["### Summary", "", *counts(report), ""]
    titles = {
        "fp32": "float32 (`zoo export RUN`, `--layout nchw`)",
        "fp16": "float16 (`--dtype fp16`)",
        "int8-static": "int8 static (`--quantize static`), for information",
        "int8-dynamic": "int8 dynamic (`--quantize dynamic`), for information",
    }
    for precision in precisions:
        out += [f"### {titles.get(precision, precision)}", "", *table(report, precision), ""]
    out += [
        "### OpenVINO's precision",
        "",
        "What OpenVINO's CPU plugin really computed in (read back from the graph it executes), asked "
        "for float32 as the matrix asks it, and left at its own default; whether the test set "
        "passes at that default.",
        "",
        *openvino_precision(report),
        "",
        "### Files that do not pass",
        "",
        *not_passing(report),
        "",
        KNOWN,
    ]
    return "\n".join(out).rstrip() + "\n"


# --- command ------------------------------------------------------------------------------------------


def write(report: dict[str, Any], out_dir: Path | None) -> tuple[Path, Path]:
    """The JSON and deploy.md, into the repository or into ``out_dir``."""
    from zoo.runs.atomic import write_json, write_text

    json_path = (out_dir or RESULTS) / JSON_NAME
    doc_path = (out_dir / DOC.name) if out_dir else DOC
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(json_path, report)
    write_text(doc_path, render(report))
    return json_path, doc_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="architectures, comma-separated (default: every built-in)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dataset", default="mnist-sample")
    parser.add_argument(
        "--runtime", default=RUNTIMES, help=f"runtimes, comma-separated (default: {RUNTIMES})"
    )
    parser.add_argument("--int8", default="lenet5", help="architectures also exported in int8 ('' for none)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a float32 file fails a runtime")
    parser.add_argument(
        "--out-dir", type=Path, help="write the JSON and deploy.md here, not into the repository"
    )
    parser.add_argument("--render", type=Path, metavar="JSON", help="only write deploy.md again from JSON")
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        doc = (args.out_dir / DOC.name) if args.out_dir else DOC
        doc.write_text(render(report), encoding="utf-8")
        print(f"wrote {doc}")
    else:
        with tempfile.TemporaryDirectory(prefix="zoo-runtime-matrix-") as runs:
            report = collect(args, Path(runs))
        json_path, doc_path = write(report, args.out_dir)
        print(f"\n{report['seconds']:.0f} s; wrote {json_path} and {doc_path}\n")
        print("\n".join(counts(report)))
    problems = verdict(report)
    if args.check and problems:
        print(f"\n{len(problems)} float32 problem(s):", *problems, sep="\n- ", file=sys.stderr)
        return 1
    if args.check:
        print(f"\ncheck: every float32 file passes in {', '.join(REQUIRED)}, in both layouts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
