"""benchmarks/quality.py: two seeds of a row give a mean and a spread of what the runs' own
evaluations recorded, and the first seed's evaluation figures are copied beside the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, zoo_subprocess_env

pytestmark = pytest.mark.slow


def test_quality_reports_each_measure_over_the_seeds(tmp_path, mnist_path):
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--only", "denoising-ae", "--seeds", "2",
         "--epochs-scale", "0.05", "--out", str(tmp_path / "runs"), "--results", str(results)],
        env=zoo_subprocess_env(ZOO_DATA_DIR=str(mnist_path)),
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    row = json.loads((results / "quality.json").read_text())["architectures"]["denoising-ae"]
    gains = row["per_seed"]["psnr_gain_db"]
    assert row["seeds"] == [0, 1] and len(gains) == 2 and gains[0] != gains[1]
    assert row["summary"]["psnr_gain_db"]["mean"] == pytest.approx(sum(gains) / 2)
    assert row["summary"]["psnr_gain_db"]["std"] == pytest.approx(abs(gains[0] - gains[1]) / 2**0.5)
    assert "denoising-ae-denoising.png" in row["figures"]
    assert Path(results / "denoising-ae-denoising.png").read_bytes().startswith(b"\x89PNG")
    assert "| denoising-ae | 1 | 2 |" in done.stdout and "`psnr_gain_db`" in done.stdout
