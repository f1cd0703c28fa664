"""Every hook has a docstring, a test and a README section; the README's commands exist."""

from __future__ import annotations

import inspect
import re

import pytest

from tests.conftest import ROOT
from zoo.core import hookspecs

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("zoo_")]
README = (ROOT / "README.md").read_text()


def test_there_are_hooks():
    assert HOOKS == ["zoo_register_architectures", "zoo_register_datasets", "zoo_register_exporters"]


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_is_documented_tested_and_in_the_readme(hook):
    assert len(inspect.getdoc(getattr(hookspecs, hook)) or "") > 40
    tests = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_docs.py"]
    assert any(hook in p.read_text() for p in tests), f"no test mentions {hook}"
    assert re.search(rf"^#+ .*`{hook}", README, re.M), f"README has no section for {hook}"


def test_the_readme_gives_the_two_commands_and_ci_runs_the_test_command():
    assert "bash demo.sh" in README
    test_command = ".venv/bin/python -m pytest"
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()
