"""``zoo plugins new``: the package it writes is one a third party could publish. Installed, its
own pytest and ``zoo plugins check NAME`` pass as written; a bad name, a taken one and an
existing folder are refused with one line; nothing half-written is left at the final name.

The package is made discoverable as ``pip install -e`` would make it, without touching the venv:
a dist-info folder (its METADATA and entry points, from the generated pyproject.toml) and the
package's folder on PYTHONPATH of the subprocesses. CI installs one for real (.ci/run).
"""

from __future__ import annotations

import ast
import json
import subprocess
import tomllib
from pathlib import Path

import pytest

import zoo
from tests.conftest import PYTHON, ROOT, ZOO, invoke, zoo_subprocess_env
from zoo.cli import scaffold

NAME = "tinyae"
FILES = [
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "tests/test_contract.py",
    "zoo_tinyae/__init__.py",
    "zoo_tinyae/data.py",
    "zoo_tinyae/evaluate.py",
    "zoo_tinyae/model.py",
]


def installed(package: Path, site: Path) -> dict[str, str]:
    """What ``pip install -e package`` gives: a dist-info folder with the distribution's name,
    version and entry points, and the package's folder on the path. The environment for that."""
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    points = "".join(f"{k} = {v}\n" for k, v in project["entry-points"]["zoo"].items())
    (dist / "entry_points.txt").write_text(f"[zoo]\n{points}")
    return zoo_subprocess_env(PYTHONPATH=f"{site}:{package}")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("new")
    made = subprocess.run(
        [ZOO, "plugins", "new", NAME, "--dir", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        env=zoo_subprocess_env(),
    )
    assert made.returncode == 0, made.stderr
    package = Path(made.stdout.strip())
    assert package == root / f"keras-zoo-{NAME}"
    return package, installed(package, root / "site")


def test_the_new_plugin_passes_zoo_plugins_check_and_its_own_tests(generated):
    package, env = generated
    run = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": env}
    # the two at once: each spends most of its time starting TensorFlow
    check = subprocess.Popen([ZOO, "plugins", "check", NAME, "--json"], **run)
    tests = subprocess.Popen([PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=package, **run)
    checked, check_err = check.communicate(timeout=300)
    tested, tested_err = tests.communicate(timeout=300)

    assert check.returncode == 0, check_err + checked
    report = json.loads(checked)
    assert [(i["kind"], i["name"]) for i in report["items"]] == [
        ("plugin", NAME),
        ("architecture", NAME),
        ("dataset", f"{NAME}-inverted"),
    ]
    statuses = {c["check"]: c["status"] for i in report["items"] for c in i["checks"]}
    assert set(statuses.values()) <= {"pass", "skip"}, statuses
    assert (
        statuses["parameters"] == statuses["export"] == statuses["evaluates"] == statuses["loads"] == "pass"
    )

    assert tests.returncode == 0, tested + tested_err
    counts = report["counts"]
    assert f"{counts['pass']} passed" in tested.splitlines()[-1], tested


def test_the_package_is_one_a_third_party_publishes(generated):
    package, env = generated
    assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == FILES
    assert not any("{{" in (package / f).read_text() for f in FILES)
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    assert project["name"] == f"keras-zoo-{NAME}"
    assert project["dependencies"] == [f"keras-zoo>={zoo.__version__}"]
    assert project["entry-points"] == {"zoo": {NAME: f"zoo_{NAME}"}}
    # The plugin imports zoo.api only, and its __init__ nothing heavy (zoo list stays instant).
    for module in (package / f"zoo_{NAME}").glob("*.py"):
        imported = {
            n.module if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(ast.parse(module.read_text()))
            if isinstance(n, (ast.Import, ast.ImportFrom))
            for a in n.names
        }
        assert not {m for m in imported if m.startswith("zoo")} - {"zoo.api"}, module
    light = subprocess.run(
        [PYTHON, "-c", f"import sys, zoo_{NAME}; assert not {{'keras', 'tensorflow'}} & set(sys.modules)"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert light.returncode == 0, light.stderr
    test = (package / "tests" / "test_contract.py").read_text()
    assert f'@parametrize_with_checks("{NAME}")' in test and "from zoo.api import" in test


@pytest.mark.parametrize("name", ["My-Net", "1net", "net.v2", "_net", "a b", "ünet", "", "net-", "net_"])
def test_a_bad_name_is_refused_with_one_line(registry, tmp_path, name):
    result = invoke(registry, "plugins", "new", name, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"zoo: error: plugin name {name!r} is not valid")
    assert len(result.stderr.splitlines()) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("lenet", "plugin name 'lenet' is taken"),
        ("conv-ae", "architecture 'conv-ae' is already registered by plugin 'autoencoders'"),
        ("datasets", "plugin name 'datasets' is taken"),
        ("onnx", "a module 'zoo_onnx' is already importable here"),
    ],
)
def test_a_name_taken_here_is_refused_with_one_line(registry, tmp_path, name, says):
    registry.plugins = [p for p in registry.plugins if p.name != "onnx"]  # found as a module instead
    result = invoke(registry, "plugins", "new", name, "--dir", str(tmp_path))
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert len(result.stderr.splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_refused_and_left_alone(registry, tmp_path):
    (tmp_path / f"keras-zoo-{NAME}").mkdir()
    (tmp_path / f"keras-zoo-{NAME}" / "mine.txt").write_text("keep")
    result = invoke(registry, "plugins", "new", NAME, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == (
        f"zoo: error: {str(tmp_path / f'keras-zoo-{NAME}')!r} exists; "
        "zoo plugins new never writes into an existing folder\n"
    )
    assert [p.name for p in tmp_path.rglob("*")] == [f"keras-zoo-{NAME}", "mine.txt"]


def test_a_run_that_stops_half_way_leaves_no_package(registry, tmp_path, monkeypatch):
    real = scaffold._render

    def stopped(source, target, filled):
        real(source, target, filled)
        if source.name == scaffold.TEMPLATE:  # the whole package written, not yet renamed into place
            assert (target / "pyproject.toml").exists()
            raise KeyboardInterrupt

    monkeypatch.setattr(scaffold, "_render", stopped)
    with pytest.raises(KeyboardInterrupt):
        scaffold.create(NAME, tmp_path, registry)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    assert scaffold.create(NAME, tmp_path, registry) == tmp_path / f"keras-zoo-{NAME}"


def test_the_template_ships_in_the_wheel():
    """Every template file is package data of zoo.cli (pyproject.toml), so the wheel holds it."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        patterns = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["zoo.cli"]
    folder = ROOT / "zoo" / "cli"
    templates = {p for p in (folder / scaffold.TEMPLATE).rglob("*") if p.is_file()}
    assert len(templates) == len(FILES)
    assert all(p.name.endswith(scaffold.SUFFIX) for p in templates)
    assert templates == {p for pattern in patterns for p in folder.glob(pattern)}
