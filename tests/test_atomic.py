"""Files and folders appear at their final names only when complete."""

from __future__ import annotations

import json
import os

import pytest

from zoo.runs import atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.json"
    atomic.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert json.loads(target.read_text()) == {"v": 1}
    assert os.listdir(tmp_path) == ["a.json"]


def test_the_temporary_keeps_the_extension_and_the_result_is_not_private(tmp_path):
    with atomic.atomic_path(tmp_path / "m.keras") as tmp:
        assert tmp.suffix == ".keras"
        tmp.write_bytes(b"x")
    assert (tmp_path / "m.keras").stat().st_mode & 0o004  # readable by others, as open() makes it


def test_a_folder_replaces_the_old_one_only_on_success(tmp_path):
    final = tmp_path / "onnx"
    with atomic.atomic_dir(final) as tmp:
        (tmp / "one").write_text("1")
    with pytest.raises(RuntimeError), atomic.atomic_dir(final) as tmp:
        (tmp / "two").write_text("2")
        raise RuntimeError
    assert sorted(os.listdir(final)) == ["one"]
    with atomic.atomic_dir(final) as tmp:
        (tmp / "three").write_text("3")
    assert sorted(os.listdir(final)) == ["three"]
    assert sorted(os.listdir(tmp_path)) == ["onnx"]
