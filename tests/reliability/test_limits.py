"""Limits on what a small file can make zoo do (issue 16, points 8 and 22).

- a model.keras whose members claim far more than they store (a config.json of 200 MiB of
  spaces in a 200 KB archive) is refused, naming the file and the limit, before any member is
  read; the limits are settings (``ZOO_MAX_KERAS_CONFIG_MB``, ``ZOO_MAX_KERAS_EXPANSION``);
- an ONNX inference that would run for ever (a Loop of 10^12 iterations) is stopped after
  ``ZOO_RUN_TIMEOUT`` seconds in ``zoo bench`` (one line, exit 2) and ``zoo verify`` (a FAIL
  line, exit 1, as any file that cannot be run);
- ``zoo bench`` of a file with a fixed batch, no inputs, or inputs it cannot fill says so in
  one line.

The bombs are streamed through zipfile (200 MiB of spaces deflate in half a second to
200 KB), so the test itself never holds them in memory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ZOO, invoke, make_registry, zoo_subprocess_env
from zoo.core import settings

# Under Keras' own guard (256 MiB), which would refuse it after zoo had read it whole.
BOMB_MIB = 200


def _deflated(name: str, date_time: tuple[int, ...]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


@pytest.fixture(scope="module")
def trained(runs) -> Path:
    """A trained dense-ae run (shared with the other reliability tests: trained once)."""
    return runs.run("dense-ae")


def _copy(trained: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def _bomb(run: Path, member: str, mib: int) -> Path:
    """The run's model.keras with ``member`` padded by ``mib`` MiB: still a valid model
    (JSON allows spaces, HDF5 ignores bytes past its end), deflated to about 1/1000."""
    model_file = run / "model.keras"
    original = model_file.with_suffix(".orig")
    model_file.rename(original)
    pad = (b" " if member.endswith(".json") else b"\0") * 2**20
    with zipfile.ZipFile(original) as source, zipfile.ZipFile(model_file, "w") as target:
        for info in source.infolist():
            if info.filename != member:
                target.writestr(info, source.read(info))
                continue
            with target.open(_deflated(member, info.date_time), "w", force_zip64=True) as out:
                out.write(source.read(info))
                for _ in range(mib):
                    out.write(pad)
    original.unlink()
    return model_file


def _refused(result, model_file: Path, *words: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("zoo: warning: --unsafe")]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"zoo: error: Cannot load {str(model_file)!r}: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_config_json_unpacking_to_200_mib_is_refused_unread(trained, tmp_path, monkeypatch):
    """Fails if: zoo reads (and Keras parses) a config.json that unpacks to 200 MiB from a
    200 KB archive, rather than refusing it by its declared size (the default limit, 64 MiB)."""
    run = _copy(trained, tmp_path)
    model_file = _bomb(run, "config.json", BOMB_MIB)
    assert model_file.stat().st_size < 2 * 2**20
    line = _refused(invoke(make_registry(), "evaluate", str(run)), model_file)
    assert line.endswith(
        f"its config.json unpacks to {BOMB_MIB:,}.0 MiB, more than 64.0 MiB "
        f"(raise {settings.MAX_KERAS_CONFIG_MB} for a file you trust)"
    ), line
    # Outside safe mode too: Keras would read it all the same.
    monkeypatch.setenv(settings.UNSAFE_LOAD_CODE, "")  # the flag sets it in this process
    _refused(invoke(make_registry(), "--unsafe-load-code", "evaluate", str(run)), model_file, "config.json")


def test_a_weights_member_unpacking_1000_times_is_refused_unread(trained, tmp_path):
    """Fails if: a model.weights.h5 padded with 200 MiB of zeros (still valid HDF5, stored in
    200 KB) is read into memory by Keras rather than refused for its expansion (default 100x)."""
    run = _copy(trained, tmp_path)
    model_file = _bomb(run, "model.weights.h5", BOMB_MIB)
    line = _refused(invoke(make_registry(), "export", str(run), "--out", str(tmp_path / "x")), model_file)
    assert "its model.weights.h5 unpacks to " in line and "more than 100 times" in line, line
    assert line.endswith(f"(raise {settings.MAX_KERAS_EXPANSION} for a file you trust)"), line
    assert not (tmp_path / "x").exists()


def test_the_limits_are_settings(trained, tmp_path, monkeypatch):
    """Fails if: ZOO_MAX_KERAS_CONFIG_MB does not lower or raise the config.json limit, or a
    value that is no positive number is taken rather than refused naming the variable."""
    run = _copy(trained, tmp_path)
    model_file = _bomb(run, "config.json", 3)
    monkeypatch.setenv(settings.MAX_KERAS_CONFIG_MB, "1")
    line = _refused(invoke(make_registry(), "evaluate", str(run)), model_file)
    assert "its config.json unpacks to 3.0 MiB, more than 1.0 MiB" in line
    monkeypatch.setenv(settings.MAX_KERAS_CONFIG_MB, "4")
    result = invoke(make_registry(), "evaluate", str(run), "--json")
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv(settings.MAX_KERAS_EXPANSION, "lots")
    result = invoke(make_registry(), "evaluate", str(run))
    assert result.exit_code == 2
    assert result.stderr == f"zoo: error: {settings.MAX_KERAS_EXPANSION}='lots' is not a positive number\n"


# --- ONNX files: a run that never ends, inputs bench cannot feed ------------------------------


def _onnx(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    from onnx import checker, helper, save

    graph = helper.make_graph(nodes, path.stem, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    checker.check_model(model, full_check=True)
    save(model, str(path))
    return path


def _value(name: str, shape: list, kind: str = "FLOAT"):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, getattr(TensorProto, kind), shape)


def _endless_loop(path: Path) -> Path:
    """y = x + 10^12: a Loop adding 1 at each of 10^12 iterations (a 300-byte file)."""
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [helper.make_node("Identity", ["go"], ["go_on"]), helper.make_node("Add", ["v", "one"], ["v_next"])],
        "body",
        [_value("i", [], "INT64"), _value("go", [], "BOOL"), _value("v", ["N", 4])],
        [_value("go_on", [], "BOOL"), _value("v_next", ["N", 4])],
        initializer=[helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )
    return _onnx(
        path,
        [helper.make_node("Loop", ["trips", "go", "x"], ["y"], body=body)],
        [_value("x", ["N", 4])],
        [_value("y", ["N", 4])],
        [
            helper.make_tensor("trips", TensorProto.INT64, [], [10**12]),
            helper.make_tensor("go", TensorProto.BOOL, [], [True]),
        ],
    )


def _test_set(folder: Path, x, y) -> None:
    from onnx import numpy_helper

    data = folder / "test_data_set_0"
    data.mkdir()
    (data / "input_0.pb").write_bytes(numpy_helper.from_array(x, "x").SerializeToString())
    (data / "output_0.pb").write_bytes(numpy_helper.from_array(y, "y").SerializeToString())


def _zoo(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    """zoo in a process of its own: a regression that never ends fails on the timeout."""
    return subprocess.run(
        [ZOO, *args], capture_output=True, text=True, timeout=timeout, env=zoo_subprocess_env(**env)
    )


def test_bench_stops_an_inference_past_the_time_limit(tmp_path):
    """Fails if: ``zoo bench`` of a Loop of 10^12 iterations runs for ever (here: past the
    test's timeout) instead of stopping the inference after ZOO_RUN_TIMEOUT seconds."""
    model = _endless_loop(tmp_path / "loop.onnx")
    started = time.monotonic()
    result = _zoo(
        "bench", str(model), "--provider", "cpu", "--seconds", "0.01", **{settings.RUN_TIMEOUT: "1"}
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"zoo: error: ONNX Runtime stopped {str(model)!r} at batch 1: one inference ran past 1 s "
        f"(raise {settings.RUN_TIMEOUT} for a model this slow)\n"
    )
    assert time.monotonic() - started < 30


def test_verify_fails_a_file_whose_run_passes_the_time_limit(tmp_path):
    """Fails if: ``zoo verify`` of a Loop of 10^12 iterations runs for ever instead of failing
    the file (FAIL, exit 1, as a file that cannot be run) after ZOO_RUN_TIMEOUT seconds."""
    import numpy as np

    model = _endless_loop(tmp_path / "loop.onnx")
    _test_set(tmp_path, np.zeros((2, 4), np.float32), np.zeros((2, 4), np.float32))
    result = _zoo("verify", str(model), **{settings.RUN_TIMEOUT: "1"})
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"FAIL {model}",
        "       onnx.checker full check passed",
        "       FAILED: test_data_set_0: ONNX Runtime stopped after 1 s, the limit on one run "
        f"(raise {settings.RUN_TIMEOUT} for a model this slow)",
    ]
    bad = _zoo("verify", str(model), **{settings.RUN_TIMEOUT: "soon"})
    assert bad.returncode == 2
    assert bad.stderr == f"zoo: error: {settings.RUN_TIMEOUT}='soon' is not a positive number\n"


