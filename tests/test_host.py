"""The plugin host: isolation of broken plugins, duplicates, strict mode, entry points."""

from __future__ import annotations

import types
from importlib import metadata

import pytest

from tests import fake_plugins
from tests.conftest import BUILTIN_ARCHITECTURES, BUILTIN_DATASETS, builtin_entry_points, make_registry
from zoo.core.errors import DuplicateName
from zoo.core.host import PluginHost, PluginRecord, load_registry


def test_builtins_register_their_specs(registry):
    assert sorted(registry.architectures) == BUILTIN_ARCHITECTURES
    assert sorted(registry.datasets) == BUILTIN_DATASETS
    assert sorted(registry.exporters) == ["onnx"]
    assert registry.architecture("lenet5").plugin == "lenet"
    assert all(p.error is None for p in registry.plugins)


def test_a_good_third_party_plugin_adds_to_the_builtins():
    reg = make_registry(("good", fake_plugins.GoodPlugin()))
    assert reg.architecture("good-net").plugin == "good"
    assert reg.dataset("good-data").plugin == "good"
    record = next(p for p in reg.plugins if p.name == "good")
    assert record.hooks == ["zoo_register_architectures", "zoo_register_datasets"]
    assert record.registered == ["good-net", "good-data"]
    assert not record.builtin


def test_a_plugin_raising_in_its_hook_is_recorded_and_the_rest_still_load():
    warnings: list[str] = []
    reg = make_registry(
        ("broken", fake_plugins.RaisingPlugin()),
        ("good", fake_plugins.GoodPlugin()),
        strict=False,
        warn=warnings.append,
    )
    assert "good-net" in reg.architectures and "lenet5" in reg.architectures
    assert "half-registered" not in reg.architectures  # nothing of a failed call is kept
    broken = next(p for p in reg.plugins if p.name == "broken")
    assert "RuntimeError: boom while registering" in broken.error
    assert len(warnings) == 1 and "'broken'" in warnings[0]


def test_strict_mode_re_raises_the_plugins_own_error():
    with pytest.raises(RuntimeError, match="boom"):
        make_registry(("broken", fake_plugins.RaisingPlugin()), strict=True)


def test_a_duplicate_name_is_refused_and_the_plugins_other_specs_kept():
    reg = make_registry(("dup", fake_plugins.DuplicatePlugin()), strict=False)
    assert reg.architecture("lenet5").plugin == "lenet"
    assert reg.architecture("unique-net").plugin == "dup"
    dup = next(p for p in reg.plugins if p.name == "dup")
    assert "already registered by plugin 'lenet'" in dup.error
    with pytest.raises(DuplicateName):
        make_registry(("dup", fake_plugins.DuplicatePlugin()), strict=True)


def test_a_misspelled_hook_is_an_error_not_silence():
    reg = make_registry(("typo", fake_plugins.MisspelledPlugin()), strict=False)
    typo = next(p for p in reg.plugins if p.name == "typo")
    assert "zoo_register_architecture" in typo.error
    assert typo.error.endswith("(did you mean 'zoo_register_architectures'?)")
    assert "never" not in reg.architectures


def test_registering_something_that_is_not_a_spec_is_an_error():
    reg = make_registry(("wrong", fake_plugins.WrongTypePlugin()), strict=False)
    assert "TypeError" in next(p for p in reg.plugins if p.name == "wrong").error


def _entry_point(name: str, value: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=value, group="zoo")


@pytest.fixture
def fake_entry_points(monkeypatch):
    """The entry-point group holds the built-ins plus one that cannot be imported."""
    points = [_entry_point(n, m) for n, m in builtin_entry_points().items()]
    points.append(_entry_point("ghost", "zoo_no_such_module_anywhere"))
    monkeypatch.setattr(metadata, "entry_points", lambda group: [p for p in points if p.group == group])


def test_an_entry_point_that_fails_to_import_is_recorded(fake_entry_points, monkeypatch):
    monkeypatch.delenv("ZOO_LOAD_PLUGINS")
    warnings: list[str] = []
    reg = load_registry(warn=warnings.append)
    assert "lenet5" in reg.architectures
    ghost = next(p for p in reg.plugins if p.name == "ghost")
    assert ghost.error.startswith("import: ModuleNotFoundError")
    assert any("'ghost'" in w for w in warnings)


def test_strict_env_re_raises_an_import_error(fake_entry_points, monkeypatch):
    monkeypatch.delenv("ZOO_LOAD_PLUGINS")
    monkeypatch.setenv("ZOO_STRICT_PLUGINS", "1")
    with pytest.raises(ModuleNotFoundError):
        load_registry()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("lenet,datasets", ["lenet5"]),
        ("", []),
        (
            "lenet, autoencoders",
            ["conv-ae", "denoising-ae", "dense-ae", "lenet5", "sparse-ae", "stacked-ae", "vae"],
        ),
    ],
)
def test_zoo_load_plugins_limits_what_loads(fake_entry_points, monkeypatch, value, expected):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", value)
    reg = load_registry()
    assert sorted(reg.architectures) == expected
    assert "ghost" not in [p.name for p in reg.plugins]


def test_a_module_plugin_records_where_it_comes_from():
    module = types.ModuleType("inline_plugin")
    host = PluginHost()
    host.add(module, PluginRecord(name="inline"))
    assert host.records["inline"].module == "inline_plugin"


def test_a_name_in_zoo_load_plugins_that_matches_nothing_is_warned_about(fake_entry_points, monkeypatch):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "lenet,lenett")
    warnings: list[str] = []
    reg = load_registry(warn=warnings.append)
    assert sorted(reg.architectures) == ["lenet5"]
    assert warnings == [
        "ZOO_LOAD_PLUGINS names 'lenett', which no installed plugin is called "
        "(installed: autoencoders, cnn, datasets, fcn, ghost, lenet, onnx, unet)"
    ]


def test_a_second_plugin_with_a_taken_name_is_recorded_not_dropped(monkeypatch):
    points = [_entry_point("lenet", "zoo_lenet"), _entry_point("lenet", "zoo_autoencoders")]
    monkeypatch.setattr(metadata, "entry_points", lambda group: points)
    monkeypatch.delenv("ZOO_LOAD_PLUGINS")
    reg = load_registry()
    assert list(reg.architectures) == ["lenet5"]
    second = next(p for p in reg.plugins if p.name != "lenet")
    assert "plugin name 'lenet' is taken" in second.error
