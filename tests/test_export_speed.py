"""Lower precision is timed against float32 on this machine: the manifest says by how much, the
command warns when a file is slower, and among int8 variants the fastest is kept (issue 15,
defect 9). No test asserts a time: the timer is replaced where the decision is tested."""

from __future__ import annotations

import json

import pytest
import zoo_onnx.speed

from tests.conftest import invoke


@pytest.fixture(scope="module")
def static_int8(tmp_path_factory):
    from tests.conftest import make_registry

    out = tmp_path_factory.mktemp("int8") / "lenet5-int8"
    result = invoke(
        make_registry(), "export", "lenet5", "--untrained", "--quantize", "static", "--out", str(out)
    )
    assert result.exit_code == 0, result.stderr
    return json.loads((out / "manifest.json").read_text())


def test_an_int8_file_records_its_speed_against_float32(static_int8):
    """Fails if: the export stops timing a lower-precision file, or records a speed-up that is not
    float32's time over the file's."""
    for entry in static_int8["files"]:
        timed = entry["speed_vs_float32"]
        assert timed["batch_sizes"] == [1, 64]
        for batch in ("1", "64"):
            assert timed["speedup"][batch] == pytest.approx(
                timed["float32_ms"][batch] / timed["ms"][batch], rel=1e-2
            )
        assert timed["slower"] == any(s < zoo_onnx.speed.SLOWER_BELOW for s in timed["speedup"].values())


def test_the_fastest_static_int8_variant_is_kept_and_every_one_tried_is_recorded(static_int8):
    """Fails if: the choice among int8 variants is not the fastest timed, or the variants are not
    recorded."""
    for entry in static_int8["files"]:
        chosen = entry["quantization"]
        assert chosen["mode"] == "static" and chosen["batch_size"] == 64
        assert chosen["chosen"] == min(chosen["ms"], key=chosen["ms"].get)
    full = next(e for e in static_int8["files"] if e["part"] == "full")
    assert set(full["quantization"]["ms"]) == {"QDQ per-tensor", "QDQ per-channel", "QDQ MatMul/Gemm only"}


def test_fastest_picks_the_quickest_candidate(monkeypatch):
    """Fails if: ``fastest`` picks another candidate than the one with the least time."""
    times = {"a": 3.0, "b": 1.0, "c": 2.0}
    monkeypatch.setattr(zoo_onnx.speed, "median_ms", lambda proto, inputs: times[proto])
    assert zoo_onnx.speed.fastest({name: name for name in times}, []) == ("b", times)


@pytest.mark.parametrize(("speedup", "warned"), [(0.5, True), (0.97, False), (1.4, False)])
def test_the_command_warns_when_a_lower_precision_file_is_slower(monkeypatch, tmp_path, speedup, warned):
    """Fails if: a file slower than float32 on this machine passes without a word (or a faster one
    gets a warning)."""
    from tests.conftest import make_registry

    def timed(float32, lowered, inputs, layout, batches):
        found = {"batch_sizes": batches, "float32_ms": {}, "ms": {}, "speedup": {}}
        for batch in map(str, batches):
            found["float32_ms"][batch], found["ms"][batch], found["speedup"][batch] = (
                1.0,
                1.0 / speedup,
                speedup,
            )
        return {**found, "slower": speedup < zoo_onnx.speed.SLOWER_BELOW}

    monkeypatch.setattr(zoo_onnx.speed, "versus_float32", timed)
    result = invoke(
        make_registry(), "export", "dense-ae", "--untrained", "--dtype", "fp16", "--out", str(tmp_path / "x")
    )
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "slower than float32" in line]
    if warned:
        assert len(lines) == 3
        assert lines[0] == (
            "zoo: warning: model.onnx (fp16) runs 2.0x slower than float32 on this machine's CPU at batch 1 "
            "(2 ms against 1 ms): it is smaller, not faster here"
        )
    else:
        assert lines == []