def test_the_reference_evaluator_stops_past_the_time_limit(tmp_path, monkeypatch):
    """Fails if: ONNX's reference evaluator (``zoo verify --reference``) runs the 10^12
    iterations (pure Python) instead of stopping at ZOO_RUN_TIMEOUT; run in a thread here, so
    that a regression fails on the join's timeout instead of hanging the suite."""
    import threading

    import numpy as np
    import onnx
    from zoo_onnx import verify as verify_module
    from zoo_onnx.session import RunTimedOut

    proto = onnx.load(str(_endless_loop(tmp_path / "loop.onnx")))
    monkeypatch.setenv(settings.RUN_TIMEOUT, "0.5")
    raised: list[BaseException] = []

    def run() -> None:
        try:
            verify_module.run_reference(proto, {"x": np.zeros((1, 4), np.float32)})
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the reference evaluator was still running after 30 s"
    assert len(raised) == 1 and isinstance(raised[0], RunTimedOut), raised
    assert str(raised[0]) == (
        "the reference evaluator stopped after 0.5 s, the limit on one run "
        f"(raise {settings.RUN_TIMEOUT} for a model this slow)"
    )


def _relu(path: Path, shape: list, kind: str = "FLOAT") -> Path:
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Relu", ["xf"], ["y"]),
    ]
    return _onnx(path, nodes, [_value("x", shape, kind)], [_value("y", shape)])


