"""The light commands never import TensorFlow, Keras or tf2onnx (checked in a fresh process,
with the installed entry points loaded as a user would have them)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import PYTHON, ZOO, zoo_subprocess_env

HEAVY = ("tensorflow", "keras", "tf2onnx")
PROBE = f"""
import json, sys
from zoo.cli import cli
code = cli.main(args=sys.argv[1:], standalone_mode=False)
print(json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)
"""


def _probe(*args: str) -> dict:
    proc = subprocess.run(
        [PYTHON, "-c", PROBE, *args], capture_output=True, text=True, env=zoo_subprocess_env(), timeout=120
    )
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["list"], 0),
        (["list", "--json"], 0),
        (["info", "lenet5"], 0),
        (["plugins", "--all", "--json"], 0),
        (["datasets", "--json"], 0),
        (["runs", "."], 0),
        (["info", "nope"], 2),
    ],
)
def test_light_commands_import_no_tensorflow(args, code):
    assert _probe(*args) == {"code": code, "heavy": []}


def test_bench_imports_no_tensorflow(runs):
    model = str(runs.export("lenet5") / "model.onnx")
    result = _probe("bench", model, "--batch-sizes", "1", "--seconds", "0", "--provider", "cpu")
    assert result == {"code": 0, "heavy": []}


def test_the_installed_zoo_command_lists_the_builtins():
    proc = subprocess.run(
        [ZOO, "list", "--json"], capture_output=True, text=True, env=zoo_subprocess_env(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    names = {row["name"] for row in json.loads(proc.stdout)}
    assert {"lenet5", "conv-ae"} <= names
