"""`sheetsync plan` (and `status`) change nothing on disk: no state file or folder appears when
there is none, and an existing state file keeps its exact bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.clock import FakeClock
from sheetsync.errors import StateError
from sheetsync.sandbox import DEMO_KEY, Sandbox, SandboxServer
from sheetsync.state import SCHEMA_VERSION, Item, State
from tests.engine.conftest import XlsxBook, default_tabs, seed


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes (folders show up through their files)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    srv = SandboxServer(Sandbox(seed()))  # the CLI runs on the system clock: so does this one
    srv.start()
    yield srv
    srv.close()


@pytest.fixture
def cfg(tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    XlsxBook(tmp_path / "book.xlsx", default_tabs())
    path = tmp_path / "sheetsync.toml"
    path.write_text(
        f'[warmysender]\nbase_url = "{server.base_url}"\n'
        f'[state]\npath = "state/state.db"\n'
        f'[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "book.xlsx"\n'
        f'custom_fields = ["Industry"]\nsettle_polls = 0\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("WARMYSENDER_API_KEY", DEMO_KEY)
    return path


def test_plan_and_status_create_no_state_file(cfg: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    result = CliRunner(env={"COLUMNS": "240"}).invoke(cli, ["--config", str(cfg), "plan"])
    assert result.exit_code == 0, result.output
    assert "create campaign Q1 Launch" in " ".join(result.output.split())
    status = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert status.exit_code == 0 and "never synced" in status.output
    assert not (tmp_path / "state").exists()
    assert snapshot(tmp_path) == before


def test_plan_leaves_an_existing_state_file_byte_for_byte(cfg: Path, tmp_path: Path) -> None:
    first = CliRunner().invoke(cli, ["--config", str(cfg), "sync", "--json"])
    assert first.exit_code == 0, first.output
    XlsxBook(tmp_path / "book.xlsx", default_tabs(5))  # two new rows: plan has work to show
    before = snapshot(tmp_path)
    assert "state/state.db" in before
    mtime = (tmp_path / "state" / "state.db").stat().st_mtime_ns
    result = CliRunner(env={"COLUMNS": "240"}).invoke(cli, ["--config", str(cfg), "plan"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "create prospect p3@example.com" in out and "create campaign" not in out
    assert CliRunner().invoke(cli, ["--config", str(cfg), "status"]).exit_code == 0
    assert snapshot(tmp_path) == before  # no -wal/-shm left behind either
    assert (tmp_path / "state" / "state.db").stat().st_mtime_ns == mtime


def test_read_only_state_is_a_private_copy(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.db"
    with State(path, clock=FakeClock(), read_only=True) as s:
        assert s.version == SCHEMA_VERSION and not s.known("a")
        s.put("a", Item("prospects", "x@y.io", status="synced"))  # stays in memory
        assert s.known("a")
    assert not (tmp_path / "deep").exists()
    with State(path, clock=FakeClock()) as s:
        s.put("a", Item("prospects", "x@y.io", status="synced"))
    before = snapshot(tmp_path)
    with State(path, read_only=True) as s:
        assert s.items("a", "prospects")["x@y.io"].status == "synced"
        s.put("a", Item("prospects", "x@y.io", status="changed in memory"))
    assert snapshot(tmp_path) == before
    with State(path) as s:
        assert s.items("a", "prospects")["x@y.io"].status == "synced"


def test_read_only_state_refuses_garbage_and_newer_files(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="move it aside"):
        State(path, read_only=True)
    assert path.read_bytes() == b"this is not sqlite" * 100
    path.unlink()
    State(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO migrations VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newer sheetsync"):
        State(path, read_only=True)
