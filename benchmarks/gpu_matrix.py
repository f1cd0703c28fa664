"""The GPU matrix: every built-in part, zoo's export and bench defaults against a plain
``keras.Model.export`` file run with ONNX Runtime's defaults, and against the fastest
configuration ``zoo bench --tune`` finds. Two steps, because the GPU machines have no TensorFlow:

    python benchmarks/gpu_matrix.py prepare gpu-files          # here: writes the ONNX files
    # on the GPU machine (see ../shared/device/README.md), with gpu-files and .ortgpu carried:
    PYTHONPATH=.ortgpu:. ZOO_ORT_PRELOAD=ort_gpu_env python3 -c "import ort_gpu_env, runpy; \
        runpy.run_path('benchmarks/gpu_matrix.py', run_name='__main__')" measure gpu-files --out $OUT

``measure`` prints Markdown and writes gpu_matrix.json: per part and batch size (1, 512, 8192 by
default) the p50 of zoo's defaults (inputs and outputs on the device, CUDA graph), the plain file
with ONNX Runtime's defaults (``--provider auto --ort-defaults``, which lists the nodes it runs on
the CPU), the tuned best, and the targets' ratios. ``--provider cpu`` runs the same on the CPU
(a check of the script, not a GPU figure).
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
    from zoo.export import export_untrained
    from zoo.host import load_registry
    from zoo.keras_env import import_keras
    from zoo.models import build

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


def _bench(model: Path, provider: str, batch: int, seconds: float, settings, sizes) -> dict:
    from zoo.bench import bench

    return bench(
        model, provider=provider, batch_sizes=(batch,), seconds=seconds, settings=settings, sizes=sizes
    )


def _unnamed_sizes(model: Path, side: int) -> dict[str, int]:
    """A plain export names its free axes ``unk__N``: the height and width axes get ``side``."""
    import onnxruntime as ort

    dims = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    return {str(dims[1]): side, str(dims[2]): side}


def _compute_p50(report: dict) -> float:
    """The p50 of the row without host copies (device, bound, else numpy)."""
    rows = {r["io"]: r for r in report["rows"]}
    return next(rows[io]["p50_ms"] for io in ("device", "bound", "numpy") if io in rows)


def measure(
    folder: Path, provider: str, batches: tuple[int, ...], seconds: float, tune_parts: bool, out: Path
) -> None:
    from zoo.bench_tune import tune
    from zoo.errors import ZooError
    from zoo.machine import describe, machine
    from zoo.sessions import ORT_DEFAULTS, SessionSettings

    results = []
    for zoo_file in sorted((folder / "zoo").glob("*/*.onnx")):
        name, part = zoo_file.parent.name, zoo_file.stem
        plain_file = folder / "plain" / name / zoo_file.name
        # The fully convolutional model's free axes (a file uses the names it has).
        sizes = {"height": 28, "width": 28, "code_height": 7, "code_width": 7} if name == "fcn" else None
        for batch in batches:
            row = {"architecture": name, "part": part, "batch_size": batch}
            try:
                zoo_report = _bench(zoo_file, provider, batch, seconds, SessionSettings(), sizes)
                row["zoo_p50_ms"] = _compute_p50(zoo_report)
                row["zoo_cuda_graph"] = any(r["cuda_graph"] for r in zoo_report["rows"])
            except ZooError as exc:
                row["zoo_error"] = str(exc)
            try:
                auto = "auto" if provider != "cpu" else "cpu"
                plain_sizes = _unnamed_sizes(plain_file, 7 if part == "decoder" else 28) if sizes else None
                plain = _bench(plain_file, auto, batch, seconds, ORT_DEFAULTS, plain_sizes)
                row["plain_p50_ms"] = _compute_p50(plain)
                row["plain_cpu_nodes"] = plain["cpu_nodes"]
            except ZooError as exc:
                row["plain_error"] = str(exc)
            if tune_parts and "zoo_p50_ms" in row:
                tuned = tune(zoo_file, provider, (batch,), seconds, sizes)
                row["tuned_best_p50_ms"] = tuned["best"][0]["p50_ms"]
                row["tuned_best"] = tuned["best"][0]["settings"]
                row["defaults_over_best"] = tuned["defaults"][0]["defaults_over_best"]
            if "zoo_p50_ms" in row and "plain_p50_ms" in row:
                row["plain_over_zoo"] = round(row["plain_p50_ms"] / row["zoo_p50_ms"], 2)
            results.append(row)
            print(json.dumps(row), flush=True)
    info = machine()
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_matrix.json").write_text(
        json.dumps({"machine": info, "provider": provider, "rows": results}, indent=2), encoding="utf-8"
    )
    print(f"\nmachine: {describe(info)}; provider {provider}\n")
    print(
        "| architecture | part | batch | zoo p50 ms | plain, ORT defaults p50 ms | plain/zoo "
        "| tuned best ms | zoo/best |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        cells = [r["architecture"], r["part"], str(r["batch_size"])]
        for key, fmt in (
            ("zoo_p50_ms", "{:.4f}"),
            ("plain_p50_ms", "{:.4f}"),
            ("plain_over_zoo", "{}x"),
            ("tuned_best_p50_ms", "{:.4f}"),
            ("defaults_over_best", "{}x"),
        ):
            cells.append(fmt.format(r[key]) if key in r else "-")
        print("| " + " | ".join(cells) + " |")


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
    m.add_argument("--no-tune", action="store_true")
    m.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    options = parser.parse_args()
    if options.step == "prepare":
        prepare(options.out, [n for n in options.only.split(",") if n])
    else:
        batches = tuple(int(b) for b in options.batch_sizes.split(","))
        measure(options.folder, options.provider, batches, options.seconds, not options.no_tune, options.out)


if __name__ == "__main__":
    main()
