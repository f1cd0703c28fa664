"""A bounded soak of ONNX Runtime through zoo's bench path: thousands of runs of one session, and
hundreds of sessions opened and dropped, leave the process's resident memory where it was.

A leak per run or per session (an arena that keeps growing, a session that is never freed) is
invisible in one benchmark and fatal in a serving process; 5,000 runs or 300 sessions make a
leak of a few KiB each show up as megabytes. Memory is the current RSS (/proc/self/statm), read
after a warm-up, so that ONNX Runtime's one-off allocations are not counted.
"""

from __future__ import annotations

import gc
import os
import sys
import time

import numpy as np
import pytest

from zoo.bench.feeds import input_feed, run_samples
from zoo.bench.sessions import open_session
from zoo.bench.settings import BenchSettings, SessionSettings

pytestmark = [
    pytest.mark.slow,  # about 20 s of inference on a 2-core machine, besides training LeNet-5
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm"),
]

RUNS = 5_000
BATCH = 32
CYCLES = 300
GROWTH_LIMIT_MIB = 20.0
SETTINGS = SessionSettings(threads=1)  # one core: the soak should not starve what runs beside it


def rss_mib() -> float:
    """The resident memory of this process now (not its peak), in MiB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        resident_pages = int(fh.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def settled_rss_mib() -> float:
    gc.collect()
    return rss_mib()


@pytest.fixture(scope="module")
def lenet5_onnx(runs):
    return runs.export("lenet5") / "model.onnx"


def test_thousands_of_runs_of_one_session_do_not_grow_memory(lenet5_onnx):
    session = open_session(lenet5_onnx, BenchSettings("cpu", session=SETTINGS)).session
    feed = input_feed(session, BATCH, samples=run_samples(lenet5_onnx))
    first = session.run(None, feed)[0]
    for _ in range(200):  # warm-up: arenas and caches reach their working size
        session.run(None, feed)
    before = settled_rss_mib()
    started = time.perf_counter()
    for _ in range(RUNS):
        last = session.run(None, feed)[0]
    seconds = time.perf_counter() - started
    after = settled_rss_mib()
    print(
        f"\nsoak: {RUNS} runs at batch {BATCH} in {seconds:.1f} s: "
        f"RSS {before:.1f} MiB -> {after:.1f} MiB ({after - before:+.1f} MiB)"
    )
    assert first.shape == (BATCH, 10)
    np.testing.assert_array_equal(last, first)  # the 5,000th run is the first
    assert after - before < GROWTH_LIMIT_MIB


def test_hundreds_of_sessions_opened_and_dropped_do_not_grow_memory(lenet5_onnx):
    samples = run_samples(lenet5_onnx)

    def cycle() -> None:
        session = open_session(lenet5_onnx, BenchSettings("cpu", session=SETTINGS)).session
        session.run(None, input_feed(session, BATCH, samples=samples))
        del session

    for _ in range(20):
        cycle()
    before = settled_rss_mib()
    started = time.perf_counter()
    for _ in range(CYCLES):
        cycle()
    seconds = time.perf_counter() - started
    after = settled_rss_mib()
    print(
        f"\nsoak: {CYCLES} sessions created, run once and dropped in {seconds:.1f} s: "
        f"RSS {before:.1f} MiB -> {after:.1f} MiB ({after - before:+.1f} MiB)"
    )
    assert after - before < GROWTH_LIMIT_MIB
