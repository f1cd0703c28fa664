"""zoo's plugin contract on this plugin, one pytest test per check (the checks of
``zoo plugins check mlp``)."""

from zoo.api import parametrize_with_checks


@parametrize_with_checks("mlp")
def test_zoo_contract(check):
    check()
