"""Plugins that misbehave without raising an ordinary exception (issue 16, points 13 to 16): one
that calls ``sys.exit`` or raises ``KeyboardInterrupt`` (at import, in a hook, in a builder),
prints on stdout (which would corrupt every ``--json``), sleeps at import (which every command
would wait for, unnamed), or registers values zoo cannot run (a 250-character name, a 10^6 x 10^6
input). Each is that plugin's failure, named, and the other plugins and the command go on; a real
Ctrl-C still interrupts.

Installed plugins are real distributions (a dist-info with entry points) in a temporary folder on
``sys.path``, loaded in-process through ``metadata.entry_points`` as every command loads them;
one subprocess sends a real SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ZOO, invoke, make_registry, zoo_subprocess_env
from tests.fake_plugins import arch
from zoo import hookimpl
from zoo.core import registry as registry_module
from zoo.core.errors import PluginCodeError
from zoo.core.specs import MAX_NAME_LENGTH, ArchitectureSpec, DatasetSpec

HERE = "tests.reliability.test_plugin_isolation"


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(entry_point, source)``: a distribution whose ``zoo`` entry point is a module of
    that source, importable in this process (and forgotten after the test); returns the folder
    to put on a subprocess's PYTHONPATH."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("ZOO_LOAD_PLUGINS")  # every installed plugin loads, as for a user
    modules: list[str] = []

    def make(entry_point: str, source: str) -> Path:
        module = f"zoo_iso_{entry_point}"
        dist = site / f"{module}-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: zoo-iso-{entry_point}\nVersion: 0.1\n")
        (dist / "entry_points.txt").write_text(f"[zoo]\n{entry_point} = {module}\n")
        (site / f"{module}.py").write_text(source)
        modules.append(module)
        return site

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def fresh(*args: str):
    """The CLI in-process, loading the installed plugins again (imported anew: import-time code
    runs for each command, as in a new process)."""
    for module in [m for m in sys.modules if m.startswith("zoo_iso_")]:
        del sys.modules[module]
    return invoke(None, *args)


GOOD_ARCH = """
from zoo.api import ArchitectureSpec, hookimpl

@hookimpl
def zoo_register_architectures(register):
    register(ArchitectureSpec(name="{name}", builder="tests.fake_models:build_tiny", family="classifier",
        task="classification", input_shape=(8, 8, 1), parts=("features", "head"), summary="tiny",
        default_dataset="synthetic"))
"""


def _listed(result) -> list[str]:
    return [row["name"] for row in json.loads(result.stdout)]


# --- 13: SystemExit and KeyboardInterrupt from plugin code ------------------------------------


def test_sys_exit_at_a_plugins_import_is_its_failure_and_the_command_goes_on(install):
    """Fails if: ``raise SystemExit(3)`` at a plugin's import ends ``zoo list`` with exit 3 and
    nothing said."""
    install("quitter", "raise SystemExit(3)\n")
    install("fine", GOOD_ARCH.format(name="fine-net"))
    result = fresh("list", "--json")
    assert result.exit_code == 0, result.stderr
    assert {"lenet5", "fine-net"} <= set(_listed(result))
    assert result.stderr == (
        "zoo: warning: plugin 'quitter' failed (import): SystemExit: plugin code called sys.exit(3)\n"
    )
    record = next(p for p in json.loads(fresh("plugins", "--json").stdout) if p["name"] == "quitter")
    assert record["error"] == "import: SystemExit: plugin code called sys.exit(3)"


def test_keyboard_interrupt_raised_by_a_plugins_import_is_its_failure(install):
    """Fails if: a ``KeyboardInterrupt`` the plugin raises itself (no Ctrl-C) ends every command
    with exit 130 ("interrupted")."""
    install("grumpy", "raise KeyboardInterrupt\n")
    result = fresh("list", "--json")
    assert result.exit_code == 0, result.stderr
    assert "lenet5" in _listed(result)
    assert result.stderr == (
        "zoo: warning: plugin 'grumpy' failed (import): KeyboardInterrupt: raised by plugin code, "
        "not by Ctrl-C\n"
    )


class ExitingHooks:
    """Registers one architecture, then exits; its dataset hook interrupts itself."""

    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch("before-exit"))
        sys.exit("done registering")

    @hookimpl
    def zoo_register_datasets(self, register):
        raise KeyboardInterrupt


def test_sys_exit_and_keyboard_interrupt_in_a_hook_are_its_failures():
    """Fails if: ``sys.exit`` in a registration hook ends the command (exit 1, nothing listed),
    or a KeyboardInterrupt the hook raises itself ends it with 130."""
    warnings: list[str] = []
    registry = make_registry(("exiter", ExitingHooks()), strict=False, warn=warnings.append)
    assert "lenet5" in registry.architectures and "before-exit" not in registry.architectures
    assert warnings == [
        "plugin 'exiter' failed (zoo_register_architectures): SystemExit: plugin code called "
        "sys.exit('done registering')",
        "plugin 'exiter' failed (zoo_register_datasets): KeyboardInterrupt: raised by plugin code, "
        "not by Ctrl-C",
    ]
    result = invoke(registry, "list", "--json")
    assert result.exit_code == 0 and "lenet5" in _listed(result)


def exits(**kwargs):
    sys.exit(4)


def interrupts(**kwargs):
    raise KeyboardInterrupt


def ctrl_c(**kwargs):
    """What the user's Ctrl-C does while plugin code runs: SIGINT to this process."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)  # the signal's handler raises long before


