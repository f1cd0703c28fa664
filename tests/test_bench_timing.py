"""``--seconds``: each row is measured for the time asked (issue 15). A clock is injected and
the timed calls are faked: no test asserts a duration. Each docstring names the break the test
was seen to catch ("Fails if: ...").
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import invoke
from tests.test_bench_placement import write_tiny_model


@pytest.fixture
def tiny_model(tmp_path):
    return write_tiny_model(tmp_path / "tiny.onnx")


class FakeClock:
    """A clock that moves only when the function timed runs."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.calls = 100.0, step, 0

    def __call__(self) -> float:
        return self.now

    def run(self) -> None:
        self.calls += 1
        self.now += self.step


@pytest.mark.parametrize(
    ("seconds", "step", "runs"),
    [(3.0, 0.25, 12), (30.0, 0.5, 60), (0.0, 0.25, 10), (1.0, 0.25, 10)],
)
def test_the_loop_measures_for_the_seconds_asked(seconds, step, runs):
    """``--seconds`` S: calls until S have passed on the clock (at least ``min_runs``); the
    warm-up is not measured. The clock is injected: no wall-clock time is asserted.

    Fails if: ``seconds`` is ignored (only the minimum of 10 runs made: 10 runs where 12 or 60
    were due), or the warm-up is counted among the runs."""
    from zoo.bench.timing import time_calls

    clock = FakeClock(step)
    latencies = time_calls(clock.run, seconds, min_runs=10, warmup=3, clock=clock)
    assert len(latencies) == runs and clock.calls == runs + 3
    assert latencies == [step] * runs
    assert sum(latencies) == pytest.approx(max(seconds, 10 * step))


def test_the_seconds_given_reach_every_timed_row(monkeypatch, tiny_model, registry):
    """``zoo bench FILE --seconds 2.5``: each row is timed for 2.5 s, and the report says so.

    Fails if: the command line or ``measure`` drops ``--seconds`` (the default 1 s, or 0, timed
    instead)."""
    import zoo.bench.measure as bench_measure

    asked = []

    def time_calls(fn, seconds, min_runs, warmup):
        asked.append(seconds)
        fn()
        return [0.001] * min_runs

    monkeypatch.setattr(bench_measure, "time_calls", time_calls)
    result = invoke(
        registry,
        "bench",
        str(tiny_model),
        "--provider",
        "cpu",
        "--seconds",
        "2.5",
        "--batch-sizes",
        "1,3",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert asked == [2.5, 2.5] and report["seconds_per_cell"] == 2.5
    assert [r["runs"] for r in report["rows"]] == [10, 10]
