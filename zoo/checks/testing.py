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

from zoo.checks.check import FAIL, SKIP, Check, run
from zoo.checks.plan import checks
from zoo.core.errors import PluginCodeError
from zoo.core.registry import Registry

# Raised inside Keras with NumPy 2 on every tensor conversion; not the plugin's to fix.
KERAS_NUMPY_WARNING = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"


class _PytestCheck:
    """A check as a pytest parameter: calling it runs it; its repr is its id."""

    def __init__(self, check: Check) -> None:
        self.check = check

    def __repr__(self) -> str:
        return self.check.id

    def __call__(self) -> str:
        """Run the check as ``zoo plugins check`` does: a skip is pytest's, a failure is the
        table's line; where the plugin's own code raised, its traceback follows."""
        import pytest

        outcome = run(self.check)
        if outcome.status == SKIP:
            pytest.skip(outcome.detail)
        if outcome.status == FAIL:
            error = outcome.error
            if isinstance(error, PluginCodeError) or isinstance(
                getattr(error, "__cause__", None), PluginCodeError
            ):
                raise AssertionError(outcome.detail) from error
            pytest.fail(outcome.detail, pytrace=False)
        return outcome.detail


def parametrize_with_checks(*names: str, registry: Registry | None = None) -> Any:
    """A decorator: ``pytest.mark.parametrize("check", ...)`` over every check of the plugins or
    items named (none: everything installed), with Keras' NumPy 2 warning filtered.
    ``registry`` defaults to the installed plugins' (``ZOO_LOAD_PLUGINS`` applies)."""
    import pytest

    if registry is None:
        from zoo.core.host import load_registry

        registry = load_registry()
    found = checks(registry, names)
    parametrize = pytest.mark.parametrize(
        "check", [_PytestCheck(c) for c in found], ids=[c.id for c in found]
    )
    quiet = pytest.mark.filterwarnings(KERAS_NUMPY_WARNING)

    def decorate(test: Any) -> Any:
        return quiet(parametrize(test))

    return decorate
