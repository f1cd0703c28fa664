"""Exporters are plugins: a third-party format registered with zoo_register_exporters is used
by ``zoo export --format``, with the same atomic folder and failure handling as ONNX."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import invoke, make_registry
from zoo import hookimpl
from zoo.core.errors import ExportValidationError
from zoo.core.specs import ExporterSpec
from zoo.export.orchestrate import export_run


class NpzExporterPlugin:
    @hookimpl
    def zoo_register_exporters(self, register):
        register(ExporterSpec(name="npz", exporter="tests.fake_models:export_npz", summary="weights"))


@pytest.fixture
def npz_registry():
    return make_registry(("npz", NpzExporterPlugin()))


def test_a_plugin_exporter_writes_its_folder_and_manifest(runs, npz_registry, tmp_path):
    out = tmp_path / "weights"
    result = invoke(
        npz_registry, "export", str(runs.run("lenet5")), "--format", "npz", "--out", str(out), "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(out)) == ["manifest.json", "weights.npz"]
    assert json.loads((out / "manifest.json").read_text())["format"] == "npz"
    assert len(np.load(out / "weights.npz").files) == 12  # six layers (normalize included), kernel and bias


def test_a_failing_plugin_exporter_leaves_nothing(runs, npz_registry, tmp_path):
    out = tmp_path / "weights"
    with pytest.raises(ExportValidationError, match=r"full: asked to fail"):
        export_run(npz_registry, runs.run("lenet5"), out=out, exporter="npz", options={"fail": True})
    assert not out.exists() and os.listdir(tmp_path) == []