@pytest.mark.parametrize(
    ("function", "said"),
    [
        ("exits", "SystemExit: plugin code called sys.exit(4)"),
        ("interrupts", "KeyboardInterrupt: raised by plugin code, not by Ctrl-C"),
    ],
)
def test_sys_exit_or_keyboard_interrupt_in_a_builder_is_a_plugin_code_error(function, said):
    """Fails if: a builder, loader or exporter that calls sys.exit (or raises KeyboardInterrupt
    itself) ends zoo silently with its exit code (or 130) instead of naming the plugin."""
    spec = ArchitectureSpec(**{**vars(arch("x")), "plugin": "exiter"})
    with pytest.raises(PluginCodeError) as caught:
        registry_module.call(spec, f"{HERE}:{function}", input_shape=(8, 8, 1))
    assert str(caught.value) == f"error in plugin 'exiter' ({HERE}:{function}): {said}"


def test_a_real_ctrl_c_in_plugin_code_still_interrupts(install):
    """Fails if: zoo takes every KeyboardInterrupt from plugin code for the plugin's failure,
    so that a Ctrl-C while a plugin imports, registers or builds is swallowed."""
    from zoo.core.host import load_registry

    spec = ArchitectureSpec(**{**vars(arch("x")), "plugin": "ctrl"})
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        registry_module.call(spec, f"{HERE}:ctrl_c")
    install("pressed", "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n")
    with pytest.raises(KeyboardInterrupt):
        load_registry()
    assert signal.getsignal(signal.SIGINT) is before  # zoo's handler is put back


