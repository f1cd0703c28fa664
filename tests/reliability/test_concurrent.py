"""Two zoo commands writing one folder: the second is refused at once with one line and exit
code 2, the first finishes intact; a lock whose holder was killed blocks no one (``zoo.runs.locks``).

The first command is frozen with SIGSTOP while it holds its lock, so the second meets the lock
however slow the machine is; the moment to freeze or kill it is a line it prints (an epoch
saved) or a folder it creates (the export's temporary folder), never a guessed delay.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ZOO, invoke, zoo_subprocess_env
from zoo.core.errors import FolderBusy
from zoo.runs import atomic, locks
from zoo.runs import run_folder as runs

pytestmark = pytest.mark.slow

BUSY = "is being written by another zoo process (pid "


def _new_run(tmp_path: Path) -> Path:
    from tests.conftest import make_registry
    from zoo.training.train import TrainRequest, train

    request = TrainRequest("dense-ae", dataset="synthetic", epochs=1, batch_size=32, out=tmp_path / "runs")
    return train(make_registry(), request, verbose=0).path


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [ZOO, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=zoo_subprocess_env()
    )


def _refused(*args: str, holder: subprocess.Popen) -> None:
    """``zoo ARGS`` meets the lock that ``holder`` holds: one line, exit code 2, at once."""
    started = time.perf_counter()
    result = _zoo(*args, timeout=120)
    seconds = time.perf_counter() - started
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("zoo: error: ") and f"{BUSY}{holder.pid})" in line, line
    assert seconds < 20, f"refused only after {seconds:.1f} s: it should not start TensorFlow first"


def _zoo(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = zoo_subprocess_env()
    return subprocess.run([ZOO, *args], capture_output=True, text=True, env=env, timeout=timeout)


def _export_started(process: subprocess.Popen, folder: Path, name: str, timeout: float = 180) -> None:
    """Wait until the export writes its temporary folder (it holds its lock by then), or ends."""
    deadline = time.monotonic() + timeout
    while not atomic.leftovers(folder, name) and process.poll() is None:
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.05)


def _finish(process: subprocess.Popen) -> str:
    try:
        out, err = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 0, err[-3000:]
    return out


def _state(run_dir: Path) -> dict:
    return json.loads((run_dir / runs.STATE_FILE).read_text())


def _status_shown(registry, run_dir: Path) -> str:
    listed = invoke(registry, "runs", str(run_dir.parent), "--json")
    assert listed.exit_code == 0, listed.stderr
    (row,) = (r for r in json.loads(listed.stdout) if r["name"] == run_dir.name)
    return row["status"]


def _verified(registry, folder: Path) -> None:
    result = invoke(registry, "verify", str(folder), "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["passed"], result.stdout[-2000:]


def test_a_lock_refuses_a_second_holder_and_dies_with_its_process(tmp_path):
    """No TensorFlow here: a plain process takes a run's lock, and is killed."""
    code = "import sys; from zoo.runs import locks; lock = locks.hold_run(sys.argv[1])"
    code += "; print('held', flush=True); input()"
    holder = subprocess.Popen(
        [PYTHON, "-c", code, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy, match=re.escape(f"{BUSY}{holder.pid})")):
            locks.hold_run(tmp_path)
        assert locks.is_held(locks.run_lock(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    assert locks.run_lock(tmp_path).exists(), "a killed holder leaves its lock file..."
    assert not locks.is_held(locks.run_lock(tmp_path)), "...but not its lock"
    with locks.hold_run(tmp_path), pytest.raises(FolderBusy):
        locks.hold_run(tmp_path)  # also within one process
    assert not locks.run_lock(tmp_path).exists(), "a released lock removes its file"


def test_a_second_resume_is_refused_and_the_first_finishes(registry, tmp_path):
    run_dir = _new_run(tmp_path)
    first = _start("train", "--resume", str(run_dir), "--epochs", "4", "--json")
    try:
        assert json.loads(first.stdout.readline())["epoch"] == 2, first.stderr.read()[-2000:]
        first.send_signal(signal.SIGSTOP)  # frozen with the lock held
        try:
            _refused("train", "--resume", str(run_dir), "--epochs", "5", holder=first)
            assert _status_shown(registry, run_dir) == "running"
        finally:
            first.send_signal(signal.SIGCONT)
    finally:
        out = _finish(first)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [e["epoch"] for e in lines if e["event"] == "epoch"] == [3, 4]
    state = _state(run_dir)
    assert state["status"] == "complete" and state["epochs_completed"] == 4
    assert len(runs.Run.open(run_dir).history["loss"]) == 4
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(".")], "the lock went with its holder"


def test_a_killed_trainer_blocks_no_one(registry, tmp_path):
    run_dir = _new_run(tmp_path)
    first = _start("train", "--resume", str(run_dir), "--epochs", "6", "--json")
    try:
        assert json.loads(first.stdout.readline())["epoch"] == 2, first.stderr.read()[-2000:]
    finally:
        first.kill()
        first.communicate()
    assert locks.run_lock(run_dir).exists() and _state(run_dir)["status"] == "running"
    assert _status_shown(registry, run_dir) == "interrupted", "no process holds it: not running"
    second = _zoo("train", "--resume", str(run_dir), "--json")
    assert second.returncode == 0, second.stderr[-3000:]
    state = _state(run_dir)
    assert state["status"] == "complete" and state["epochs_completed"] == 6
    assert len(runs.Run.open(run_dir).history["loss"]) == 6


def test_a_second_export_to_the_same_folder_is_refused_and_the_first_finishes(registry, tmp_path):
    run_dir = _new_run(tmp_path)
    out = tmp_path / "exported"
    first = _start("export", str(run_dir), "--out", str(out))
    try:
        _export_started(first, tmp_path, out.name)
        first.send_signal(signal.SIGSTOP)  # frozen with the lock held, its folder half-written
        try:
            _refused("export", str(run_dir), "--out", str(out), holder=first)
        finally:
            first.send_signal(signal.SIGCONT)
    finally:
        _finish(first)
    _verified(registry, out)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_killed_exporter_blocks_no_one(registry, tmp_path):
    run_dir = _new_run(tmp_path)
    first = _start("export", str(run_dir))
    try:
        _export_started(first, run_dir, "onnx")
    finally:
        first.kill()
        first.communicate()
    assert first.returncode == -signal.SIGKILL
    assert atomic.leftovers(run_dir, "onnx") and locks.output_lock(run_dir / "onnx").exists()
    assert not (run_dir / "onnx").exists()
    second = _zoo("export", str(run_dir))
    assert second.returncode == 0, second.stderr[-3000:]
    _verified(registry, run_dir / "onnx")
    leftovers = [p.name for p in run_dir.iterdir() if p.name.startswith(".")]
    assert not leftovers, f"the second export should clean what the first left: {leftovers}"


def test_runs_started_in_the_same_second_get_different_folders(tmp_path, monkeypatch):
    """Another run publishes the name this one picked while it writes: this one takes the next
    name (the rename never merges into or replaces the other's folder)."""
    real = runs.new_run_path
    taken: list[Path] = []

    def racing(out: Path, arch: str) -> Path:
        path = real(out, arch)
        if not taken:  # the other process renames its folder into place right after our pick
            path.mkdir(parents=True)
            (path / "theirs").write_text("x")
            taken.append(path)
        return path

    monkeypatch.setattr(runs, "new_run_path", racing)
    run_dir = _new_run(tmp_path)
    # the next name: taken[0]'s with a counter, or a new second's if the clock moved on meanwhile
    assert run_dir != taken[0] and run_dir.name.startswith("dense-ae-")
    assert sorted(p.name for p in taken[0].iterdir()) == ["theirs"]
    assert _state(run_dir)["status"] == "complete"
    assert atomic.leftovers(tmp_path / "runs") == []


def test_a_new_run_clears_what_killed_new_runs_left_and_nothing_else(tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    old, fresh, held = (out / f".dense-ae-20260101-00000{i}.abcd_12{i}.tmp" for i in range(3))
    for path in (old, fresh, held):
        path.mkdir()
        (path / runs.CONFIG_FILE).write_text("{}")
    an_hour_ago = time.time() - 3600
    for path in (old, held):
        os.utime(path, (an_hour_ago, an_hour_ago))
    with locks.hold_run(held):  # a live writer's folder, however old
        assert runs.abandoned_run_folders(out) == [old]
        _new_run(tmp_path)
        assert not old.exists() and fresh.exists() and held.exists()
