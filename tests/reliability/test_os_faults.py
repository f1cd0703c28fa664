"""What the system refuses (issue 16, points 17 to 20): a full disk, a read-only run folder, a
deleted current folder, a config.json nested too deeply. Each is one line naming the path (or
saying what to do), exit code 2, never "internal error", and nothing already made is lost.

A full disk and a read-only folder are made in-process (the writer raises the ``OSError`` the
system would), since the tests run as root here, where permissions do not refuse; the
permission test proper runs where the tests are not root.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import invoke, load_model
from zoo.runs import locks
from zoo.runs import run_folder as runs

TRAIN = ["train", "dense-ae", "--dataset", "synthetic", "--batch-size", "64", "--quiet"]


def _run_in(out: Path) -> Path:
    (run,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return run


def _one_error(result) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("zoo: error: ") and "internal error" not in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def trained(runs, tmp_path) -> Path:
    """A copy of a complete one-epoch dense-ae run."""
    return Path(shutil.copytree(runs.run("dense-ae"), tmp_path / "run"))


@pytest.mark.parametrize("named", ["nothing", "the temporary file"])
def test_a_full_disk_names_the_run_and_keeps_the_last_epoch(registry, tmp_path, monkeypatch, named):
    """Point 17: "internal error ... No space left on device", exit 1, without the path. A write
    names no file when it fails (the run folder is named then); a temporary file is named by
    the final name it stands for."""
    save_model = runs.save_model
    calls = []

    def save_model_on_a_full_disk(model, run_dir, *args, **kwargs):
        calls.append(run_dir)
        if len(calls) == 3:  # the new run's untrained model, epoch 1, then epoch 2: the disk is full
            where = None if named == "nothing" else str(Path(run_dir) / ".model.k2j4x9ab.tmp.keras")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), where)
        return save_model(model, run_dir, *args, **kwargs)

    monkeypatch.setattr(runs, "save_model", save_model_on_a_full_disk)
    result = invoke(registry, *TRAIN, "--epochs", "3", "--out", str(tmp_path / "runs"))
    assert result.exit_code == 2, result.stderr
    run = _run_in(tmp_path / "runs")
    shown = run if named == "nothing" else run / "model.keras"
    line = _one_error(result)
    assert line.startswith(f"zoo: error: No space left on device: {str(shown)!r}; "), line
    assert f"1 of 3 epochs are kept; go on with: zoo train --resume {run}" in line
    state = json.loads((run / runs.STATE_FILE).read_text())
    assert state["status"] == "failed" and state["epochs_completed"] == 1
    assert load_model(run, registry=registry) is not None  # epoch 1, whole
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []


def test_a_full_disk_as_a_run_starts_names_the_folder_and_leaves_nothing(registry, tmp_path, monkeypatch):
    """Point 17, before the run folder appears: its temporary folder is removed, and the line
    names the run folder that was being made in --out (the write that failed named no file)."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(runs, "save_model", full)
    out = tmp_path / "runs"
    result = invoke(registry, *TRAIN, "--epochs", "1", "--out", str(out))
    assert result.exit_code == 2, result.stderr
    assert _one_error(result).startswith(
        f"zoo: error: No space left on device: {str(out / 'dense-ae-')!r}"[:-1]
    )
    assert list(out.iterdir()) == []


def test_resume_of_a_read_only_run_is_one_line(registry, trained, monkeypatch):
    """Point 18: ``--resume`` of a read-only run was an internal error (exit 1) where export
    said it in one line (exit 2)."""

    def read_only(run_dir):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(locks.run_lock(run_dir)))

    monkeypatch.setattr(locks, "hold_run", read_only)
    before = {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()}
    result = invoke(registry, "train", "--resume", str(trained), "--epochs", "2")
    assert result.exit_code == 2, result.stderr
    assert _one_error(result) == f"zoo: error: Read-only file system: {str(trained)!r}"
    assert {p.name: p.read_bytes() for p in trained.iterdir() if p.is_file()} == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes in any folder")
def test_resume_of_an_unwritable_run_is_one_line(registry, trained):
    """Point 18 with real permissions (not as root): the folder may not be written."""
    trained.chmod(0o555)
    try:
        result = invoke(registry, "train", "--resume", str(trained), "--epochs", "2")
    finally:
        trained.chmod(0o755)
    assert result.exit_code == 2, result.stderr
    assert str(trained) in _one_error(result)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([*TRAIN, "--epochs", "1"], "the current folder no longer exists (deleted or moved)"),
        (["runs"], "'runs' is not a folder (the current folder no longer exists)"),
    ],
    ids=["train", "runs"],
)
def test_a_deleted_current_folder_is_one_line(registry, tmp_path, monkeypatch, args, said):
    """Point 19: ``cd d; rm -r ../d; zoo train ...`` was an internal error (FileNotFoundError)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    result = invoke(registry, *args)
    assert result.exit_code == 2, result.stderr
    assert said in _one_error(result)


def _nest(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("where", ["config.json", "model.keras"])
@pytest.mark.parametrize("command", ["resume", "export", "evaluate"])
def test_a_config_nested_too_deeply_is_one_line_naming_the_file(registry, trained, where, command):
    """Point 20: a config.json nested 100,000 deep (RecursionError in the JSON decoder) was an
    internal error; the run's own config.json and the one inside model.keras are both named."""
    if where == "config.json":
        config = (trained / runs.CONFIG_FILE).read_text()
        (trained / runs.CONFIG_FILE).write_text(config.rstrip()[:-1] + f', "deep": {_nest(100_000)}}}')
        named = trained / runs.CONFIG_FILE
    else:
        model = trained / runs.MODEL_FILE
        with zipfile.ZipFile(model) as archive:
            members = {info.filename: archive.read(info) for info in archive.infolist()}
        config = members["config.json"].decode()
        members["config.json"] = (config.rstrip()[:-1] + f', "deep": {_nest(100_000)}}}').encode()
        with zipfile.ZipFile(model, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
        named = model
    args = {
        "resume": ["train", "--resume", str(trained), "--epochs", "2"],
        "export": ["export", str(trained)],
        "evaluate": ["evaluate", str(trained)],
    }[command]
    result = invoke(registry, *args)
    assert result.exit_code == 2, result.stderr
    assert str(named) in _one_error(result)


def test_a_full_disk_during_an_export_names_the_export_and_keeps_the_last_one(registry, trained, monkeypatch):
    """Point 17, in the exporter: a write that names no file (``onnx.save`` meeting a full disk)
    was "No space left on device" without a path, or blamed on the plugin; it names the export
    folder, and the export made before it stays whole."""
    import onnx

    assert invoke(registry, "export", str(trained)).exit_code == 0
    before = {p.name: p.read_bytes() for p in (trained / "onnx").iterdir() if p.is_file()}

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(onnx, "save_model", full)
    monkeypatch.setattr(onnx, "save", full)
    result = invoke(registry, "export", str(trained))
    assert result.exit_code == 2, result.stderr
    assert _one_error(result) == f"zoo: error: No space left on device: {str(trained / 'onnx')!r}"
    assert {p.name: p.read_bytes() for p in (trained / "onnx").iterdir() if p.is_file()} == before
