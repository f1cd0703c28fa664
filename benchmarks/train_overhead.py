"""What zoo's training costs over plain Keras: `zoo train lenet5` against a hand-written Keras
script with the same model, data, batch size, optimizer and schedule, timed in one run.

    ZOO_DATA_DIR=DIR_WITH_MNIST_NPZ python benchmarks/train_overhead.py [--epochs 4] [--rounds 2]

Per-epoch time is the wall time between consecutive epoch ends, so everything zoo does per
epoch (checkpoint with optimizer state, history files, progress) counts against it. Epoch 1
(tracing) is left out. The two runners alternate (plain, zoo, plain, zoo, ...) so that drift of
this shared machine hits both. Prints a table; writes benchmarks/results/train_overhead.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.bench.machine import machine  # noqa: E402
from zoo.runs.atomic import write_json  # noqa: E402

ZOO = str(Path(sys.executable).with_name("zoo"))
RESULTS = ROOT / "benchmarks" / "results"

# The plain Keras script: what a practitioner writes by hand for LeNet-5 on MNIST.
PLAIN = r"""
import sys, time, json
import numpy as np
import keras
from zoo_lenet.model import build

epochs, batch = int(sys.argv[1]), int(sys.argv[2])
with np.load(sys.argv[3]) as d:
    x, y = d["x_train"], d["y_train"]
x = np.pad(x.astype("float32") / 255.0, ((0, 0), (2, 2), (2, 2)))[..., None]
keras.utils.set_random_seed(0)
model = build()
steps = -(-int(len(x) * 0.9) // batch)
rate = keras.optimizers.schedules.ExponentialDecay(1e-3, steps, 0.8, staircase=True)
loss = "sparse_categorical_crossentropy"
model.compile(optimizer=keras.optimizers.Adam(rate), loss=loss, metrics=["accuracy"])


class EpochEnds(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print(json.dumps({"epoch": epoch + 1, "t": time.perf_counter()}), flush=True)


model.fit(x, y, batch_size=batch, epochs=epochs, validation_split=0.1, verbose=0, callbacks=[EpochEnds()])
"""


def epoch_ends(command: list[str], stamp_arrival: bool) -> list[float]:
    """Times of each epoch end: from the child's clock (plain) or when zoo's JSON line arrives."""
    ends: list[float] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = json.loads(line)
            if stamp_arrival and event.get("event") == "epoch":
                ends.append(time.perf_counter())
            elif not stamp_arrival:
                ends.append(event["t"])
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed with exit code {proc.returncode}")
    return ends


def per_epoch(ends: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(ends)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="/tmp/zoo-train-overhead")
    options = parser.parse_args()
    data_dir = os.environ.get("ZOO_DATA_DIR")
    if not data_dir or not (Path(data_dir) / "mnist.npz").is_file():
        raise SystemExit("set ZOO_DATA_DIR to the folder holding mnist.npz")
    mnist = str(Path(data_dir) / "mnist.npz")
    epochs, batch = str(options.epochs), str(options.batch_size)
    plain_cmd = [sys.executable, "-c", PLAIN, epochs, batch, mnist]
    zoo_cmd = [ZOO, "train", "lenet5", "--dataset", "mnist", "--epochs", epochs, "--batch-size", batch]
    zoo_cmd += ["--json", "--out", options.out]

    times: dict[str, list[float]] = {"plain keras": [], "zoo train": []}
    for r in range(options.rounds):
        for name, command, arrival in (("plain keras", plain_cmd, False), ("zoo train", zoo_cmd, True)):
            seconds = per_epoch(epoch_ends(command, arrival))
            times[name].extend(seconds)
            print(f"round {r + 1} {name}: " + ", ".join(f"{s:.2f}" for s in seconds) + " s", flush=True)

    samples = int(60000 * 0.9)
    rows = {
        name: {
            "median_epoch_s": round(statistics.median(values), 3),
            "mean_epoch_s": round(statistics.fmean(values), 3),
            "epochs_timed": len(values),
            "samples_per_s": round(samples / statistics.median(values), 1),
        }
        for name, values in times.items()
    }
    overhead = rows["zoo train"]["median_epoch_s"] / rows["plain keras"]["median_epoch_s"] - 1
    report = {
        "machine": machine(),
        "command": "python benchmarks/train_overhead.py " + " ".join(sys.argv[1:]),
        "architecture": "lenet5",
        "dataset": "mnist (54,000 training images, 6,000 validation)",
        "batch_size": options.batch_size,
        "epochs_per_run": options.epochs,
        "rounds": options.rounds,
        "per_epoch_seconds": times,
        "results": rows,
        "overhead_%": round(100 * overhead, 2),
        "target": "zoo's per-epoch time within 5% of plain Keras",
        "met": overhead <= 0.05,
    }
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "train_overhead.json", report)
    print(f"\nmachine: {report['machine']['cpu']}, {report['machine']['cores']} cores\n")
    print("| runner | median s/epoch | mean s/epoch | samples/s | epochs timed |")
    print("| --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        print(
            f"| {name} | {row['median_epoch_s']} | {row['mean_epoch_s']} | {row['samples_per_s']:,.0f} | "
            f"{row['epochs_timed']} |"
        )
    print(f"\nzoo's overhead: {100 * overhead:+.1f}% per epoch (target <= +5%)")


if __name__ == "__main__":
    main()
