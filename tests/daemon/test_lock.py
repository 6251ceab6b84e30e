"""RunLock: one `run` per state file, a message naming the lock file and its holder's pid."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sheetsync.app.lock import RunLock, StateLocked, lock_path_for
from sheetsync.errors import EXIT_USAGE, StateError


def test_the_second_lock_on_a_state_file_fails_and_names_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "deep" / "dir" / "state.db"
    with RunLock(state) as first:
        assert first.path == tmp_path / "deep" / "dir" / "state.db.lock"
        assert first.path.read_text() == f"{os.getpid()}\n"
        with pytest.raises(StateLocked) as info, RunLock(state):
            pass
    err = info.value
    assert err.pid == os.getpid() and err.lock_path == first.path
    assert isinstance(err, StateError) and err.exit_code == EXIT_USAGE
    assert str(first.path) in str(err) and f"process {os.getpid()}" in str(err)
    with RunLock(state):  # released: the next run gets it (the stale file does not matter)
        pass


def test_another_state_file_is_another_lock(tmp_path: Path) -> None:
    with RunLock(tmp_path / "a.db"), RunLock(tmp_path / "b.db") as b:
        assert b.path == lock_path_for(tmp_path / "b.db")


def test_an_unwritable_folder_is_a_clear_state_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StateError, match="cannot create the lock file .*state.db.lock"):
        RunLock(blocker / "state.db").acquire()
