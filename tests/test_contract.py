"""The plugin contract, checked for every registered architecture, dataset and exporter (the
built-ins and the example third-party plugin) with the checks zoo ships to plugin authors
(``zoo plugins check``, ``zoo.api.parametrize_with_checks``): one implementation."""

from __future__ import annotations

import pytest

from tests.conftest import MNIST_DIR, contract_registry
from zoo.api import parametrize_with_checks
from zoo.core.errors import InvalidHyperParameter
from zoo.training import models

REGISTRY = contract_registry()


def test_the_contract_covers_builtins_and_the_example_plugin():
    assert {"conv-ae", "lenet5", "mlp", "unet"} <= set(REGISTRY.architectures)


@pytest.fixture(autouse=True)
def _real_mnist(monkeypatch):
    """The datasets' checks load the real MNIST where the checkout has it beside (CI does)."""
    if MNIST_DIR is not None:
        monkeypatch.setenv("ZOO_DATA_DIR", str(MNIST_DIR))


@parametrize_with_checks(registry=REGISTRY)
def test_contract(check):
    check()


@pytest.mark.parametrize("name", sorted(REGISTRY.architectures))
def test_invalid_hyperparameters_are_named(name):
    spec = REGISTRY.architecture(name)
    with pytest.raises(InvalidHyperParameter, match="Unknown hyper-parameter 'no_such_param'"):
        models.build(spec, {"no_such_param": "1"})
    for param in spec.hyperparameters:
        bad = "not-a-choice" if param.choices else "-1e309" if param.type is not str else None
        if bad is None:
            continue
        with pytest.raises(InvalidHyperParameter, match=repr(param.name)):
            models.build(spec, {param.name: bad})
