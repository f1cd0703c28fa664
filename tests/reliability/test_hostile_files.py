"""Files that would block zoo forever or exhaust the machine (issue 16, point 8): a FIFO named
like an image or a model, a link to /dev/zero, a small PNG that claims 20000 x 20000 pixels.
Each is refused in one line, exit 2, without being read. The FIFO cases run zoo in a subprocess
with a timeout, so a regression fails instead of hanging the suite."""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.conftest import ZOO, invoke, make_registry, zoo_subprocess_env

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


def _png(width: int, height: int) -> bytes:
    """A PNG header claiming ``width`` x ``height`` grey pixels, with a tiny (invalid) body."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def _photos(root: Path) -> Path:
    from PIL import Image

    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), color=40 * i).save(root / label / f"{i}.png")
    return root


def _zoo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ZOO, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=zoo_subprocess_env(),
    )


def test_a_png_claiming_400_million_pixels_is_refused_before_it_is_decoded(tmp_path):
    """Fails if: a 20000 x 20000 PNG in a folder dataset is decoded (5 GB) instead of refused."""
    root = _photos(tmp_path / "photos")
    bomb = root / "dog" / "bomb.png"
    bomb.write_bytes(_png(20000, 20000))
    result = invoke(
        make_registry(), "train", "lenet5", "--dataset", f"folder:{root}", "-p", "num_classes=2",
        "--epochs", "1", "--out", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"zoo: error: Image {str(bomb)!r} claims 400,000,000 pixels, more than 50,000,000 "
        "(raise ZOO_MAX_IMAGE_PIXELS for images you trust)\n"
    )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_image_limits_are_settings(tmp_path, monkeypatch):
    """Fails if: ZOO_MAX_IMAGE_PIXELS or ZOO_MAX_IMAGE_MB is ignored (a limit with no way to raise
    or lower it), or a bad value is not one line."""
    root = _photos(tmp_path / "photos")
    args = ("train", "lenet5", "--dataset", f"folder:{root}", "-p", "num_classes=2", "--epochs", "1")
    monkeypatch.setenv("ZOO_MAX_IMAGE_PIXELS", "10")  # the 8 x 8 images claim 64
    lowered = invoke(make_registry(), *args, "--out", str(tmp_path / "a"))
    assert (
        lowered.exit_code == 2
        and "claims 64 pixels, more than 10 (raise ZOO_MAX_IMAGE_PIXELS" in lowered.stderr
    )
    monkeypatch.delenv("ZOO_MAX_IMAGE_PIXELS")
    monkeypatch.setenv("ZOO_MAX_IMAGE_MB", "0.00001")  # 10 bytes
    lowered = invoke(make_registry(), *args, "--out", str(tmp_path / "b"))
    assert lowered.exit_code == 2 and "more than 10 (raise ZOO_MAX_IMAGE_MB" in lowered.stderr
    monkeypatch.setenv("ZOO_MAX_IMAGE_MB", "lots")
    bad = invoke(make_registry(), *args, "--out", str(tmp_path / "c"))
    assert (
        bad.exit_code == 2 and bad.stderr == "zoo: error: ZOO_MAX_IMAGE_MB='lots' is not a positive number\n"
    )


def test_a_fifo_named_like_an_image_is_refused_not_waited_on(tmp_path):
    """Fails if: a FIFO named x.png in a folder dataset is opened (it blocks until a writer comes)."""
    root = _photos(tmp_path / "photos")
    fifo = root / "cat" / "x.png"
    os.mkfifo(fifo)
    result = _zoo(
        "train", "lenet5", "--dataset", f"folder:{root}", "-p", "num_classes=2",
        "--epochs", "1", "--out", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.endswith(
        f"zoo: error: Image {str(fifo)!r} is not a regular file (a FIFO, a device?)\n"
    )


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_zoo_verify_refuses_an_onnx_path_that_is_no_regular_file(tmp_path, kind):
    """Fails if: ``zoo verify x.onnx`` opens a FIFO (blocks forever) or a link to /dev/zero
    (reads forever)."""
    model = tmp_path / "x.onnx"
    if kind == "fifo":
        os.mkfifo(model)
    else:
        model.symlink_to("/dev/zero")
    result = _zoo("verify", str(model), timeout=60)
    assert result.returncode == 2
    assert result.stderr == f"zoo: error: {str(model)!r} is not a regular file (a FIFO, a device?)\n"
