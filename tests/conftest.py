"""Shared fixtures. Entry points never load here unless a test asks (ZOO_LOAD_PLUGINS is
emptied for every test); the built-in plugins are given to a fresh host per test instead."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo.cli import cli
from zoo.core.host import PluginHost
from zoo.core.registry import PluginRecord, Registry

ROOT = Path(__file__).resolve().parents[1]
# What the built-in plugins register; a test checks the registry against these lists.
BUILTIN_ARCHITECTURES = [
    "cnn-small",
    "conv-ae",
    "denoising-ae",
    "dense-ae",
    "fcn",
    "lenet5",
    "sparse-ae",
    "stacked-ae",
    "unet",
    "vae",
]
BUILTIN_DATASETS = ["cifar10", "fashion_mnist", "folder", "mnist", "mnist-sample", "synthetic"]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def builtin_entry_points() -> dict[str, str]:
    """The built-ins as pyproject.toml registers them: entry-point name -> module."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["entry-points"]["zoo"]


def make_registry(*extra: tuple[str, object], strict: bool = True, warn=None) -> Registry:
    """A fresh host with the built-in plugins (named as their entry points) plus ``extra``."""
    host = PluginHost(strict=strict, warn=warn)
    for name, module in builtin_entry_points().items():
        host.add(importlib.import_module(module), PluginRecord(name=name, builtin=True))
    for name, plugin in extra:
        host.add(plugin, PluginRecord(name=name))
    return host.build_registry()


def pytest_configure(config):
    """Signals as a terminal gives them. A shell starts a background job (``bash .ci/run &``) with
    SIGINT ignored, and ``nohup`` ignores SIGHUP; zoo, like Python, keeps a signal ignored that it
    was started with, and children inherit it, so the tests that send signals would see nothing."""
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    if hasattr(signal, "SIGHUP"):
        defaults[signal.SIGHUP] = signal.SIG_DFL
    for signum, handler in defaults.items():
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, handler)


@pytest.fixture(autouse=True)
def _no_entry_points(monkeypatch):
    monkeypatch.setenv("ZOO_LOAD_PLUGINS", "")
    monkeypatch.delenv("ZOO_DATA_DIR", raising=False)  # tests that need MNIST pass MNIST_DIR
    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_DEBUG", raising=False)


@pytest.fixture
def registry() -> Registry:
    return make_registry()


def invoke(registry: Registry | None, *args: str):
    """Run the CLI in-process; stdout and stderr are apart in the result."""
    return CliRunner().invoke(cli, list(args), obj=registry)


def mnist_dir() -> Path | None:
    """Where the real MNIST is: $ZOO_DATA_DIR, else ../shared/datasets beside the checkout."""
    for candidate in (os.environ.get("ZOO_DATA_DIR"), SHARED_DATASETS):
        if candidate and (Path(candidate) / "mnist.npz").is_file():
            return Path(candidate)
    return None


MNIST_DIR = mnist_dir()  # read once, before any test changes the environment


@pytest.fixture
def mnist_path() -> Path:
    """The folder holding the real mnist.npz; skipped without it, except in CI, where it fails."""
    if MNIST_DIR is None:
        message = "mnist.npz not found in $ZOO_DATA_DIR or ../shared/datasets"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return MNIST_DIR


def zoo_subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a ``zoo`` subprocess that loads the installed entry points."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.update(extra)
    return env


PYTHON = sys.executable
ZOO = str(Path(sys.executable).with_name("zoo"))  # the console script of the environment under test


EXAMPLE_PLUGIN = ROOT / "examples" / "zoo-mlp"
# What a finished autoencoder run folder holds (a classifier has confusion_matrix.png instead).
AUTOENCODER_RUN_FILES = frozenset(
    {
        "model.keras",
        "config.json",
        "state.json",
        "history.json",
        "history.csv",
        "metrics.json",
        "evaluation.json",
        "samples.npz",
        "history.png",
        "reconstructions.png",
        "mse-per-class.png",
        "README.md",
    }
)


def load_model(run_dir: Path, compile: bool = False, registry: Registry | None = None):
    """A run's Keras model, loaded as every zoo command loads it (trust check included)."""
    from zoo.runs.run_folder import Run
    from zoo.training.models import load_run_model

    return load_run_model(registry or contract_registry(), Run.open(run_dir), compile=compile)


def contract_registry() -> Registry:
    """The built-ins plus the example third-party plugin, imported from its source folder."""
    if str(EXAMPLE_PLUGIN) not in sys.path:
        sys.path.insert(0, str(EXAMPLE_PLUGIN))
    return make_registry(("mlp", importlib.import_module("zoo_mlp")))


class RunCache:
    """Trains (synthetic data, one epoch) and exports each architecture once per session."""

    def __init__(self, registry: Registry, out: Path) -> None:
        self.registry, self.out = registry, out
        self.runs: dict[str, Path] = {}
        self.exports: dict[str, Path] = {}

    def run(self, name: str) -> Path:
        from zoo.training.train import TrainRequest, train

        if name not in self.runs:
            request = TrainRequest(
                architecture=name, dataset="synthetic", epochs=1, batch_size=64, out=self.out
            )
            self.runs[name] = train(self.registry, request, verbose=0).path
        return self.runs[name]

    def export(self, name: str) -> Path:
        from zoo.export.orchestrate import export_run

        if name not in self.exports:
            self.exports[name] = export_run(self.registry, self.run(name)).path
        return self.exports[name]


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> RunCache:
    return RunCache(contract_registry(), tmp_path_factory.mktemp("runs"))
