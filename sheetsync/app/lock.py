"""One writer per sheet: every command that writes a sheet (`sync`, `run`, `import`, `init`)
holds that sheet's lock while it works, so two of them never write one workbook (or one sheet's
state) at once.

The lock is an exclusive `fcntl.flock` on `<state path>.<sheet>-<hash>.lock` beside the state
file: one per [[sheet]] of a state file, so `sync --sheet A` runs beside a `run` whose config
polls only B, while a `sync` of a sheet that `run` polls is refused. `run` holds the locks of
its sheets for as long as it runs; `sync`, `import` and `init` hold them for the command. A
command that finds a sheet locked by a `run` refuses at once (the service does not stop by
itself); one locked by another command waits up to LOCK_WAIT_S for it to finish, then refuses.
Either way the refusal names the holder's command and pid.

The kernel drops a lock when its process ends, however it ends (even `kill -9`), so a stale
lock file never blocks anyone: the file stays, only the lock matters. The holder writes
"<pid> <command>" into the file. Lock files are created 0600 and their folder 0700.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType

from sheetsync.errors import StateError, StateLocked

__all__ = ["LOCK_WAIT_S", "SheetLock", "StateLocked", "lock_path_for", "sheets_locked"]

LOCK_WAIT_S = 30.0  # how long a command waits for a sheet another command is writing
_POLL_S = 0.05


def lock_path_for(state_path: Path, sheet: str) -> Path:
    """The lock file of `sheet`: its name made safe for a file name, plus a hash of it."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", sheet).strip("-")[:40] or "sheet"
    digest = hashlib.sha256(sheet.encode("utf-8")).hexdigest()[:8]
    return state_path.with_name(f"{state_path.name}.{slug}-{digest}.lock")


class SheetLock:
    """`with SheetLock(state_path, sheet, command="sync"):` holds the sheet's lock for the
    block; StateLocked when another process holds it (after waiting, see `acquire`)."""

    def __init__(self, state_path: Path, sheet: str, *, command: str) -> None:
        self.path = lock_path_for(state_path, sheet)
        self.sheet = sheet
        self.command = command
        self._fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> None:
        """Take the lock, waiting up to `wait_s` seconds while a command other than `run`
        holds it."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateError(
                f"cannot create the lock file {self.path}: {exc.strerror}; check that its "
                f"folder is writable or set [state] path"
            ) from None
        deadline = time.monotonic() + wait_s
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pid, command = _holder(fd)
                    if command == "run" or time.monotonic() >= deadline:
                        raise StateLocked(
                            self.path, pid, sheet=self.sheet, command=command
                        ) from None
                    time.sleep(_POLL_S)
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)  # a lock file made by an older sheetsync
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {self.command}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SheetLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


@contextmanager
def sheets_locked(
    state_path: Path, sheets: Iterable[str], *, command: str, wait_s: float = LOCK_WAIT_S
) -> Iterator[None]:
    """Hold the lock of every sheet named in `sheets` for the block: the one call a command
    that writes sheets makes, before it reads or writes anything. Locks are taken in name
    order, so two commands that want the same sheets never hold one each and wait."""
    with ExitStack() as held:
        for name in sorted(set(sheets)):
            lock = SheetLock(state_path, name, command=command)
            lock.acquire(wait_s)
            held.callback(lock.release)
        yield


def _holder(fd: int) -> tuple[int | None, str | None]:
    """The pid and command written by the process holding the lock (None when unknown)."""
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").split()
    except OSError:
        return None, None
    pid = int(text[0]) if text and text[0].isdigit() else None
    return pid, (text[1] if len(text) > 1 else None)
