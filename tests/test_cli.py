"""The CLI's light commands and its error handling, in-process with a fresh registry."""

from __future__ import annotations

import json

import pytest

from tests import fake_plugins
from tests.conftest import BUILTIN_ARCHITECTURES as BUILTINS
from tests.conftest import invoke, make_registry

BUILTIN_ARCHITECTURES = ", ".join(BUILTINS)


def test_list_json_has_the_documented_fields(registry):
    result = invoke(registry, "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == sorted(registry.architectures)
    assert "lenet5" in registry.architectures
    assert rows[BUILTINS.index("lenet5")] == {
        "name": "lenet5",
        "family": "classifier",
        "task": "classification",
        "parts": ["features", "head"],
        "input_shape": [32, 32, 1],
        "plugin": "lenet",
        "summary": "LeNet-5: C1-S2-C3-S4-C5-F6-output, tanh and average pooling, 32x32 grey",
    }


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["conv"], ["conv-ae"]),
        (["*5"], ["lenet5"]),
        (["--family", "autoencoder"], [n for n in BUILTINS if n.endswith("-ae")]),
        (["lenet", "--family", "autoencoder"], []),
    ],
)
def test_list_filters_by_pattern_and_family(registry, args, names):
    result = invoke(registry, "list", *args, "--json")
    assert [r["name"] for r in json.loads(result.stdout)] == names


def test_list_table_for_people(registry):
    lines = invoke(registry, "list").stdout.splitlines()
    assert lines[0].split() == ["NAME", "FAMILY", "PARTS", "INPUT", "PLUGIN", "SUMMARY"]
    assert lines[1 + BUILTINS.index("lenet5")].split()[:5] == [
        "lenet5",
        "classifier",
        "features,head",
        "32x32x1",
        "lenet",
    ]


def test_info_json(registry):
    info = json.loads(invoke(registry, "info", "conv-ae", "--json").stdout)
    assert info["parts"] == ["encoder", "decoder"]
    assert info["input_shape"] == [28, 28, 1]
    assert info["default_dataset"] == "mnist"
    assert info["reference"].startswith("J. Masci")
    assert info["hyperparameters"][0] == {
        "name": "filters",
        "type": "int",
        "default": 16,
        "range": "1 to 1024",
        "help": "filters of the first convolution; doubled at each stage",
    }
    assert info["training"] == {
        "epochs": 5,
        "batch_size": 128,
        "learning_rate": 0.001,
        "lr_schedule": "constant",
        "optimizer": "adam",
        "loss": "binary_crossentropy",
        "pretrainer": None,
    }


def test_info_for_people(registry):
    text = invoke(registry, "info", "lenet5").stdout
    assert "parts:           features -> head" in text
    assert "activation = 'tanh'  [one of tanh, relu]" in text
    assert "LeCun" in text


def test_plugins_json_shows_builtins_only_with_all(registry):
    assert json.loads(invoke(registry, "plugins", "--json").stdout) == []
    rows = json.loads(invoke(registry, "plugins", "--all", "--json").stdout)
    assert [r["name"] for r in rows] == ["autoencoders", "cnn", "datasets", "fcn", "lenet", "onnx", "unet"]
    lenet = rows[4]
    assert set(lenet) == {
        "name",
        "distribution",
        "version",
        "builtin",
        "module",
        "path",
        "hooks",
        "registered",
        "error",
        "load_seconds",
    }
    assert lenet["hooks"] == ["zoo_register_architectures"]
    assert lenet["registered"] == ["lenet5"] and lenet["builtin"] is True and lenet["error"] is None


def test_a_broken_plugin_is_shown_with_its_error_and_does_not_break_list():
    warnings: list[str] = []
    reg = make_registry(("broken", fake_plugins.RaisingPlugin()), strict=False, warn=warnings.append)
    assert invoke(reg, "list").exit_code == 0
    rows = json.loads(invoke(reg, "plugins", "--json").stdout)
    assert rows == [
        {
            "name": "broken",
            "distribution": None,
            "version": None,
            "builtin": False,
            "module": "RaisingPlugin",
            "path": rows[0]["path"],
            "hooks": ["zoo_register_architectures"],
            "registered": [],
            "error": "zoo_register_architectures: RuntimeError: boom while registering",
            "load_seconds": rows[0]["load_seconds"],
        }
    ]
    assert "ERROR zoo_register_architectures: RuntimeError" in invoke(reg, "plugins").stdout


