"""CI runs what the README promises: its test command with nothing deselected but the timing
tests, and its demo. Each test names the break it catches."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib

from tests.conftest import ROOT

SLOW_FILES = [
    "tests/test_mnist_quality.py",
    "tests/reliability/test_kill.py",
    "tests/reliability/test_soak.py",
]


def _readme_commands() -> list[str]:
    """The README's two commands, from its "Two commands" block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Two commands", 1)[1].split("```", 2)[1]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def _ci_lines() -> list[str]:
    return [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]


def test_ci_runs_the_readme_test_command_as_it_is():
    """Fails if: .ci/run runs the tests with other arguments than the README gives (a -k, a -m or
    a --deselect that leaves slow tests out), or sets PYTEST_ADDOPTS."""
    demo, tests = _readme_commands()
    assert (demo, tests) == ("bash demo.sh", ".venv/bin/python -m pytest")
    lines = _ci_lines()
    assert tests in lines
    runs = [line for line in lines if "pytest" in line and not line.startswith("#")]
    main = [line for line in runs if '"$plugin"' not in line]  # the generated plugin's own tests aside
    assert main == [tests], main
    assert not any("PYTEST_ADDOPTS" in line for line in lines)


def test_ci_runs_the_readme_demo():
    """Fails if: demo.sh, one of the README's two commands, is no longer run by CI."""
    assert "bash demo.sh" in _ci_lines()


def test_the_default_options_deselect_only_the_timing_tests():
    """Fails if: pyproject's addopts deselect more than the benchmark-marked timing tests (the slow
    tests, say), or skip files, or select by keyword."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        options = shlex.split(tomllib.load(fh)["tool"]["pytest"]["ini_options"]["addopts"])
    assert options[options.index("-m") + 1] == "not benchmark"
    assert not {"-k", "--deselect", "--ignore", "--ignore-glob", "-x", "--lf"} & set(options)


def test_the_slow_tests_are_collected_under_the_readme_command():
    """Fails if: anything (options, markers, a conftest hook) keeps the slow tests from running."""
    found = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *SLOW_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    collected = [line for line in found.stdout.splitlines() if "::" in line]
    for name in SLOW_FILES:
        assert any(line.startswith(name) for line in collected), (name, found.stdout[-2000:])
