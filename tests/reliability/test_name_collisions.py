"""Name collisions (issue 16, point 6): a third-party plugin that takes a built-in's plugin name,
architecture name or exporter name is the one refused and named; the built-in keeps it, whatever
order the names sort in. The installed cases run a real ``zoo`` over a fake installed distribution."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from tests import fake_plugins
from tests.conftest import builtin_entry_points
from tests.test_installed_plugins import _zoo
from zoo.core.host import PluginHost, PluginRecord


def test_built_ins_register_first_whatever_order_the_plugins_were_added_in():
    """Fails if: a third-party plugin added before the built-ins takes a built-in's name (the
    registration hooks are called in the order plugins were added)."""
    warnings: list[str] = []
    host = PluginHost(strict=False, warn=warnings.append)
    host.add(fake_plugins.DuplicatePlugin(), PluginRecord(name="aaa"))
    for name, module in builtin_entry_points().items():
        host.add(importlib.import_module(module), PluginRecord(name=name, builtin=True))
    registry = host.build_registry()
    assert registry.architecture("lenet5").plugin == "lenet"
    assert "unique-net" in registry.architectures
    assert warnings == [
        "plugin 'aaa' failed (zoo_register_architectures): DuplicateName: architecture 'lenet5' is "
        "already registered by plugin 'lenet'"
    ]


def _intruder_site(tmp_path: Path, entry_point: str, module: str, source: str) -> Path:
    """An installed third-party distribution whose plugin takes a name a built-in holds."""
    dist = tmp_path / "zoo_intruder-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-intruder\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[zoo]\n{entry_point} = {module}\n")
    (tmp_path / f"{module}.py").write_text(source)
    return tmp_path


ARCH_INTRUDER = """
from zoo.api import ArchitectureSpec, hookimpl

@hookimpl
def zoo_register_architectures(register):
    register(ArchitectureSpec(name="lenet5", builder="intruder:build", family="classifier",
        task="classification", input_shape=(32, 32, 1), parts=("features", "head"),
        summary="not LeNet-5", default_dataset="mnist"))
"""

EXPORTER_INTRUDER = """
from zoo.api import ExporterSpec, hookimpl

@hookimpl
def zoo_register_exporters(register):
    register(ExporterSpec(name="onnx", exporter="intruder:export", summary="not zoo's",
        verifier="intruder:verify"))

def verify(path, reference=False):
    return {"path": path, "files": [], "passed": True}
"""


def test_a_built_in_architecture_name_stays_the_built_ins_and_the_intruder_is_named(tmp_path):
    """Fails if: a third-party plugin sorting before the built-ins ("aaa") takes lenet5 from
    them, or the warning blames the built-in (issue 16, point 6)."""
    site = _intruder_site(tmp_path, "aaa", "intruder", ARCH_INTRUDER)
    listed = _zoo(site, "list", "--json")
    lenet5 = next(row for row in json.loads(listed.stdout) if row["name"] == "lenet5")
    assert lenet5["plugin"] == "lenet"
    assert listed.stderr == (
        "zoo: warning: plugin 'aaa' failed (zoo_register_architectures): DuplicateName: architecture "
        "'lenet5' is already registered by plugin 'lenet'\n"
    )


def test_a_built_in_exporter_name_stays_the_built_ins_so_verify_is_zoos(tmp_path):
    """Fails if: a plugin "aonnx" registering exporter onnx takes over zoo verify (a garbage file
    would then pass)."""
    site = _intruder_site(tmp_path, "aonnx", "intruder", EXPORTER_INTRUDER)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx file")
    verified = _zoo(site, "verify", str(garbage))
    assert verified.returncode != 0
    assert "plugin 'aonnx' failed (zoo_register_exporters): DuplicateName: exporter 'onnx'" in verified.stderr


def test_a_plugin_named_as_a_built_in_is_the_one_refused(tmp_path):
    """Fails if: an entry point named "lenet" replaces the built-in plugin lenet."""
    site = _intruder_site(tmp_path, "lenet", "intruder", ARCH_INTRUDER)
    listed = _zoo(site, "list", "--json")
    lenet5 = next(row for row in json.loads(listed.stdout) if row["name"] == "lenet5")
    assert lenet5["plugin"] == "lenet" and lenet5["summary"] != "not LeNet-5"
    assert listed.stderr == (
        "zoo: warning: plugin 'lenet (zoo-intruder)' failed (import): NameError: plugin name 'lenet' is "
        "taken by 'keras-zoo'; this one is not loaded\n"
    )
