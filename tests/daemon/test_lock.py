"""Sheet locks: one writer per sheet of a state file, a message naming the holder's command
and pid, a short wait for a command that will finish, none for a running service."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from sheetsync.app.lock import SheetLock, StateLocked, lock_path_for, sheets_locked
from sheetsync.errors import EXIT_USAGE, StateError


def test_the_second_lock_on_a_sheet_fails_and_names_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "deep" / "dir" / "state.db"
    with SheetLock(state, "acme", command="run") as first:
        assert first.path == lock_path_for(state, "acme")
        assert first.path.parent == tmp_path / "deep" / "dir"
        assert first.path.read_text() == f"{os.getpid()} run\n"
        with pytest.raises(StateLocked) as info, SheetLock(state, "acme", command="sync"):
            pass
    err = info.value
    assert (err.pid, err.sheet, err.command, err.lock_path) == (
        os.getpid(),
        "acme",
        "run",
        first.path,
    )
    assert isinstance(err, StateError) and err.exit_code == EXIT_USAGE
    assert f"`sheetsync run` is already writing sheet 'acme': {first.path}" in str(err)
    assert f"locked by process {os.getpid()}" in str(err) and "Confirm box" in str(err)
    with SheetLock(state, "acme", command="sync"):  # released: the stale file does not matter
        pass


def test_lock_files_and_their_folder_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.db"
    old = lock_path_for(state, "old")
    old.parent.mkdir(mode=0o700)
    old.write_text("")
    os.chmod(old, 0o644)  # as an older sheetsync left it
    with SheetLock(state, "new", command="sync") as new, SheetLock(state, "old", command="sync"):
        assert new.path.stat().st_mode & 0o777 == 0o600
        assert old.stat().st_mode & 0o777 == 0o600
    fresh = tmp_path / "fresh" / "state.db"
    with SheetLock(fresh, "a", command="sync"):
        assert fresh.parent.stat().st_mode & 0o777 == 0o700


def test_one_lock_per_sheet_and_per_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with (
        SheetLock(state, "A", command="run"),
        SheetLock(state, "B", command="sync"),
        SheetLock(tmp_path / "other.db", "A", command="sync"),
    ):
        pass
    assert lock_path_for(state, "a/b c") != lock_path_for(state, "a-b-c")  # the hash tells
    assert lock_path_for(state, "a/b c").name.startswith("state.db.a-b-c-")


def test_a_command_waits_for_another_command_to_finish(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    holder = SheetLock(state, "acme", command="sync")
    holder.acquire()
    threading.Timer(0.2, holder.release).start()
    t0 = time.monotonic()
    with sheets_locked(state, ["acme"], command="sync", wait_s=10):
        waited = time.monotonic() - t0
    assert 0.1 < waited < 5


def test_a_running_service_is_not_waited_for(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with SheetLock(state, "acme", command="run"):
        t0 = time.monotonic()
        with pytest.raises(StateLocked), sheets_locked(state, ["acme"], command="sync"):
            pass
        assert time.monotonic() - t0 < 1  # LOCK_WAIT_S is 30: it did not wait
    with SheetLock(state, "b", command="import"):  # another command: waits, then refuses
        with pytest.raises(StateLocked) as info:
            with sheets_locked(state, ["a", "b"], command="sync", wait_s=0.1):
                pass
        assert "`sheetsync import`" in str(info.value) and "Wait for it" in str(info.value)
    with SheetLock(state, "a", command="sync"):  # the first lock was released on the refusal
        pass


def test_an_unwritable_folder_is_a_clear_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateError, match="cannot create the lock file .*state.db.acme-"):
        SheetLock(blocker / "state.db", "acme", command="sync").acquire()
