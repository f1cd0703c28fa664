"""The plugin contract in a plugin's own pytest suite, one test per check::

    from zoo.api import parametrize_with_checks

    @parametrize_with_checks("my-plugin")
    def test_zoo_contract(check):
        check()

The checks are ``zoo plugins check``'s, run the same way: a failure is the one line the table
shows, a check that cannot run here (a dataset not downloaded) is a skip.
"""

from __future__ import annotations

from typing import Any

from zoo.checks.check import Check, CheckSkipped
from zoo.checks.plan import checks
from zoo.core.registry import Registry


class _PytestCheck:
    """A check as a pytest parameter: calling it runs it; its repr is its id."""

    def __init__(self, check: Check) -> None:
        self.check = check

    def __repr__(self) -> str:
        return self.check.id

    def __call__(self) -> str | None:
        import pytest

        try:
            return self.check()
        except CheckSkipped as exc:
            pytest.skip(str(exc))


def parametrize_with_checks(*names: str, registry: Registry | None = None) -> Any:
    """``pytest.mark.parametrize("check", ...)`` over every check of the plugins or items named
    (none: everything installed). ``registry`` defaults to the installed plugins' (the
    environment applies: ``ZOO_LOAD_PLUGINS``)."""
    import pytest

    if registry is None:
        from zoo.core.host import load_registry

        registry = load_registry()
    found = checks(registry, names)
    return pytest.mark.parametrize("check", [_PytestCheck(c) for c in found], ids=[c.id for c in found])
