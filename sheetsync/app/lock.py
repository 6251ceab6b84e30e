"""One `sheetsync run` per state file: an exclusive `fcntl.flock` on `<state path>.lock`.

The kernel drops the lock when the process ends, however it ends (even `kill -9`), so a stale
lock file never blocks the next run: the file stays, only the lock matters. The holder writes its
pid into the file so the second run can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from sheetsync.errors import StateError, StateLocked

__all__ = ["RunLock", "StateLocked", "lock_path_for"]


def lock_path_for(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


class RunLock:
    """`with RunLock(state_path):` holds the lock for the block; raises StateLocked if taken."""

    def __init__(self, state_path: Path) -> None:
        self.path = lock_path_for(state_path)
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(
                f"cannot create the lock file {self.path}: {exc.strerror}; check that its "
                f"folder is writable or set [state] path"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StateLocked(self.path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
