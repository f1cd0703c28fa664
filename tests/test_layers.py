"""zoo's layers and the plugin boundary are import-linter contracts (pyproject.toml), run by CI.

These tests run ``lint-imports`` itself: the contracts hold on the checkout, and a plugin that
imports one of zoo's internals, a layer that imports upwards, or two modules importing each
other break them, with the offending import named.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_PLUGIN, ROOT

LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _lint(*paths: Path, config: Path | None = None) -> subprocess.CompletedProcess:
    """``lint-imports`` from the checkout, with ``paths`` (and the example plugin) importable."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (*paths, EXAMPLE_PLUGIN, ROOT)))
    args = [LINT_IMPORTS, "--no-cache", "--no-logo", *([str(config)] if config else [])]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _config_with(tmp_path: Path, package: str) -> Path:
    """pyproject.toml's contracts, with ``package`` among the analyzed root packages."""
    roots = [*CONFIG["root_packages"], package]
    lines = ["[tool.importlinter]", f"root_packages = {json.dumps(roots)}"]
    for contract in CONFIG["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in contract.items():
            if key == "ancestors":
                value = [*value, package]
            lines.append(f"{key} = {json.dumps(value)}")  # JSON's strings, lists, true: TOML's too
    path = tmp_path / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plugin(tmp_path: Path, name: str, code: str) -> Path:
    package = tmp_path / "site" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(code)
    return tmp_path / "site"


def test_the_contracts_hold_on_the_checkout():
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_a_plugin_that_imports_only_the_public_api_keeps_them(tmp_path):
    site = _plugin(
        tmp_path, "zoo_polite", "from zoo.api import ArchitectureSpec, hookimpl\nfrom zoo import hookimpl\n"
    )
    result = _lint(site, config=_config_with(tmp_path, "zoo_polite"))
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    "internal", ["zoo.core.specs", "zoo.runs.atomic", "zoo.training.data", "zoo.specs", "zoo.errors"]
)
def test_a_plugin_that_imports_a_zoo_internal_breaks_them(tmp_path, internal):
    site = _plugin(tmp_path, "zoo_intruder", f"import {internal}\n")
    result = _lint(site, config=_config_with(tmp_path, "zoo_intruder"))
    assert result.returncode == 1, result.stdout
    assert "plugins import only zoo and zoo.api BROKEN" in result.stdout
    assert f"zoo_intruder -> {internal}" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("zoo/runs/run_folder.py", "from zoo.training import models", "layered one way"),
        ("zoo/core/tasks.py", "import zoo.cli.main", "layered one way"),
        ("zoo/bench/sessions.py", "from zoo.bench import measure", "no import circles"),
        ("zoo/training/train.py", "from zoo.api import task", "never import the public API"),
        ("zoo/export/orchestrate.py", "from zoo.bench import sessions", "layered one way"),
        ("zoo/runtimes/matrix.py", "from zoo.export import orchestrate", "layered one way"),
    ],
)
def test_an_import_against_the_layers_breaks_them(tmp_path, module, line, broken):
    """A copy of zoo with one import added, analyzed instead of the checkout's."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "zoo", copy / "zoo", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("plugins", "exporters"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            str(p) for p in (copy, copy / "plugins", copy / "exporters", EXAMPLE_PLUGIN)
        ),
    )
    result = subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert line.split()[1] in result.stdout  # the module imported against the contract is named
    assert any(broken in ln and ln.endswith("BROKEN") for ln in result.stdout.splitlines()), result.stdout


def test_the_plugin_contract_protects_every_internal_package():
    """A package added to zoo/ is protected from plugins as soon as it exists."""
    contract = next(c for c in CONFIG["contracts"] if c["id"] == "plugins")
    internal = {
        f"zoo.{p.stem}"
        for p in (ROOT / "zoo").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")
    }
    assert set(contract["protected_modules"]) == internal - {"zoo.api"}