def test_ctrl_c_while_a_slow_plugin_imports_interrupts_zoo(install, tmp_path):
    """The same from outside: ``zoo list`` waiting on a plugin that sleeps at import, sent SIGINT,
    exits 130 with one line, at once."""
    mark = tmp_path / "importing"
    site = install("sleeper", f"import pathlib, time\npathlib.Path({str(mark)!r}).touch()\ntime.sleep(60)\n")
    process = subprocess.Popen(
        [ZOO, "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=zoo_subprocess_env(PYTHONPATH=str(site)),
    )
    try:
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert mark.exists(), "the plugin was never imported"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert (process.returncode, stdout, stderr.strip()) == (130, "", "zoo: interrupted")


# --- 14: stdout of plugin code goes to stderr -------------------------------------------------

CHATTY = """
print("chatty: imported")
from zoo.api import ArchitectureSpec, DatasetSpec, hookimpl

HERE = "tests.reliability.test_plugin_isolation"

@hookimpl
def zoo_register_architectures(register):
    print("chatty: registering architectures")
    register(ArchitectureSpec(name="chatty-net", builder=HERE + ":build_chatty", family="classifier",
        task="classification", input_shape=(8, 8, 1), parts=("features", "head"), summary="prints",
        default_dataset="chatty-data"))

@hookimpl
def zoo_register_datasets(register):
    print("chatty: registering datasets")
    register(DatasetSpec(name="chatty-data", loader=HERE + ":load_chatty", summary="prints",
        image_shape=(8, 8, 1), num_classes=2))
"""


def build_chatty(input_shape=(8, 8, 1)):
    from tests.fake_models import build_tiny

    print("chatty: building")
    return build_tiny(input_shape)


def load_chatty(data_dir, input_shape):
    from tests.fake_models import load

    print("chatty: loading")
    return load(data_dir, input_shape)


@pytest.mark.parametrize(
    "args",
    [
        ("list", "--json"),
        ("info", "chatty-net", "--json"),
        ("datasets", "--json"),
        ("plugins", "--json"),
        ("plugins", "check", "chatty-data", "--json"),
    ],
    ids=lambda args: " ".join(args[:-1]),
)
def test_what_a_plugin_prints_never_reaches_json_output(install, args):
    """Fails if: ``print()`` at a plugin's import or in its hooks (or its loader, through
    ``zoo plugins check``) lands in the command's JSON on stdout."""
    install("chatty", CHATTY)
    result = fresh(*args)
    assert result.exit_code == 0, result.stderr
    json.loads(result.stdout)
    assert "chatty: imported" in result.stderr and "chatty: registering" in result.stderr


def test_zoo_train_json_stays_json_with_a_printing_builder_and_loader(install, tmp_path):
    """Fails if: what a plugin's builder or loader prints while ``zoo train --json`` runs is mixed
    into its one-JSON-object-per-line output."""
    install("chatty", CHATTY)
    out = tmp_path / "runs"
    result = fresh("train", "chatty-net", "--epochs", "1", "--json", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[-1]["event"] == "result" and lines[-1]["status"] == "complete"
    assert "chatty: building" in result.stderr and "chatty: loading" in result.stderr


# --- 15: a slow plugin is named ---------------------------------------------------------------

SLEEPY = "import time\ntime.sleep(0.3)\n" + GOOD_ARCH.format(name="sleepy-net")


def test_a_plugin_slow_to_import_is_named_with_its_time(install, monkeypatch):
    """Fails if: a plugin that makes every command wait (here 0.3 s, above a lowered threshold)
    is not named, or ``zoo plugins`` does not show how long each plugin took to load."""
    install("sleepy", SLEEPY)
    monkeypatch.setenv("ZOO_SLOW_PLUGIN_SECONDS", "0.1")
    result = fresh("list", "--json")
    assert result.exit_code == 0 and "sleepy-net" in _listed(result)
    warning = result.stderr.splitlines()
    assert len(warning) == 1 and warning[0].startswith("zoo: warning: plugin 'sleepy' took 0.")
    assert " s to load (import 0." in warning[0] and "ZOO_SLOW_PLUGIN_SECONDS" in warning[0]
    records = {p["name"]: p for p in json.loads(fresh("plugins", "--all", "--json").stdout)}
    assert 0.3 <= records["sleepy"]["load_seconds"] < 5
    assert all(0 <= r["load_seconds"] < 0.1 for name, r in records.items() if name != "sleepy")
    table = fresh("plugins").stdout
    assert "LOAD" in table.splitlines()[0] and "sleepy" in table


def test_below_the_threshold_nothing_is_said_and_a_bad_threshold_is_refused(install, monkeypatch):
    install("sleepy", SLEEPY)
    quiet = fresh("list")  # 0.3 s is under the default
    assert quiet.exit_code == 0 and quiet.stderr == ""
    monkeypatch.setenv("ZOO_SLOW_PLUGIN_SECONDS", "soon")
    refused = fresh("list")
    assert refused.exit_code == 2
    assert refused.stderr == ("zoo: error: ZOO_SLOW_PLUGIN_SECONDS='soon' is not a positive number\n")


# --- 16: spec values zoo cannot run -----------------------------------------------------------


def build_none(input_shape=(8, 8, 1)):
    return None


class Unrunnable:
    """Values a plugin may register that zoo cannot train, each refused at registration."""

    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch("n" * 250))
        register(arch("huge-input", input_shape=(10**6, 10**6, 1)))
        register(arch("no-batch", batch_size=0))
        register(arch("no-epochs", epochs=0))
        register(arch("a" * MAX_NAME_LENGTH))  # the longest name that leaves room for run folders
        register(arch("none-net", builder=f"{HERE}:build_none"))

    @hookimpl
    def zoo_register_datasets(self, register):
        huge = (10**5, 10**5)
        register(DatasetSpec("huge-data", "tests.fake_models:load", "x", image_shape=huge, num_classes=2))


def test_values_zoo_cannot_train_are_refused_at_registration_with_their_reason():
    """Fails if: a 250-character name (ENAMETOOLONG once TensorFlow has started) or a 10^6 x 10^6
    input (MemoryError) is registered; batch size and epochs of 0 stay refused."""
    registry = make_registry(("unrunnable", Unrunnable()), strict=False)
    assert {"a" * MAX_NAME_LENGTH, "none-net"} <= set(registry.architectures)
    for name in ("n" * 250, "huge-input", "no-batch", "no-epochs"):
        assert name not in registry.architectures
    assert "huge-data" not in registry.datasets
    error = json.loads(invoke(registry, "plugins", "--json").stdout)[0]["error"]
    assert f"architecture name '{'n' * 19}'… is 250 characters long, more than {MAX_NAME_LENGTH}" in error
    assert "input_shape (1000000, 1000000, 1) has 1,000,000,000,000 values, more than 67,108,864" in error
    assert "ZOO_MAX_INPUT_PIXELS" in error and "n" * 21 not in error
    assert "image_shape (100000, 100000) has 10,000,000,000 values, more than 67,108,864" in error
    assert "batch_size must be a whole number >= 1, got 0" in error
    assert "epochs must be a whole number >= 1, got 0" in error


def test_the_input_limit_is_raised_by_its_setting(monkeypatch):
    monkeypatch.setenv("ZOO_MAX_INPUT_PIXELS", str(10**12))
    registry = make_registry(("unrunnable", Unrunnable()), strict=False)
    assert "huge-input" in registry.architectures and "huge-data" in registry.datasets


def test_a_bad_input_limit_setting_is_one_line(monkeypatch):
    monkeypatch.setenv("ZOO_MAX_INPUT_PIXELS", "lots")
    result = invoke(None, "list")
    assert (result.exit_code, result.stderr) == (
        2,
        "zoo: error: ZOO_MAX_INPUT_PIXELS='lots' is not a positive number\n",
    )


@pytest.mark.parametrize("option", ["--epochs", "--batch-size"])
def test_zero_epochs_or_batch_size_on_the_command_line_is_refused(tmp_path, option):
    """A regression test: 0 is refused by the option, before TensorFlow starts."""
    result = invoke(make_registry(), "train", "lenet5", option, "0", "--out", str(tmp_path))
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("field", "value"), [("epochs", 0), ("batch_size", 0), ("batch_size", 2.5)])
def test_zero_epochs_or_batch_size_through_the_python_api_is_refused(tmp_path, field, value):
    """Fails if: ``train(TrainRequest(batch_size=0))`` reaches TensorFlow (ZeroDivisionError), or
    ``epochs=0`` makes an empty "complete" run; the API is checked as the command line is."""
    from zoo.core.errors import InvalidOption
    from zoo.training.train import TrainRequest, train

    request = TrainRequest("lenet5", dataset="synthetic", out=tmp_path, **{field: value})
    with pytest.raises(InvalidOption, match=f"{field} must be a whole number of at least 1"):
        train(make_registry(), request)
    assert list(tmp_path.iterdir()) == []


def test_a_builder_that_returns_none_is_named_not_an_attribute_error(tmp_path):
    """A regression test: zoo.training.models.build refuses what is not a Keras model with a
    graph, naming the plugin, before a run folder appears."""
    registry = make_registry(("unrunnable", Unrunnable()), strict=False)
    result = invoke(registry, "train", "none-net", "--epochs", "1", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"zoo: error: architecture 'none-net' of plugin 'unrunnable': {HERE}:build_none returned "
        "NoneType, not a Keras model"
    )
    assert "get_layer" not in result.stderr and list(tmp_path.iterdir()) == []
