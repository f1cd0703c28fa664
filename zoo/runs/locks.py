"""One writer per folder: an exclusive lock on a run folder or an export's output folder.

Why ``fcntl.flock`` on a lock file: the kernel drops the lock when its process ends, however
it ends, so a ``kill -9`` or a lost machine never leaves a stale lock to clear by hand (a lock
that is a file's mere existence, or a PID written in it, would need that); it can be tried
without waiting, so a second writer is refused at once; and it needs nothing but the file
system. It is advisory: only zoo's writers take it. On network file systems it is as good as
their locking (Linux maps it to POSIX locks on NFS).

A run folder's lock is ``RUN/.lock``; an output folder's is ``.NAME.lock`` beside it, since the
output folder itself is replaced whole. A lock file is removed when its lock is released, so it
is left only by a process that was killed, and the next writer takes it over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from pathlib import Path

from zoo.core.errors import FolderBusy

RUN_LOCK = ".lock"
TRIES = 5  # a reader's probe (``is_held``) holds the lock for microseconds: try a few times
PAUSE = 0.01


class FolderLock:
    """A held lock; ``release`` (or leaving a ``with`` block) drops it and removes its file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    def moved(self, path: Path) -> None:
        """The lock file now lies at ``path`` (its folder was renamed into place)."""
        self.path = path

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):  # remove our file, not one a successor created
            if os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
                os.unlink(self.path)
        os.close(self._fd)
        self._fd = -1

    def __del__(self) -> None:  # a lock dropped on an error path, before its ``with``
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(path: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        return f" (pid {int(path.read_text().strip())})"
    return ""


def acquire(path: Path, what: str) -> FolderLock:
    """Lock ``path`` or raise ``FolderBusy`` at once, naming ``what`` and the holder's PID."""
    for _ in range(TRIES):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            time.sleep(PAUSE)
            continue
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(fd).st_ino:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return FolderLock(path, fd)
        os.close(fd)  # its holder removed the file as it released it: lock the new one
    raise FolderBusy(f"{what} is being written by another zoo process{_holder(path)}; wait for it to end")


def is_held(path: Path) -> bool:
    """Whether a live process holds the lock at ``path`` (a shared try, dropped at once)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def run_lock(run_dir: Path) -> Path:
    return Path(run_dir) / RUN_LOCK


def output_lock(final: Path) -> Path:
    final = Path(final)
    return final.parent / f".{final.name}.lock"


def hold_run(run_dir: Path) -> FolderLock:
    """The run folder's lock: held by whoever trains it (or rewrites its model card)."""
    return acquire(run_lock(run_dir), f"Run folder {str(run_dir)!r}")


def hold_output(final: Path) -> FolderLock:
    """The lock of an output folder that is replaced whole (an export): beside it."""
    Path(final).parent.mkdir(parents=True, exist_ok=True)
    return acquire(output_lock(final), f"Output folder {str(final)!r}")
