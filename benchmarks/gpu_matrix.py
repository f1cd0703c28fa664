"""The GPU matrix: every built-in part, zoo's export and bench defaults against a plain
``keras.Model.export`` file run with ONNX Runtime's defaults, and against the fastest
configuration ``zoo bench --tune`` finds. Two steps, because the GPU machines have no TensorFlow:

    python benchmarks/gpu_matrix.py prepare gpu-files          # here: writes the ONNX files
    # on the GPU machine, with gpu-files carried and onnxruntime-gpu importable there; where it
    # was carried as a folder with a module that loads its CUDA libraries (docs/gpu.md), e.g.
    # .ortgpu with ort_gpu_env.py:
    PYTHONPATH=.ortgpu:. ZOO_ORT_PRELOAD=ort_gpu_env python3 -c "import ort_gpu_env, runpy; \
        runpy.run_path('benchmarks/gpu_matrix.py', run_name='__main__')" measure gpu-files --out $OUT

``measure`` prints Markdown and writes gpu_matrix.json (and gpu_matrix.jsonl, a row at a time):
per part and batch size (1, 512, 8192 by default) the p50 of zoo's defaults (inputs and outputs
on the device, CUDA graph), the plain file with ONNX Runtime's defaults and its inputs and outputs
bound on the device too (``--provider auto --ort-defaults --io-binding``, which lists the nodes it
runs on the CPU), the tuned best, and the targets' ratios. A failed cell is a row with its error.

A device session has 15 minutes, 10 per command, start-up included; the whole matrix with
--tune does not fit in one. Plan two calls, each under ``--deadline`` (seconds after which no
cell starts; default 480): ``measure gpu-files --no-tune`` (all parts: zoo against plain), then
``measure gpu-files --only lenet5,conv-ae`` (the targets' parts, tuned). Bring both
gpu_matrix.json back and ``merge A.json B.json`` into results/gpu_matrix.json, which
bench_matrix.py --render puts in BENCHMARKS.md. ``--provider cpu`` runs the same on the CPU (a
check of the script, not a GPU figure).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUILTIN_PLUGINS = {"lenet", "autoencoders", "cnn", "fcn"}


def prepare(out: Path, only: list[str]) -> None:
    """zoo's export (untrained: speed does not depend on the weights) and the plain Keras export
    of the full model and of each part, for every built-in architecture."""
    from zoo.core.host import load_registry
    from zoo.export.orchestrate import export_untrained
    from zoo.training.keras_env import import_keras
    from zoo.training.models import build

    registry = load_registry()
    import_keras()
    names = only or sorted(n for n, s in registry.architectures.items() if s.plugin in BUILTIN_PLUGINS)
    for name in names:
        spec = registry.architecture(name)
        export_untrained(registry, name, out=out / "zoo" / name)
        model = build(spec, {})
        shape = [28 if d is None else d for d in spec.input_shape]
        model(np.zeros((1, *shape), np.float32))  # Keras' exporter wants a model that has been called
        plain = out / "plain" / name
        plain.mkdir(parents=True, exist_ok=True)
        for part in ("full", *spec.parts):
            keras_model = model if part == "full" else model.get_layer(part)
            file = "model.onnx" if part == "full" else f"{part}.onnx"
            keras_model.export(str(plain / file), format="onnx", verbose=False)
        print(name, "ready", flush=True)


def _bench(model: Path, provider: str, batch: int, seconds: float, session, sizes) -> dict:
    from zoo.bench.file import bench
    from zoo.bench.settings import BenchSettings

    settings = BenchSettings(provider, (batch,), seconds, sizes=sizes or {}, session=session)
    return bench(model, settings)


def _unnamed_sizes(model: Path, side: int) -> dict[str, int]:
    """A plain export names its free axes ``unk__N``: the height and width axes get ``side``."""
    import onnxruntime as ort

    dims = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    return {str(dims[1]): side, str(dims[2]): side}


def _compute_p50(report: dict) -> float:
    """The p50 of the row without host copies (device, bound, else numpy)."""
    rows = {r["io"]: r for r in report["rows"]}
    return next(rows[io]["p50_ms"] for io in ("device", "bound", "numpy") if io in rows)


def _error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _cell(
    zoo_file: Path, folder: Path, provider: str, batch: int, seconds: float, tune_seconds: float | None
) -> dict:
    """One part at one batch size: zoo's defaults, the plain file with ONNX Runtime's defaults
    (inputs and outputs bound on the device, as in the hand measurements of docs/gpu.md) and, on
    request, the tuned best. A failure is recorded in the row, never the end of the matrix."""
    from dataclasses import replace

    from zoo.bench.settings import ORT_DEFAULTS, BenchSettings, SessionSettings
    from zoo.bench.tune import tune

    name, part = zoo_file.parent.name, zoo_file.stem
    plain_file = folder / "plain" / name / zoo_file.name
    # The fully convolutional model's free axes (a file uses the names it has).
    sizes = {"height": 28, "width": 28, "code_height": 7, "code_width": 7} if name == "fcn" else None
    row: dict = {"architecture": name, "part": part, "batch_size": batch}
    try:
        zoo_report = _bench(zoo_file, provider, batch, seconds, SessionSettings(), sizes)
        row["zoo_p50_ms"] = _compute_p50(zoo_report)
        row["zoo_cuda_graph"] = any(r["cuda_graph"] for r in zoo_report["rows"])
        row["zoo_cpu_nodes"] = zoo_report["cpu_nodes"]
    except Exception as exc:
        row["zoo_error"] = _error(exc)
    try:
        auto = "auto" if provider != "cpu" else "cpu"
        plain_sizes = _unnamed_sizes(plain_file, 7 if part == "decoder" else 28) if sizes else None
        plain = _bench(plain_file, auto, batch, seconds, replace(ORT_DEFAULTS, io_binding=True), plain_sizes)
        row["plain_p50_ms"] = _compute_p50(plain)
        row["plain_provider"] = plain["provider"]
        row["plain_cpu_nodes"] = plain["cpu_nodes"]
    except Exception as exc:
        row["plain_error"] = _error(exc)
    if tune_seconds is not None and "zoo_p50_ms" in row:
        try:
            tuned = tune(zoo_file, BenchSettings(provider, (batch,), tune_seconds, sizes=sizes or {}))
            row["tuned_best_p50_ms"] = tuned["best"][0]["p50_ms"]
            row["tuned_best"] = tuned["best"][0]["settings"]
            row["defaults_over_best"] = tuned["defaults"][0]["defaults_over_best"]
        except Exception as exc:
            row["tune_error"] = _error(exc)
    if "zoo_p50_ms" in row and "plain_p50_ms" in row:
        row["plain_over_zoo"] = round(row["plain_p50_ms"] / row["zoo_p50_ms"], 2)
    return row


def measure(
    folder: Path,
    provider: str,
    batches: tuple[int, ...],
    seconds: float,
    tune_seconds: float | None,
    out: Path,
    only: list[str],
    deadline_s: float,
) -> None:
    """Every cell until ``deadline_s`` seconds have passed; each row is appended to
    gpu_matrix.jsonl as it is made and gpu_matrix.json is written however the loop ends, so a
    device call cut short keeps what it measured."""
    import time

    from zoo.bench.machine import describe, machine

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict] = []
    skipped = 0
    try:
        with (out / "gpu_matrix.jsonl").open("a", encoding="utf-8") as log:
            for zoo_file in sorted((folder / "zoo").glob("*/*.onnx")):
                if only and zoo_file.parent.name not in only:
                    continue
                for batch in batches:
                    if time.monotonic() - started > deadline_s:
                        skipped += 1
                        continue
                    row = _cell(zoo_file, folder, provider, batch, seconds, tune_seconds)
                    results.append(row)
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    print(json.dumps(row), flush=True)
    finally:
        info = machine()
        (out / "gpu_matrix.json").write_text(
            json.dumps({"machine": info, "provider": provider, "rows": results}, indent=2), encoding="utf-8"
        )
    print(f"\nmachine: {describe(info)}; provider {provider}; {skipped} cells left for want of time\n")
    print(table(results))


def table(rows: list[dict]) -> str:
    lines = [
        "| architecture | part | batch | zoo p50 ms | plain, ORT defaults p50 ms | plain/zoo "
        "| tuned best ms | zoo/best |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        cells = [r["architecture"], r["part"], str(r["batch_size"])]
        for key, fmt in (
            ("zoo_p50_ms", "{:.4f}"),
            ("plain_p50_ms", "{:.4f}"),
            ("plain_over_zoo", "{}x"),
            ("tuned_best_p50_ms", "{:.4f}"),
            ("defaults_over_best", "{}x"),
        ):
            cells.append(fmt.format(r[key]) if key in r else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merge(files: list[Path], out: Path) -> None:
    """Several device calls' gpu_matrix.json as one: a later file's keys fill in (and replace)
    an earlier one's, cell by cell."""
    merged: dict[tuple, dict] = {}
    first = None
    for file in files:
        data = json.loads(file.read_text(encoding="utf-8"))
        first = first or data
        for row in data["rows"]:
            merged.setdefault((row["architecture"], row["part"], row["batch_size"]), {}).update(row)
    rows = [merged[key] for key in sorted(merged)]
    for row in rows:
        if "zoo_p50_ms" in row and "plain_p50_ms" in row:
            row["plain_over_zoo"] = round(row["plain_p50_ms"] / row["zoo_p50_ms"], 2)
    out.write_text(json.dumps({**first, "rows": rows}, indent=2), encoding="utf-8")
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("out", type=Path)
    p.add_argument("--only", default="")
    m = sub.add_parser("measure")
    m.add_argument("folder", type=Path)
    m.add_argument("--provider", default="cuda")
    m.add_argument("--batch-sizes", default="1,512,8192")
    m.add_argument("--seconds", type=float, default=0.5)
    m.add_argument("--tune-seconds", type=float, default=0.2)
    m.add_argument("--no-tune", action="store_true")
    m.add_argument("--only", default="", help="architectures, comma-separated (default: all prepared)")
    m.add_argument("--deadline", type=float, default=480.0, help="start no cell after this many seconds")
    m.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    g = sub.add_parser("merge")
    g.add_argument("files", type=Path, nargs="+")
    g.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_matrix.json")
    options = parser.parse_args()
    if options.step == "prepare":
        prepare(options.out, [n for n in options.only.split(",") if n])
    elif options.step == "merge":
        merge(options.files, options.out)
    else:
        batches = tuple(int(b) for b in options.batch_sizes.split(","))
        measure(
            options.folder,
            options.provider,
            batches,
            options.seconds,
            None if options.no_tune else options.tune_seconds,
            options.out,
            [n for n in options.only.split(",") if n],
            options.deadline,
        )


if __name__ == "__main__":
    main()
