"""The documentation keeps up with the code: every hook has a docstring, a test and a section in
docs/plugins.md; the README gives the two commands CI runs; every link resolves; and nothing in
the project points outside the repository (only tests and CI find the MNIST file beside it)."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from tests.conftest import ROOT
from zoo.checks import architecture, dataset, exporter
from zoo.core import hookspecs
from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec, HyperParameter

HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("zoo_")]
README = (ROOT / "README.md").read_text()
PLUGINS_DOC = (ROOT / "docs" / "plugins.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_there_are_hooks():
    assert HOOKS == ["zoo_register_architectures", "zoo_register_datasets", "zoo_register_exporters"]


@pytest.mark.parametrize("hook", HOOKS)
def test_each_hook_is_documented_tested_and_has_a_section_in_the_plugin_guide(hook):
    assert len(inspect.getdoc(getattr(hookspecs, hook)) or "") > 40
    tests = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_docs.py"]
    assert any(hook in p.read_text() for p in tests), f"no test mentions {hook}"
    assert re.search(rf"^#+ .*`{hook}", PLUGINS_DOC, re.M), f"docs/plugins.md has no section for {hook}"


@pytest.mark.parametrize("spec", [ArchitectureSpec, HyperParameter, DatasetSpec, ExporterSpec])
def test_every_field_of_every_spec_has_a_row_in_the_plugin_guide(spec):
    missing = [f.name for f in dataclasses.fields(spec) if f"| `{f.name}` |" not in PLUGINS_DOC]
    assert missing == [], f"docs/plugins.md has no table row for {spec.__name__}'s {missing}"


def test_every_check_has_a_row_in_the_plugin_guide():
    checks = [("plugin", "loads")]
    for kind, module in (("architecture", architecture), ("dataset", dataset), ("exporter", exporter)):
        checks += [(kind, name) for name, _, _ in module.CHECKS]
    missing = [f"{kind} {name}" for kind, name in checks if f"| {kind} | `{name}` |" not in PLUGINS_DOC]
    assert missing == [], f"docs/plugins.md's table of checks lacks {missing}"


def test_the_readme_points_plugin_authors_at_the_guide_and_the_commands():
    section = README.partition("## Writing a plugin")[2].partition("\n## ")[0]
    for needed in ("docs/plugins.md", "zoo plugins new", "zoo plugins check"):
        assert needed in section, f"README's 'Writing a plugin' does not mention {needed}"


def test_the_readme_gives_the_two_commands_and_ci_runs_the_test_command():
    assert "bash demo.sh" in README
    test_command = ".venv/bin/python -m pytest"
    assert test_command in README
    assert test_command in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", page.read_text()):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_readme_links_every_page_of_docs():
    for page in (ROOT / "docs").glob("*.md"):
        assert f"docs/{page.name}" in README, f"README does not link docs/{page.name}"


def test_nothing_in_the_project_points_outside_the_repository():
    """What the project relies on lives in it: code, docs and benchmarks never name ../shared."""
    folders = ["zoo", "plugins", "exporters", "examples", "benchmarks", "docs", "tools"]
    files = [ROOT / "README.md", ROOT / "demo.sh", ROOT / "pyproject.toml"]
    files += [p for f in folders for p in (ROOT / f).rglob("*") if p.suffix in (".py", ".md", ".sh", ".toml")]
    offenders = [str(p.relative_to(ROOT)) for p in files if "shared/" in p.read_text(errors="replace")]
    assert offenders == []
