"""Write files and folders under a temporary name and rename them when complete.

A reader (or a crash) never sees a half-written file at its final name. A file written into a
run folder this process holds the lock of is checked to go into that very folder: one moved or
deleted meanwhile is never re-created (``zoo.runs.locks.FolderLock.check``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.runs import locks


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: Path, final: Path, mode: int) -> None:
    """Give ``tmp`` the permissions a plain ``open`` would have (mkstemp makes it private)."""
    os.chmod(tmp, mode & ~_umask())
    os.replace(tmp, final)


def _renameat2(a: Path, b: Path, flags: int) -> bool:
    """Linux's ``renameat2``; False where the C library, kernel or file system lacks it."""
    if sys.platform != "linux":
        return False
    function = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if function is None:  # a C library older than glibc 2.28
        return False
    at_fdcwd = -100
    if function(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), flags) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    if error == errno.EEXIST:
        raise FileExistsError(error, os.strerror(error), str(a), None, str(b))
    raise OSError(error, os.strerror(error), str(a), None, str(b))


def _publish_new(tmp: Path, final: Path, mode: int) -> None:
    """``_publish`` where ``final`` must not exist: FileExistsError if it does or appears, even
    between the check and the rename (``RENAME_NOREPLACE``), never a folder merged or replaced."""
    os.chmod(tmp, mode & ~_umask())
    rename_noreplace = 1
    if _renameat2(tmp, final, rename_noreplace):
        return
    if final.exists():
        raise FileExistsError(f"{str(final)!r} appeared while it was being written")
    try:
        os.rename(tmp, final)  # replaces only an empty folder, which no writer publishes
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise FileExistsError(f"{str(final)!r} appeared while it was being written") from exc
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux's ``renameat2(RENAME_EXCHANGE)``), so that a folder
    replaced by another is never missing, not even for a moment; False where unsupported."""
    rename_exchange = 2
    return _renameat2(a, b, rename_exchange)


@contextlib.contextmanager
def _naming(final: Path) -> Iterator[None]:
    """An ``OSError`` that names no file (a full disk met by ``write()``) is made to name
    ``final``, so the user's one line says where (``No space left on device: 'RUN/model.keras'``)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(final)) from exc


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it to ``final`` if the block succeeds.

    The temporary name keeps ``final``'s extension, for writers that insist on one (Keras).
    A missing folder is made, unless it is a run folder this process holds: that one was moved
    or deleted, and ``RunFolderError`` says so instead.
    """
    final = Path(final)
    lock = locks.held(final.parent)
    if lock is not None:
        lock.check()
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with _naming(final):
            yield tmp
            _publish(tmp, final, 0o666)
    finally:
        tmp.unlink(missing_ok=True)


def check_writable_folder(path: str | os.PathLike[str], what: str) -> None:
    """Raise ``InvalidOption`` unless ``path`` is, or can be made, a folder this process may
    write in; called before long work, so a bad ``--out`` is refused before it, not after."""
    from zoo.core.errors import InvalidOption

    path = probe = Path(path)
    try:
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            where = "" if probe == path else f": {str(probe)!r}"
            raise InvalidOption(f"{what} {str(path)!r}{where} is a file, not a folder")
    except OSError as exc:
        raise InvalidOption(f"{what} {str(path)!r} cannot be used: {exc.strerror or exc}") from exc
    effective = os.access in os.supports_effective_ids  # the user we run as, also under sudo
    if not os.access(probe, os.W_OK | os.X_OK, effective_ids=effective):
        raise InvalidOption(f"{what} {str(path)!r}: the folder {str(probe)!r} is not writable")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def encode(text: str) -> bytes:
    """UTF-8, with the bytes of names the OS gave as they were: a file or folder name that is
    not valid in the locale's encoding (``LC_ALL=C``, a non-UTF-8 name) reaches Python as lone
    surrogates, which plain UTF-8 refuses; anything else unencodable is written escaped."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, encode(text))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


_RANDOM = r"[a-z0-9_]{8}"  # the random part of tempfile's names


def leftovers(folder: str | os.PathLike[str], final_name: str | None = None) -> list[Path]:
    """What ``atomic_path`` and ``atomic_dir`` left in ``folder`` when their process was killed
    (for ``final_name`` only, if given): ``.STEM.XXXXXXXX.tmp.EXT`` files and
    ``.NAME.XXXXXXXX.tmp`` or ``.old`` folders. Remove them only while holding the lock that
    every writer of those names takes: another writer's temporaries are in flight otherwise."""
    if final_name is None:
        pattern = re.compile(rf"^\..+\.{_RANDOM}\.(tmp(\.\w+)?|old)$")
    else:
        stem, suffix = os.path.splitext(final_name)
        name, stem, suffix = re.escape(final_name), re.escape(stem), re.escape(suffix)
        pattern = re.compile(rf"^\.({stem}\.{_RANDOM}\.tmp{suffix}|{name}\.{_RANDOM}\.(tmp|old))$")
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if pattern.match(p.name)) if folder.is_dir() else []


def remove(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


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
        with _naming(final):
            yield tmp
            _publish_folder(tmp, final, replace)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _publish_folder(tmp: Path, final: Path, replace: bool) -> None:
    """``tmp`` becomes ``final``: new, or (``replace``) exchanged with the one there (which is
    then at ``tmp``, for the caller to remove)."""
    if not replace:
        _publish_new(tmp, final, 0o777)
    elif final.exists():
        os.chmod(tmp, 0o777 & ~_umask())
        if not _exchange(tmp, final):  # swapped: the old folder is at tmp, removed by the caller
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
            os.replace(final, old / "previous")  # a kill here leaves final missing a moment
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
    else:
        _publish(tmp, final, 0o777)
