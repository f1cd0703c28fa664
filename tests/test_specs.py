"""Specs, the registry's lookups and hyper-parameter validation."""

from __future__ import annotations

import pytest

from tests.conftest import BUILTIN_ARCHITECTURES
from tests.fake_plugins import arch
from zoo.core.errors import InvalidHyperParameter, InvalidSpec, PluginError, UnknownArchitecture
from zoo.core.hparams import parse_assignments, validate
from zoo.core.registry import resolve
from zoo.core.specs import HyperParameter


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"builder": "no_colon"}, "not a 'module:attribute' reference"),
        ({"family": "transformer"}, "family 'transformer'"),
        ({"task": "detection"}, "task 'detection'"),
        ({"parts": ("encoder",)}, "parts must be two or more"),
        ({"parts": ("full", "head")}, "other than 'full'"),
        ({"input_shape": (0, 28, 1)}, r"input_shape must be \(height, width, channels\)"),
        ({"input_shape": (784,)}, r"each positive or None, got \(784,\)"),
    ],
)
def test_a_malformed_spec_is_refused_with_the_reason(overrides, message):
    with pytest.raises(InvalidSpec, match=message):
        arch("x", **overrides)


def test_a_bad_name_is_refused():
    with pytest.raises(InvalidSpec, match="name 'Bad Name' is not valid"):
        arch("Bad Name")


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
