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

A reader that must not see a run change under it (``zoo export`` reads the model, its samples
and its dataset over minutes) takes the run's lock shared (``read_run``): readers do not block
each other, a writer (``--resume``) is refused while one reads, and a reader is refused while
a writer writes.

The locks this process holds are known here (``held``), with the identity (device, inode) of
the folder each was taken in, so that every write into a held run folder can check that the
folder is still the one it locked (``FolderLock.check``): a run folder moved or deleted while it
trains is never silently re-created.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
import weakref
from pathlib import Path

from zoo.core.errors import FolderBusy, RunFolderError

RUN_LOCK = ".lock"
TRIES = 5  # a reader's probe (``is_held``) holds the lock for microseconds: try a few times
PAUSE = 0.01


# The locks this process holds now; weak, so that a lock dropped unreleased is still released by __del__.
_HELD: weakref.WeakValueDictionary[int, FolderLock] = weakref.WeakValueDictionary()


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


class FolderLock:
    """A held lock; ``release`` (or leaving a ``with`` block) drops it and removes its file.

    A shared lock (a reader's) removes its file only if no other reader holds it."""

    def __init__(self, path: Path, fd: int, shared: bool = False) -> None:
        self.path, self._fd, self.shared = path, fd, shared
        self.folder = _identity(path.parent)  # what writes into the folder check against
        _HELD[id(self)] = self

    def moved(self, path: Path) -> None:
        """The lock file now lies at ``path`` (its folder was renamed into place)."""
        self.path = path

    def check(self) -> None:
        """``RunFolderError`` unless the lock's folder is still where it was, the same folder
        (the same inode): a run folder moved, deleted or replaced while zoo writes it."""
        if self.folder is not None and _identity(self.path.parent) != self.folder:
            folder = str(self.path.parent)
            raise RunFolderError(
                f"Run folder {folder!r} was moved or deleted while zoo was writing it: stopped, "
                "nothing more is written; what it held stays wherever it went (zoo train --resume NEW_PATH)"
            )

    def release(self) -> None:
        if self._fd < 0:
            return
        _HELD.pop(id(self), None)
        alone = True
        if self.shared:  # another reader may hold it too: remove the file only if we are alone
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                alone = False
        with contextlib.suppress(OSError):  # remove our file, not one a successor created
            if alone and os.stat(self.path).st_ino == os.fstat(self._fd).st_ino:
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
        return f" (pid {int(path.read_text(encoding='ascii').strip())})"
    return ""


def _shared_try(path: Path) -> bool | None:
    """A reader's lock on ``path`` tried and dropped at once: True if it was taken, False if a
    writer holds the lock, None if there is no lock file to try."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def acquire(path: Path, what: str, shared: bool = False) -> FolderLock:
    """Lock ``path`` or raise ``FolderBusy`` at once, naming ``what`` and the holder's PID.

    ``shared``: a reader's lock, which other readers may hold at the same time."""
    for _ in range(TRIES):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
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
            return FolderLock(path, fd, shared)
        os.close(fd)  # its holder removed the file as it released it: lock the new one
    if not shared and _shared_try(path):  # only readers hold it
        reader = _holder(path)
        raise FolderBusy(f"{what} is being read by another zoo process{reader} (an export); wait for it")
    raise FolderBusy(f"{what} is being written by another zoo process{_holder(path)}; wait for it to end")


def is_held(path: Path) -> bool:
    """Whether a live process holds the lock at ``path`` to write (a shared try, dropped at once)."""
    return _shared_try(path) is False


def run_lock(run_dir: Path) -> Path:
    return Path(run_dir) / RUN_LOCK


def output_lock(final: Path) -> Path:
    final = Path(final)
    return final.parent / f".{final.name}.lock"


def hold_run(run_dir: Path) -> FolderLock:
    """The run folder's lock: held by whoever trains it (or rewrites its model card)."""
    return acquire(run_lock(run_dir), f"Run folder {str(run_dir)!r}")


def read_run(run_dir: Path) -> FolderLock | None:
    """The run folder's lock, shared, for a reader (an export): ``FolderBusy`` at once while a
    writer (``zoo train``, ``--resume``) holds it, and a writer is refused while it is held.

    None where the lock file cannot be made (a read-only folder): no zoo process can write
    that run either."""
    try:
        return acquire(run_lock(run_dir), f"Run folder {str(run_dir)!r}", shared=True)
    except PermissionError:
        return None
    except OSError as exc:
        if exc.errno == errno.EROFS:
            return None
        raise


def _spelled(path: Path) -> str:
    """One spelling of a path, relative or absolute (the current directory may be gone)."""
    try:
        return os.path.normpath(os.path.abspath(path))
    except OSError:
        return os.path.normpath(path)


def held(folder: Path) -> FolderLock | None:
    """The run lock this process holds in ``folder`` as a writer, if any."""
    wanted = _spelled(Path(folder))
    for lock in list(_HELD.values()):
        if not lock.shared and lock.path.name == RUN_LOCK and _spelled(lock.path.parent) == wanted:
            return lock
    return None


def hold_output(final: Path) -> FolderLock:
    """The lock of an output folder that is replaced whole (an export): beside it."""
    Path(final).parent.mkdir(parents=True, exist_ok=True)
    return acquire(output_lock(final), f"Output folder {str(final)!r}")
