"""zoo verify does not trust the checked file's own metadata (issue 16, point 7): a part name
that leads out of the folder is not followed, and a tolerance the file widens for itself is
refused, so a file cannot make itself pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from zoo_onnx.verify import verify


def _with_metadata(source: Path, target: Path, **values: str) -> Path:
    """A copy of an exported file with some of its zoo metadata replaced (nothing else)."""
    proto = onnx.load(str(source))
    for entry in proto.metadata_props:
        if entry.key in values:
            entry.value = values[entry.key]
    onnx.save(proto, str(target))
    return target


def test_verify_does_not_follow_a_part_name_out_of_the_folder(runs, tmp_path):
    """Fails if: ``zoo.part = "../../elsewhere"`` makes verify read a test set outside the file's
    folder (issue 16, point 7)."""
    folder = tmp_path / "onnx"
    shutil.copytree(runs.export("lenet5"), folder)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(folder / "test_data" / "full", elsewhere)  # a test set the file would pass
    lone = tmp_path / "lone"
    lone.mkdir()
    model = _with_metadata(folder / "model.onnx", lone / "model.onnx", **{"zoo.part": "../../elsewhere"})
    report = verify(model)
    assert not report["passed"]
    assert report["files"][0]["failures"] == [
        "the file names its part '../../elsewhere', which is no part name: no test set is looked for there"
    ]


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1000", "-1"])
def test_verify_refuses_a_tolerance_a_file_widens_for_itself(runs, tmp_path, value):
    """Fails if: a file whose ``zoo.validation`` records a NaN, infinite, huge or negative
    tolerance passes verify whatever its outputs (issue 16, point 7)."""
    folder = tmp_path / "onnx"
    shutil.copytree(runs.export("lenet5"), folder)
    proto = onnx.load(str(folder / "head.onnx"))
    meta = {e.key: e.value for e in proto.metadata_props}
    validation = json.loads(meta["zoo.validation"])
    validation["tolerance"] = {"atol": float(value), "rtol": float(value)}
    target = tmp_path / "head.onnx"
    _with_metadata(folder / "head.onnx", target, **{"zoo.validation": json.dumps(validation)})
    shutil.copytree(folder / "test_data" / "head", tmp_path / "test_data" / "head")
    report = verify(target)
    assert not report["passed"]
    assert report["files"][0]["failures"][0].startswith("the file records a tolerance zoo never writes")
