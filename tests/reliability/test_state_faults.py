"""The state file's disk failing: full, read-only, I/O errors. Each gets a message named after
its cause (never "move it aside" for a healthy file); mid-cycle, `sync` writes back what was
done, prints one `error:` line and exits 3; once the disk is fixed, the next sync ends like a
run that never failed. And the state files are private: 0600 files in a 0700 folder.

A full disk is a small tmpfs filled up, a read-only one a tmpfs mounted read-only (root ignores
file permissions, so chmod proves nothing here), an I/O error a file-size limit (RLIMIT_FSIZE:
SQLite's write fails with EFBIG, which it reports as SQLITE_IOERR). Mounting needs root: the
tests that mount are skipped, saying so, where that is not allowed.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.clock import SystemClock
from sheetsync.errors import StateError, StateUnavailable
from sheetsync.sandbox import DEMO_KEY, SandboxServer
from sheetsync.sandbox.service import Reply
from sheetsync.state import Item, State
from tests.engine.conftest import XlsxBook, default_tabs
from tests.reliability.conftest import HookedSandbox

WAIT_S = 60.0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def tmpfs(where: Path, size: str, *options: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (skips the test where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    opts = ",".join((f"size={size}", *options))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def fill(folder: Path) -> Path:
    """Fill the filesystem of `folder` to the last byte; the filler file is returned."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (1 << 16, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def assert_named(exc: StateError, cause: str) -> None:
    assert cause in str(exc) and "move it aside" not in str(exc), str(exc)


# --- private files --------------------------------------------------------------------------


def test_state_files_are_created_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / ".sheetsync" / "state.db"
    with State(path) as state:
        state.put("a", Item("prospects", "ana@x.example", status="synced"))
        names = {p.name for p in path.parent.iterdir()}
        assert {"state.db", "state.db-wal", "state.db-shm"} <= names
        assert {p.name: mode(p) for p in path.parent.iterdir()} == dict.fromkeys(names, 0o600)
    assert mode(path.parent) == 0o700


def test_loose_state_files_are_tightened_on_open(tmp_path: Path) -> None:
    own = tmp_path / "own" / "state.db"  # a folder of its own: tightened
    shared = tmp_path / "project" / "state.db"  # beside other files: only the files
    for path in (own, shared):
        State(path).close()
        path.with_name("state.db-wal").touch()  # left by a killed run
        for p in path.parent.iterdir():
            os.chmod(p, 0o644)
        os.chmod(path.parent, 0o755)
    (shared.parent / "notes.txt").write_text("mine", encoding="utf-8")
    os.chmod(shared.parent / "notes.txt", 0o644)
    for path in (own, shared):
        State(path).close()
        for name in ("state.db", "state.db-wal"):
            p = path.with_name(name)
            assert not p.exists() or mode(p) == 0o600, name
    assert mode(own.parent) == 0o700
    assert mode(shared.parent) == 0o755 and mode(shared.parent / "notes.txt") == 0o644


# --- disk full, read-only, I/O errors: opening ------------------------------------------------


def test_a_full_disk_at_open_is_named(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        fill(disk)
        with pytest.raises(StateUnavailable) as caught:
            State(disk / "state" / "state.db")
        assert_named(caught.value, "is full")
        assert caught.value.exit_code == 3


def test_a_read_only_folder_is_named(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "256k") as disk:
        existing = disk / "state" / "state.db"
        State(existing).close()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        for path in (existing, disk / "fresh" / "state.db"):
            with pytest.raises(StateError) as caught:
                State(path)
            assert_named(caught.value, "is read-only")
            assert caught.value.exit_code == 2


# --- mid-cycle: `sync` writes back what was done, then exits -----------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A workbook synced by the CLI against a HookedSandbox (real clock); the state on `disk`."""
    sandbox = HookedSandbox(SystemClock())  # type: ignore[arg-type]
    with SandboxServer(sandbox) as server:
        book = XlsxBook(tmp_path / "book.xlsx", default_tabs(3))
        disk = tmp_path / "disk"
        disk.mkdir()
        cfg = tmp_path / "sheetsync.toml"
        cfg.write_text(
            f'[warmysender]\nbase_url = "{server.base_url}"\n'
            f'[state]\npath = "{disk / "state" / "state.db"}"\n'
            f'[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "{book.path}"\n'
            'settle_polls = 0\ncustom_fields = ["Industry"]\n',
            encoding="utf-8",
        )
        yield {"cfg": cfg, "book": book, "disk": disk, "sandbox": sandbox}


def sync(w: dict[str, Any]) -> Any:
    result = CliRunner(env={"WARMYSENDER_API_KEY": DEMO_KEY}).invoke(
        cli, ["--config", str(w["cfg"]), "sync", "--json"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def statuses(w: dict[str, Any]) -> dict[str, object]:
    rows = w["book"].values("Prospects")
    header = rows[0]
    col = header.index("Sync Status")
    return {str(r[0]): r[col] if col < len(r) else None for r in rows[1:]}


def converged(w: dict[str, Any]) -> None:
    result = sync(w)
    assert result.exit_code == 0, result.output
    ws = w["sandbox"].state()["workspaces"][0]
    emails = [p["email"] for p in ws["prospects"] if p["email"].startswith("p")]
    assert sorted(emails) == ["p0@example.com", "p1@example.com", "p2@example.com"]
    [camp] = ws["campaigns"]
    assert len(camp["enrollments"]) == 3 and camp["status"] == "running"
    assert set(statuses(w).values()) == {"synced"}


def test_a_disk_full_mid_cycle_writes_back_what_was_done_and_exits_3(
    world: dict[str, Any],
) -> None:
    w = world
    with tmpfs(w["disk"], "512k"):
        filler: list[Path] = []

        def fill_after_the_second_prospect(method: str, route: str, reply: Reply) -> Reply:
            created = [r for m, r, _ in w["sandbox"].received if (m, r) == ("POST", "/prospects")]
            if len(created) == 2 and not filler:
                filler.append(fill(w["disk"]))
            return reply

        w["sandbox"].after = fill_after_the_second_prospect
        result = sync(w)
        assert filler, "the disk was never filled"
        assert result.exit_code == 3, result.output
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: the disk holding the state file") and "is full" in line
        assert "Traceback" not in result.output and "move it aside" not in result.output
        shown = statuses(w)
        assert shown["p0@example.com"] == "synced"  # done before the disk filled: written back
        w["sandbox"].after = None
        filler[0].unlink()
        converged(w)


IO_LIMIT = 128 * 1024  # bytes: the state's WAL passes it a few commits into the first cycle


def test_an_io_error_mid_cycle_writes_back_what_was_done_and_exits_3(
    world: dict[str, Any],
) -> None:
    """`sheetsync sync` as a process whose files may not grow past IO_LIMIT: SQLite's write
    fails (EFBIG, reported as a disk I/O error) partway through the cycle."""
    w = world
    limited = (
        "import resource, runpy, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({IO_LIMIT}, {IO_LIMIT}))\n"
        "sys.argv = ['sheetsync', *sys.argv[1:]]\n"
        "runpy.run_module('sheetsync', run_name='__main__')\n"
    )
    env = {**os.environ, "WARMYSENDER_API_KEY": DEMO_KEY}
    done = subprocess.run(
        [sys.executable, "-c", limited, "--config", str(w["cfg"]), "sync", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
    )
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "the disk reported an I/O error on the state file" in line, line
    assert "move it aside" not in line
    shown = statuses(w)
    assert shown["p0@example.com"] == "synced", shown  # done before the error: written back
    converged(w)
