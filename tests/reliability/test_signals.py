"""Signals (issue 16, points 9 to 12): SIGINT, SIGTERM and SIGHUP end any zoo command as
interrupted, from its first moment to its last, with exit code 128 + the signal's number; a run
keeps its last complete epoch, says ``interrupted`` in state.json, and leaves no lock and no
temporary file; ``zoo bench --isolate`` leaves no child behind; a multi-worker start whose peer
never comes gives up; a closed stdout does not stop training.

The subprocess tests send a real signal at a moment the command shows (the run folder, an epoch
saved, a child's pid file), never after a guessed delay; the in-process ones raise SIGINT inside
the command at the exact moments that lost it before (``zoo.core.signals`` installs its handler
for the command's duration, so pytest's own handler is back afterwards).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ZOO, invoke, zoo_subprocess_env
from zoo.runs import run_folder as runs

TRAIN = ["train", "dense-ae", "--dataset", "synthetic", "--batch-size", "64"]
CLOSED = "stdout was closed (the program reading it ended); zoo goes on without writing to it"
WAIT_S = 60  # the longest a command may take to end after its signal before the test fails


def _start(args: list[str], **kwargs) -> subprocess.Popen:
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    env = kwargs.pop("env", None) or zoo_subprocess_env(OPENBLAS_NUM_THREADS="1")
    return subprocess.Popen([ZOO, *args], stderr=subprocess.PIPE, text=True, env=env, **kwargs)


def _wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"zoo ended before {what}: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.001)


def _run_folder(out: Path) -> Path | None:
    """The run folder once it has appeared (its temporary name starts with a dot)."""
    found = [p for p in out.iterdir() if not p.name.startswith(".")] if out.is_dir() else []
    return found[0] if found else None


def _epochs_saved(out: Path) -> int:
    run = _run_folder(out)
    try:
        return int(json.loads((run / runs.STATE_FILE).read_text())["epochs_completed"]) if run else 0
    except (OSError, ValueError, KeyError):
        return 0


def _ended(process: subprocess.Popen) -> tuple[int, list[str]]:
    try:
        _, err = process.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"zoo did not end within {WAIT_S} s of its signal: {err[-2000:]}")
    return process.returncode, err.strip().splitlines()


def _check_interrupted(run: Path, code: int, lines: list[str], signum: int) -> int:
    """What a signal must leave: its exit code, one error line, state.json ``interrupted``
    agreeing with the history, no lock and no temporary file. The epochs kept."""
    assert code == 128 + signum, lines[-5:]
    errors = [line for line in lines if line.startswith("zoo: error")]
    by = "" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
    assert len(errors) == 1 and errors[0].startswith(f"zoo: error: interrupted{by}: "), lines[-5:]
    assert f"go on with: zoo train --resume {run}" in errors[0]
    state = json.loads((run / runs.STATE_FILE).read_text())
    assert state["status"] == "interrupted", state
    history = json.loads((run / runs.HISTORY_FILE).read_text()) if (run / runs.HISTORY_FILE).exists() else {}
    rows = {len(values) for values in history.values()} or {0}
    assert rows == {state["epochs_completed"]}, (rows, state)
    assert f" {state['epochs_completed']} of " in errors[0]
    left = sorted(p.name for p in run.iterdir() if p.name.startswith("."))
    assert left == [], f"left behind: {left}"
    assert [p.name for p in run.parent.iterdir() if p.name.startswith(".")] == []
    return state["epochs_completed"]


def _resume(run: Path, epochs: int) -> None:
    result = subprocess.run(
        [ZOO, "train", "--resume", str(run), "--epochs", str(epochs), "--quiet"],
        capture_output=True,
        text=True,
        env=zoo_subprocess_env(OPENBLAS_NUM_THREADS="1"),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    state = json.loads((run / runs.STATE_FILE).read_text())
    assert state["status"] == "complete" and state["epochs_completed"] == epochs


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_training_like_ctrl_c(tmp_path, signum):
    """Point 9: ``timeout 12 zoo train`` (SIGTERM) or a closed terminal (SIGHUP) killed zoo on
    the spot: no message, state.json "running", the lock and a temporary file left."""
    out = tmp_path / "runs"
    process = _start([*TRAIN, "--epochs", "500", "--out", str(out)])
    _wait_for(lambda: _epochs_saved(out) >= 1, process, "a saved epoch")
    process.send_signal(signum)
    code, lines = _ended(process)
    kept = _check_interrupted(_run_folder(out), code, lines, signum)
    assert kept >= 1
    if signum == signal.SIGTERM:
        _resume(_run_folder(out), kept + 1)


@pytest.mark.slow
def test_ctrl_c_as_the_run_folder_appears_is_never_lost(tmp_path):
    """Point 10: SIGINT sent the moment the run folder appears (its handler was not installed
    yet, or its exception was dropped) let the run train to its end and exit 0, or left it
    "running". Three tries, each must end interrupted; the last one is resumed to its end."""
    for attempt in range(3):
        out = tmp_path / f"runs{attempt}"
        process = _start([*TRAIN, "--epochs", "300", "--out", str(out)])
        _wait_for(lambda out=out: _run_folder(out) is not None, process, "run folder")
        process.send_signal(signal.SIGINT)
        code, lines = _ended(process)
        kept = _check_interrupted(_run_folder(out), code, lines, signal.SIGINT)
    _resume(_run_folder(out), kept + 1)


def _synthetic_run(registry, tmp_path: Path, *extra: str):
    return invoke(registry, *TRAIN, "--epochs", "2", "--out", str(tmp_path / "runs"), "--quiet", *extra)


def test_a_signal_whose_exception_is_dropped_still_interrupts(registry, tmp_path, monkeypatch):
    """Point 10, the lost Ctrl-C: Python runs a handler wherever the main thread is, also in a
    ``__del__``, where the KeyboardInterrupt it raises is printed and dropped; training then went
    on to the end and exited 0. Here the drop is made on purpose while the model compiles."""
    from zoo.training import train as train_module

    compile_model = train_module.compile_model

    def compile_and_drop_a_signal(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.01)
        except KeyboardInterrupt:
            pass  # what "Exception ignored in: <function ... __del__>" does
        return compile_model(*args, **kwargs)

    monkeypatch.setattr(train_module, "compile_model", compile_and_drop_a_signal)
    result = _synthetic_run(registry, tmp_path)
    assert result.exit_code == 130, result.stderr
    assert result.stderr.strip().startswith("zoo: interrupted"), result.stderr
    assert not (tmp_path / "runs").exists() or _run_folder(tmp_path / "runs") is None


def test_a_signal_while_the_run_folder_appears_ends_it_interrupted(registry, tmp_path, monkeypatch):
    """Point 10: SIGINT just after the new run folder is renamed into place, its lock not yet in
    a ``with``, left state.json "running" and the lock file; now it is only recorded there and
    the run ends interrupted at its first checkpoint."""
    from zoo.runs import locks

    moved = locks.FolderLock.moved

    def moved_and_signal(self, path):  # the folder has its final name, its lock is not yet in a ``with``
        moved(self, path)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(locks.FolderLock, "moved", moved_and_signal)
    result = _synthetic_run(registry, tmp_path)
    run = _run_folder(tmp_path / "runs")
    assert run is not None, result.stderr
    lines = result.stderr.strip().splitlines()
    assert _check_interrupted(run, result.exit_code, lines, signal.SIGINT) == 0


@pytest.mark.slow
def test_bench_isolate_leaves_no_child_behind(tmp_path):
    """Point 9: SIGTERM to ``zoo bench --isolate`` ended the parent and left the child measuring."""
    import onnx
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "tiny",
        [value("x", TensorProto.FLOAT, ["N", 4])],
        [value("y", TensorProto.FLOAT, ["N", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "tiny.onnx")
    pid_file = tmp_path / "child.pid"
    (tmp_path / "zoo_test_slow_child.py").write_text(  # preloaded by the child: a cell that never ends
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n"
    )
    env = zoo_subprocess_env(ZOO_ORT_PRELOAD="zoo_test_slow_child", PYTHONPATH=str(tmp_path))
    process = _start(["bench", str(tmp_path / "tiny.onnx"), "--isolate", "--batch-sizes", "1"], env=env)
    _wait_for(lambda: pid_file.exists() and pid_file.read_text(), process, "child")
    child = int(pid_file.read_text())
    process.send_signal(signal.SIGTERM)
    code, lines = _ended(process)
    assert code == 143 and lines[-1] == "zoo: interrupted (SIGTERM)", lines
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child measuring a cell outlived its parent")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multiworker_gives_up_on_a_peer_that_never_starts(tmp_path):
    """Point 11: a worker whose peer never came waited for ever (TensorFlow sets no deadline and
    swallowed SIGTERM); now it gives up after ZOO_WORKER_TIMEOUT seconds, one line, exit 2."""
    cluster = {"worker": [f"localhost:{_free_port()}", f"localhost:{_free_port()}"]}
    tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}})
    env = zoo_subprocess_env(TF_CONFIG=tf_config, ZOO_WORKER_TIMEOUT="2", OPENBLAS_NUM_THREADS="1")
    started = time.monotonic()
    process = _start([*TRAIN, "--epochs", "1", "--strategy", "multiworker", "--out", str(tmp_path)], env=env)
    code, lines = _ended(process)
    assert code == 2, lines[-5:]
    (line,) = lines
    assert "not every worker in TF_CONFIG started within 2 s" in line and "ZOO_WORKER_TIMEOUT" in line
    assert time.monotonic() - started < WAIT_S
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ZOO_CPU_DEVICES", "100000", "ZOO_CPU_DEVICES must be a whole number from 1 to 64"),
        ("ZOO_WORKER_TIMEOUT", "soon", "ZOO_WORKER_TIMEOUT='soon' is not a positive number"),
    ],
)
def test_start_up_settings_are_refused_before_tensorflow(
    registry, tmp_path, monkeypatch, variable, value, message
):
    """Point 11: ZOO_CPU_DEVICES=100000 was still starting TensorFlow's devices after 300 s."""
    from zoo.training import fit

    def no_tensorflow():
        raise AssertionError("TensorFlow started before the setting was checked")

    monkeypatch.setattr(fit, "import_keras", no_tensorflow)
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {}}))
    strategy = ["--strategy", "multiworker"] if variable == "ZOO_WORKER_TIMEOUT" else []
    result = invoke(registry, *TRAIN, "--out", str(tmp_path / "runs"), *strategy)
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert message in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("as_json", [False, True], ids=["progress", "json"])
def test_a_closed_stdout_does_not_stop_training(tmp_path, as_json):
    """Point 12: ``zoo train ... | head -1`` failed the run at the next progress line (exit 1).
    Now training goes on to the end without output, says so once on stderr, and exits 0: the
    run is complete, which is what the exit code reports."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before zoo writes a line: its first write meets a closed pipe
    out = tmp_path / "runs"
    process = _start(
        [*TRAIN, "--epochs", "2", "--out", str(out), *(["--json"] if as_json else [])], stdout=write
    )
    os.close(write)
    code, lines = _ended(process)
    assert code == 0, lines[-5:]
    closed = [line for line in lines if "stdout was closed" in line]
    assert closed == [
        "zoo: warning: stdout was closed (the program reading it ended); zoo goes on without writing to it"
    ]
    assert not [line for line in lines if "error" in line], lines
    state = json.loads((_run_folder(out) / runs.STATE_FILE).read_text())
    assert state["status"] == "complete" and state["epochs_completed"] == 2


def test_a_closed_stdout_is_said_once_in_process(registry, tmp_path, monkeypatch, capsys):
    """Point 12 without a subprocess: a stdout that raises BrokenPipeError at every write, as a
    closed pipe does; the command completes, exit 0, one warning on stderr."""
    from zoo.cli import cli

    class ClosedPipe:
        encoding, errors = "utf-8", "strict"

        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    args = [*TRAIN, "--epochs", "1", "--out", str(tmp_path / "runs"), "--json"]
    code = cli.main(args, standalone_mode=False, obj=registry)
    stderr = capsys.readouterr().err
    assert code == 0, stderr
    assert stderr.count("stdout was closed") == 1, stderr
    state = json.loads((_run_folder(tmp_path / "runs") / runs.STATE_FILE).read_text())
    assert state["status"] == "complete"
