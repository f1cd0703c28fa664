"""int8 variants of one exported file against its float32 original, on this machine's CPU: which
quantization is faster, if any. Prints Markdown; writes benchmarks/results/quantization.json.

    python benchmarks/quantization.py [--arch lenet5] [--batches 1,1024] [--seconds 2]

The architecture is trained one epoch on the embedded MNIST sample and exported in float32
(NHWC) with zoo's exporter; its full model is then quantized by ONNX Runtime in each variant:

- static QDQ and static QOperator, each per-tensor and per-channel;
- static QDQ of the convolutions only, and of the matrix products only;
- dynamic (zoo's ``--quantize dynamic``).

zoo's ``--quantize static`` makes the QDQ per-tensor, per-channel and matrix-products-only
variants and keeps the fastest (``zoo_onnx.speed``).

Each file is timed in ONNX Runtime's CPU provider with zoo's session defaults (median latency
over repeated runs after a warm-up, inputs from the run's test images) and compared with the
float32 file: speed-up (>1 is faster than float32) and the largest difference of the outputs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import onnx  # noqa: E402

from zoo.bench.machine import describe, machine  # noqa: E402
from zoo.core.host import load_registry  # noqa: E402
from zoo.export.orchestrate import export_run  # noqa: E402
from zoo.runs.atomic import write_json  # noqa: E402
from zoo.training.train import TrainRequest, train  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
CALIBRATION = 256


def variants() -> dict[str, dict]:
    """Name -> ONNX Runtime quantization arguments (``mode`` static or dynamic)."""
    from onnxruntime.quantization import QuantFormat

    qdq, qop = QuantFormat.QDQ, QuantFormat.QOperator
    return {
        "static QDQ per-tensor": {"mode": "static", "quant_format": qdq, "per_channel": False},
        "static QDQ per-channel": {"mode": "static", "quant_format": qdq, "per_channel": True},
        "static QOperator": {"mode": "static", "quant_format": qop, "per_channel": False},
        "static QOperator per-channel": {"mode": "static", "quant_format": qop, "per_channel": True},
        "static QDQ, Conv only": {"mode": "static", "quant_format": qdq, "op_types_to_quantize": ["Conv"]},
        "static QDQ, MatMul/Gemm only": {
            "mode": "static",
            "quant_format": qdq,
            "op_types_to_quantize": ["MatMul", "Gemm"],
        },
        "dynamic": {"mode": "dynamic"},
    }


def quantize(source: Path, target: Path, settings: dict, images: np.ndarray) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic, quantize_static
    from zoo_onnx.precision import calibration_reader

    settings = dict(settings)
    mode = settings.pop("mode")
    if mode == "dynamic":
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
        return
    name = onnx.load(str(source)).graph.input[0].name

    quantize_static(
        str(source),
        str(target),
        calibration_reader([name], [images]),
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        **settings,
    )


def latency_ms(path: Path, x: np.ndarray, seconds: float) -> tuple[float, np.ndarray]:
    """Median latency of one run at ``x``'s batch size, and the outputs."""
    from zoo.bench.sessions import open_session
    from zoo.bench.settings import BenchSettings

    session = open_session(path, BenchSettings(provider="cpu")).session
    feed = {session.get_inputs()[0].name: x}
    out = session.run(None, feed)[0]
    for _ in range(3):
        session.run(None, feed)
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 10:
        started = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="lenet5")
    parser.add_argument("--batches", default="1,1024")
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    registry = load_registry()
    with tempfile.TemporaryDirectory(prefix="zoo-quantization-") as tmp:
        work = Path(tmp)
        result = train(
            registry,
            TrainRequest(architecture=args.arch, dataset="mnist-sample", epochs=1, out=work / "runs", seed=0),
            verbose=0,
        )
        exported = export_run(registry, result.path)
        fp32 = exported.path / "model.onnx"
        from zoo.training.data import load_arrays

        arrays = load_arrays(registry, registry.architecture(args.arch), "mnist-sample", None)
        images = arrays.x_test.astype(np.float32)
        calibration = arrays.x_train[:CALIBRATION].astype(np.float32)
        x = {b: np.resize(images, (b, *images.shape[1:])).astype(np.float32) for b in batches}
        base = {b: latency_ms(fp32, x[b], args.seconds) for b in batches}
        rows = [
            {
                "variant": "float32",
                "bytes": fp32.stat().st_size,
                **{f"ms_batch_{b}": base[b][0] for b in batches},
                **{f"speedup_batch_{b}": 1.0 for b in batches},
                "max_abs_diff": 0.0,
            }
        ]
        for name, settings in variants().items():
            target = work / f"{len(rows)}.onnx"
            try:
                quantize(fp32, target, settings, calibration)
                timed = {b: latency_ms(target, x[b], args.seconds) for b in batches}
            except Exception as exc:  # a variant ONNX Runtime cannot make or run here is a row too
                rows.append({"variant": name, "error": f"{type(exc).__name__}: {exc}"})
                continue
            rows.append(
                {
                    "variant": name,
                    "bytes": target.stat().st_size,
                    **{f"ms_batch_{b}": timed[b][0] for b in batches},
                    **{f"speedup_batch_{b}": base[b][0] / timed[b][0] for b in batches},
                    "max_abs_diff": max(float(np.max(np.abs(timed[b][1] - base[b][1]))) for b in batches),
                }
            )
    info = machine()
    report = {"architecture": args.arch, "machine": info, "batches": batches, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "quantization.json", report)
    print(f"{args.arch}, full model, ONNX Runtime CPU provider; {describe(info)}\n")
    head = [
        "variant",
        "KB",
        *[f"ms @ {b}" for b in batches],
        *[f"x fp32 @ {b}" for b in batches],
        "max |diff|",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for row in rows:
        if "error" in row:
            print(f"| {row['variant']} | {row['error']} |")
            continue
        cells = [
            row["variant"],
            f"{row['bytes'] / 1024:.0f}",
            *[f"{row[f'ms_batch_{b}']:.3f}" for b in batches],
            *[f"{row[f'speedup_batch_{b}']:.2f}" for b in batches],
            f"{row['max_abs_diff']:.2g}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
