"""Third-party plugins as users install them: found through their distribution's entry points.

The example package (examples/zoo-mlp) is installed into a temporary folder with pip and
used by a real ``zoo`` process: discovered, listed, trained and exported. A broken package
shows that one plugin's failure breaks no command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BUILTIN_ARCHITECTURES, EXAMPLE_PLUGIN, PYTHON, ZOO, zoo_subprocess_env


def _zoo(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZOO, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=zoo_subprocess_env(PYTHONPATH=str(site), **env),
    )


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    source = tmp_path_factory.mktemp("src") / "zoo-mlp"
    shutil.copytree(EXAMPLE_PLUGIN, source)  # building in place would leave build/ in the checkout
    pip = [PYTHON, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "--target", str(site), str(source)], check=True, capture_output=True, timeout=300)
    return site


def test_the_example_plugin_is_discovered_listed_trained_and_exported(example_site, tmp_path):
    listed = _zoo(example_site, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    mlp = next(row for row in json.loads(listed.stdout) if row["name"] == "mlp")
    assert mlp["plugin"] == "mlp" and mlp["parts"] == ["features", "head"]

    plugins = json.loads(_zoo(example_site, "plugins", "--json").stdout)
    assert [(p["name"], p["distribution"], p["version"], p["builtin"], p["error"]) for p in plugins] == [
        ("mlp", "zoo-mlp", "1.0.0", False, None)
    ]
    assert plugins[0]["path"].startswith(str(example_site))

    trained = _zoo(
        example_site, "train", "mlp", "--dataset", "synthetic", "--epochs", "1", "--out", str(tmp_path)
    )
    assert trained.returncode == 0, trained.stderr
    run = trained.stdout.splitlines()[-1]
    config = json.loads((Path(run) / "config.json").read_text())
    assert (config["plugin"], config["plugin_version"]) == ("mlp", "1.0.0")

    exported = _zoo(example_site, "export", run, "--json")
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads(exported.stdout)
    assert [f["file"] for f in manifest["files"]] == ["model.onnx", "features.onnx", "head.onnx"]
    assert all(f["passed"] for f in manifest["files"])


@pytest.fixture
def broken_site(tmp_path) -> Path:
    dist = tmp_path / "zoo_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[zoo]\nbroken = zoo_broken\n")
    (tmp_path / "zoo_broken.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    return tmp_path


def test_a_broken_installed_plugin_warns_and_breaks_nothing(broken_site):
    listed = _zoo(broken_site, "list")
    assert listed.returncode == 0
    assert "lenet5" in listed.stdout
    assert listed.stderr == (
        "zoo: warning: plugin 'broken' failed (import): ImportError: this plugin is broken on purpose\n"
    )
    plugins = json.loads(_zoo(broken_site, "plugins", "--json").stdout)
    assert plugins[0]["name"] == "broken" and plugins[0]["distribution"] == "zoo-broken"
    assert plugins[0]["error"] == "import: ImportError: this plugin is broken on purpose"


def test_strict_plugins_re_raise_with_the_traceback(broken_site):
    strict = _zoo(broken_site, "list", ZOO_STRICT_PLUGINS="1")
    assert strict.returncode == 1
    assert "Traceback" in strict.stderr and "broken on purpose" in strict.stderr


def test_zoo_load_plugins_skips_the_broken_one(broken_site):
    only = _zoo(broken_site, "list", "--json", ZOO_LOAD_PLUGINS="lenet,autoencoders,cnn,fcn,unet")
    assert only.returncode == 0 and only.stderr == ""
    assert [r["name"] for r in json.loads(only.stdout)] == BUILTIN_ARCHITECTURES
