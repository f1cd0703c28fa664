"""Specs, the registry's lookups and hyper-parameter validation."""

from __future__ import annotations

import re

import pytest

from tests.conftest import BUILTIN_ARCHITECTURES, make_registry
from tests.fake_plugins import arch
from zoo import hookimpl
from zoo.core.errors import InvalidHyperParameter, PluginError, UnknownArchitecture
from zoo.core.host import registry_from_plugins
from zoo.core.hparams import parse_assignments, validate
from zoo.core.registry import resolve
from zoo.core.specs import DatasetSpec, ExporterSpec, HyperParameter


class _OneBadOneGood:
    """Registers a spec with ``overrides`` applied, then a good one."""

    def __init__(self, **overrides):
        self.overrides = overrides

    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch(self.overrides.pop("name", "bad-net"), **self.overrides))
        register(arch("good-net"))


def _refusal(**overrides) -> tuple[str, list[str]]:
    """What a plugin registering a bad spec and a good one meets: its recorded error, and what
    loaded."""
    warnings: list[str] = []
    registry = registry_from_plugins(_OneBadOneGood(**overrides), strict=False, warn=warnings.append)
    (record,) = registry.plugins
    assert warnings and record.error and "_OneBadOneGood" in warnings[0], "the warning names the plugin"
    return record.error, sorted(registry.architectures)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"builder": "no_colon"}, "builder 'no_colon' is not a 'module:attribute' reference"),
        ({"family": "transformer"}, "family 'transformer'"),
        ({"task": "detection"}, "task 'detection'"),
        ({"parts": ("encoder",)}, "parts must be two or more"),
        ({"parts": ("full", "head")}, "other than 'full'"),
        ({"parts": ("enc/1", "head")}, "part name 'enc/1' is not valid"),
        ({"input_shape": (0, 28, 1)}, r"input_shape must be \(height, width, channels\)"),
        ({"input_shape": (784,)}, r"each positive or None, got \(784,\)"),
        ({"epochs": 0}, "epochs must be a whole number >= 1"),
        ({"parameters": -3}, "parameters must be a whole number"),
        ({"name": "Bad Name"}, "architecture name 'Bad Name' is not valid"),
        ({"name": "a/b"}, "architecture name 'a/b' is not valid"),
        (
            {"hyperparameters": (HyperParameter("width", 0.0, minimum=0.25, maximum=8.0),)},
            r"hyper-parameter 'width': default 0.0 is outside its own range \(0.25 to 8.0\)",
        ),
        (
            {"hyperparameters": (HyperParameter("act", "gelu", type=str, choices=("relu", "tanh")),)},
            "default 'gelu' is outside its own range",
        ),
        ({"hyperparameters": (HyperParameter("units", 2.5, type=int),)}, "default 2.5 is not int"),
        ({"hyperparameters": (HyperParameter("units", 4, type=list),)}, "type must be int, float"),
        (
            {"hyperparameters": (HyperParameter("act", "relu", type=str, minimum=0),)},
            "minimum and maximum bound int and float hyper-parameters, not str",
        ),
        (
            {"hyperparameters": (HyperParameter("act", "relu", type=str, choices=5),)},
            "choices must be a tuple",
        ),
        ({"task": ["classification"]}, r"task \['classification'\] is not one of"),
        ({"hyperparameters": (HyperParameter("two words", 4, type=int),)}, "must be a Python identifier"),
        (
            {"hyperparameters": (HyperParameter("rate", 0.5, minimum=1.0, maximum=0.0),)},
            "minimum 1.0 is above maximum 0.0",
        ),
    ],
)
def test_a_malformed_spec_is_refused_with_the_reason_and_the_plugins_other_specs_load(overrides, message):
    error, loaded = _refusal(**overrides)
    assert re.search(message, error), error
    assert "InvalidSpec" in error and "refused" in error
    assert loaded == ["good-net"]


def test_a_malformed_dataset_or_exporter_is_refused_with_the_reason():
    class Plugin:
        @hookimpl
        def zoo_register_datasets(self, register):
            register(DatasetSpec("d", "m:load", "x", image_shape=(28,), num_classes=10))
            register(DatasetSpec("e", "m:load", "x", image_shape=None, num_classes=2, class_names=("a",)))

        @hookimpl
        def zoo_register_exporters(self, register):
            register(ExporterSpec("f", "m:export", "x", verifier="nope"))

    registry = registry_from_plugins(Plugin(), strict=False)
    error = registry.plugins[0].error
    assert "dataset 'd' refused: image_shape must be None or (height, width[, channels])" in error
    assert "dataset 'e' refused: 1 class_names for 2 classes" in error
    assert "exporter 'f' refused: verifier 'nope' is not a 'module:attribute' reference" in error
    assert not registry.datasets and not registry.exporters


def test_no_builtin_spec_is_refused():
    assert make_registry(strict=False).refused == {}


def test_lists_given_for_tuple_fields_are_taken_as_tuples():
    spec = arch("listed", parts=["features", "head"], input_shape=[8, 8, 1])
    assert spec.parts == ("features", "head") and spec.input_shape == (8, 8, 1)
    assert hash(spec) == hash(arch("listed"))


def test_unknown_names_list_what_exists(registry):
    with pytest.raises(UnknownArchitecture) as info:
        registry.architecture("lenet")
    assert str(info.value) == f"Unknown architecture 'lenet'. Available: {', '.join(BUILTIN_ARCHITECTURES)}"


def test_resolve_is_late_and_names_the_owner():
    assert resolve("zoo.core.hparams:validate") is validate
    with pytest.raises(PluginError, match=r"no_such_module.*declared by architecture 'x'"):
        resolve("no_such_module:build", owner="architecture 'x'")
    with pytest.raises(PluginError, match="has no attribute 'nothing'"):
        resolve("zoo.core.hparams:nothing")


SPEC = arch(
    "hp",
    hyperparameters=(
        HyperParameter("units", 32, type=int, minimum=1, maximum=4096),
        HyperParameter("rate", 0.5, type=float, minimum=0.0, maximum=1.0),
        HyperParameter("act", "relu", type=str, choices=("relu", "tanh")),
        HyperParameter("bias", True, type=bool),
    ),
)


def test_defaults_and_overrides_are_typed():
    assert validate(SPEC, {}) == {"units": 32, "rate": 0.5, "act": "relu", "bias": True}
    given = parse_assignments(["units=64", "rate=0.25", "act=tanh", "bias=no"])
    assert validate(SPEC, given) == {"units": 64, "rate": 0.25, "act": "tanh", "bias": False}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"unit": "3"}, "Unknown hyper-parameter 'unit' for 'hp'. Available: act, bias, rate, units"),
        ({"units": "many"}, "'units' of 'hp' must be int"),
        ({"units": "2.5"}, "'units' of 'hp' must be int"),
        ({"units": "0"}, "'units' of 'hp' must be 1 to 4096, got 0"),
        ({"rate": "nan"}, "'rate' of 'hp' must be float"),
        ({"rate": "1.5"}, "'rate' of 'hp' must be 0.0 to 1.0"),
        ({"act": "gelu"}, "'act' of 'hp' must be one of relu, tanh"),
        ({"bias": "maybe"}, "'bias' of 'hp' must be bool"),
    ],
)
def test_invalid_hyperparameters_name_the_parameter(given, message):
    with pytest.raises(InvalidHyperParameter) as info:
        validate(SPEC, given)
    assert message in str(info.value)


def test_assignments_must_be_key_value():
    with pytest.raises(InvalidHyperParameter, match="'units' is not of the form KEY=VALUE"):
        parse_assignments(["units"])
