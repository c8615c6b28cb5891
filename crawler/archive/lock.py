"""One writer per archive: an exclusive lock file beside it.

The service, `crawl` and `alerts send` take the lock; readers (search, status,
browse) never need it. The lock is an OS-level ``flock``, released by the
kernel when the process dies, so a killed process never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class ArchiveBusy(Exception):
    """Another newswatch process is writing to this archive."""


class ArchiveLock:
    """``with ArchiveLock(archive_path):`` holds the archive's writer lock."""

    def __init__(self, archive: Path):
        self.path = Path(str(archive) + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ArchiveBusy(
                f"another newswatch process (pid {holder}) is using {self.path.with_suffix('')}; "
                "stop it first (or query the archive read-only: search, status, browse)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ArchiveLock:
        self.acquire()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.release()


def writer_pid(archive: Path) -> int | None:
    """The pid of the live process holding ``archive``'s writer lock, or None if none does.

    Probes with a shared, non-blocking ``flock``: it fails only while a writer holds the
    exclusive lock. The probe holds nothing afterwards.
    """
    path = Path(str(archive) + ".lock")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file: no writer ever started here
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            return int(holder) if holder.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