def test_a_failed_builtin_plugin_is_shown_without_all():
    from zoo.core.host import PluginHost, PluginRecord

    host = PluginHost(strict=False)
    host.add(fake_plugins.RaisingPlugin(), PluginRecord(name="lenet", builtin=True))
    rows = json.loads(invoke(host.build_registry(), "plugins", "--json").stdout)
    assert [(r["name"], r["builtin"]) for r in rows] == [("lenet", True)]
    assert "boom" in rows[0]["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["info", "lenet"],
            f"zoo: error: Unknown architecture 'lenet'. Available: {BUILTIN_ARCHITECTURES}",
        ),
        (
            ["train", "nope"],
            f"zoo: error: Unknown architecture 'nope'. Available: {BUILTIN_ARCHITECTURES}",
        ),
        (
            ["train", "lenet5", "--dataset", "cifar"],
            "zoo: error: Unknown dataset 'cifar'. Available: "
            "cifar10, fashion_mnist, folder, mnist, mnist-sample, synthetic",
        ),
        (
            ["train", "lenet5", "-p", "activation=gelu"],
            "zoo: error: hyper-parameter 'activation' of 'lenet5' must be one of tanh, relu, got 'gelu'",
        ),
        (
            ["train", "lenet5", "--epochs", "0"],
            "zoo: error: Invalid value for '--epochs': 0 is not in the range 1<=x<=2147483647.",
        ),
        (
            ["train", "lenet5", "--data-dir", "/no/such/dir"],
            "zoo: error: Data directory '/no/such/dir' (from --data-dir) is not a folder",
        ),
        (["export", "/no/such/run"], "zoo: error: Run folder '/no/such/run' does not exist"),
        (
            ["export", "/no/such/run", "--format", "tflite"],
            "zoo: error: Unknown exporter 'tflite'. Available: onnx",
        ),
        (["bench", "/no/such.onnx"], "zoo: error: Model file '/no/such.onnx' does not exist"),
        (
            ["bench", "m.onnx", "--batch-sizes", "1,x"],
            "zoo: error: Invalid value for '--batch-sizes': '1,x' is not a comma-separated list of "
            "positive integers",
        ),
        (
            ["bench", "m.onnx", "--provider", "tpu"],
            "zoo: error: Invalid value for '--provider': 'tpu' is not one of "
            "'auto', 'cuda', 'tensorrt', 'cpu'.",
        ),
        (["list", "--family", "gan"], "zoo: error: Invalid value for '--family': 'gan' is not one of"),
        (["trian"], "zoo: error: No such command 'trian'."),
        (["list", "--jsn"], "zoo: error: No such option '--jsn'. Did you mean '--json'?"),
    ],
)
def test_user_errors_are_one_line_on_stderr_with_exit_2(registry, args, message):
    result = invoke(registry, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(registry):
    result = invoke(registry, "--debug", "info", "lenet")
    assert result.exit_code == 1 and type(result.exception).__name__ == "UnknownArchitecture"


def test_internal_errors_exit_1_with_one_line(registry, monkeypatch):
    import zoo.cli.describe

    def broken(*args):
        raise KeyError("oops")

    monkeypatch.setattr(zoo.cli.describe, "architecture_info", broken)
    result = invoke(registry, "info", "lenet5")
    assert result.exit_code == 1
    assert result.stderr == "zoo: internal error: KeyError: 'oops' (run with --debug for the traceback)\n"


def test_no_arguments_prints_help(registry):
    result = invoke(registry)
    assert result.exit_code == 0 and "Commands:" in result.stdout


def test_version(registry):
    assert invoke(registry, "--version").stdout.startswith("zoo, version 0.1.0")


def test_a_huge_error_message_is_cut_to_one_readable_line(registry, monkeypatch):
    import zoo.cli.describe

    def broken(*args):
        raise ValueError("tensor " + "0.123 " * 5000)

    monkeypatch.setattr(zoo.cli.describe, "architecture_info", broken)
    result = invoke(registry, "info", "lenet5")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert len(result.stderr) < 600 and "…" in result.stderr and "--debug" in result.stderr
