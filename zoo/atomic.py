"""Write files and folders under a temporary name and rename them when complete.

A reader (or a crash) never sees a half-written file at its final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: Path, final: Path, mode: int) -> None:
    """Give ``tmp`` the permissions a plain ``open`` would have (mkstemp makes it private)."""
    os.chmod(tmp, mode & ~_umask())
    os.replace(tmp, final)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` if the block succeeds.

    The temporary name keeps ``final``'s extension, for writers that insist on one (Keras).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _publish(tmp, final, 0o666)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextlib.contextmanager
def atomic_dir(final: str | os.PathLike[str], replace: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``final``; on success it becomes ``final``.

    An existing ``final`` is replaced, or with ``replace=False`` kept, and FileExistsError
    raised. On failure the temporary folder is removed and ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        if final.exists() and not replace:
            raise FileExistsError(f"{str(final)!r} appeared while it was being written")
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            os.replace(final, old / "previous")
            _publish(tmp, final, 0o777)
            shutil.rmtree(old, ignore_errors=True)
        else:
            _publish(tmp, final, 0o777)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