def _bench(model: Path, *args: str):
    return invoke(None, "bench", str(model), "--provider", "cpu", "--seconds", "0.01", *args)


@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "isolate"])
def test_bench_measures_a_fixed_batch_file_at_its_batch_and_says_so(tmp_path, isolate):
    """Fails if: ``zoo bench`` of a file exported with a batch of 1 tries the default batch sizes
    (an internal error at batch 32) instead of measuring batch 1 and saying so in one line."""
    model = _relu(tmp_path / "fixed.onnx", [1, 3, 8])
    result = _bench(model, "--json", *(["--isolate"] if isolate else []))
    assert result.exit_code == 0, result.stderr
    assert (
        result.stderr == f"zoo: warning: {str(model)!r} has a fixed batch of 1; benchmarking batch 1 only\n"
    )
    assert {row["batch_size"] for row in json.loads(result.stdout)["rows"]} == {1}


def test_bench_refuses_batch_sizes_a_fixed_batch_file_cannot_take(tmp_path):
    """Fails if: --batch-sizes 1,32 given for a file with a fixed batch of 1 is an internal error
    (or silently ignored) rather than refused in one line naming the file and the option."""
    model = _relu(tmp_path / "fixed.onnx", [1, 3, 8])
    result = _bench(model, "--batch-sizes", "1,32,64")
    assert result.exit_code == 2
    assert result.stderr == (
        f"zoo: error: {str(model)!r} has a fixed batch of 1: it cannot run at batch 32, 64 "
        "(give --batch-sizes 1)\n"
    )
    assert _bench(model, "--batch-sizes", "1").exit_code == 0


def test_bench_says_in_one_line_what_it_cannot_feed(tmp_path):
    """Fails if: a file with no inputs (IndexError), a string input, or a graph that takes only
    batch 1 while declaring any batch is an internal error rather than one line naming the file."""
    from onnx import TensorProto, helper

    constant = helper.make_node(
        "Constant", [], ["y"], value=helper.make_tensor("c", TensorProto.FLOAT, [1], [1.0])
    )
    empty = _onnx(tmp_path / "empty.onnx", [constant], [], [_value("y", [1])])
    result = _bench(empty)
    assert (result.exit_code, result.stderr) == (
        2,
        f"zoo: error: {str(empty)!r} takes no inputs: zoo bench times a model fed a batch of inputs\n",
    )

    strings = _onnx(
        tmp_path / "strings.onnx",
        [helper.make_node("Identity", ["x"], ["y"])],
        [_value("x", ["N"], "STRING")],
        [_value("y", ["N"], "STRING")],
    )
    result = _bench(strings)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"zoo: error: {str(strings)!r} takes input 'x' of type tensor(string), which zoo bench cannot fill ("
    )
    assert len(result.stderr.splitlines()) == 1

    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 4])
    hidden = _onnx(
        tmp_path / "hidden.onnx",
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [_value("x", ["N", 4])],
        [_value("y", [1, 4])],
        [shape],
    )
    result = _bench(hidden, "--batch-sizes", "1,32")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"zoo: error: ONNX Runtime cannot run {str(hidden)!r} at batch 32: ")
    assert len(result.stderr.splitlines()) == 1


def test_bench_feeds_integer_ids_and_fixed_inner_axes(tmp_path):
    """Integer inputs (token ids) get 0, a fixed non-batch axis its size, at every batch size."""
    model = _relu(tmp_path / "ids.onnx", ["batch", 3, 8], "INT64")
    result = _bench(model, "--json", "--batch-sizes", "1,4")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert [row["batch_size"] for row in report["rows"]] == [1, 4]
    assert report["input_data"] == "random in [0, 1), 0 for integer and boolean inputs"
