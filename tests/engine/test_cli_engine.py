"""`sheetsync plan`, `sync` and `status` through click's CliRunner, on an xlsx workbook against
a sandbox on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.sandbox import DEMO_KEY, DEMO_READONLY_KEY, Sandbox, SandboxServer
from tests.engine.conftest import XlsxBook, default_tabs, seed

KEYS = [
    "sheet",
    "started_at",
    "duration_s",
    "rows_read",
    "prospects_created",
    "prospects_existing",
    "prospects_updated",
    "campaigns_created",
    "campaigns_updated",
    "campaigns_started",
    "campaigns_paused",
    "enrolled",
    "unenrolled",
    "suppressed",
    "errors",
    "held",
    "deferred",
    "api_calls",
    "sheets_reads",
    "sheets_writes",
]


@pytest.fixture
def live() -> Iterator[tuple[Sandbox, SandboxServer]]:
    sandbox = Sandbox(seed())  # the CLI runs on the system clock: so does this sandbox
    server = SandboxServer(sandbox)
    server.start()
    yield sandbox, server
    server.close()


@pytest.fixture
def setup(
    tmp_path: Path, live: tuple[Sandbox, SandboxServer], monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, XlsxBook, Sandbox]:
    sandbox, server = live
    tabs = default_tabs()
    tabs["Prospects"].append(["broken-email", "X"])
    tabs["Campaigns"].append(["Old Box", "old@outreach-demo.example", 10, "", "", ""])
    tabs["Steps"].append(["Old Box", 1, 0, "Hi", "<p>x</p>"])
    book = XlsxBook(tmp_path / "book.xlsx", tabs)
    cfg = tmp_path / "sheetsync.toml"
    cfg.write_text(
        f'[warmysender]\nbase_url = "{server.base_url}"\n'
        f'[state]\npath = "state/state.db"\n'
        f'[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "book.xlsx"\n'
        f'custom_fields = ["Industry"]\nsettle_polls = 0\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("WARMYSENDER_API_KEY", DEMO_KEY)
    return cfg, book, sandbox


def test_plan_shows_the_actions_and_changes_nothing(
    setup: tuple[Path, XlsxBook, Sandbox], tmp_path: Path
) -> None:
    cfg, book, sandbox = setup
    before = book.values("Prospects")
    result = CliRunner(env={"COLUMNS": "240"}).invoke(cli, ["--config", str(cfg), "plan"])
    assert result.exit_code == 1, result.output  # a row would get an error
    out = " ".join(result.output.split())
    assert "create prospect p0@example.com" in out
    assert "create campaign Q1 Launch" in out
    assert "enroll Q1 Launch (3 rows)" in out
    assert "start Q1 Launch" in out
    assert "prospects row 5: error:" in out
    assert "Old Box: error: mailbox old@outreach-demo.example is disconnected" in out
    ws = sandbox.state()["workspaces"][0]
    writes = {k: v for k, v in ws["requestsByEndpoint"].items() if not k.startswith("GET")}
    assert writes == {} and ws["campaigns"] == []
    assert book.values("Prospects") == before
    status = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert "never synced" in status.output


def test_sync_json_prints_exactly_the_report_keys(setup: tuple[Path, XlsxBook, Sandbox]) -> None:
    cfg, _book, sandbox = setup
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync", "--json"])
    assert result.exit_code == 1  # done, but one row is in error
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert list(report) == KEYS
    assert report["sheet"] == "acme" and report["prospects_created"] == 3
    assert report["errors"] == 2 and report["campaigns_started"] == 1
    again = CliRunner().invoke(cli, ["--config", str(cfg), "sync", "--json", "--sheet", "acme"])
    assert json.loads(again.output)["api_calls"] == 0

    status = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert status.exit_code == 0
    text = " ".join(status.output.split())
    assert "acme: sheetsync run polls it" in text and "│ 60 s │" in text
    assert "acme: recent runs" in text and "ok" in text
    assert "prospects │ row 5 │ error:" in text
    assert "last failure" in text and "none" in text


def test_sync_summary_line_and_exit_codes(setup: tuple[Path, XlsxBook, Sandbox]) -> None:
    cfg, _book, _sandbox = setup
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert result.exit_code == 1
    assert "acme: 3 prospects created" in result.output
    assert "2 rows in error" in result.output
    unknown = CliRunner().invoke(cli, ["--config", str(cfg), "sync", "--sheet", "nope"])
    assert unknown.exit_code == 2 and "no [[sheet]] named 'nope'" in unknown.output


def test_refused_key_exits_3_with_one_line_and_is_recorded(
    setup: tuple[Path, XlsxBook, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, book, _sandbox = setup
    unknown = "wsk_revoked_or_never_issued_0009"
    monkeypatch.setenv("WARMYSENDER_API_KEY", unknown)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert result.exit_code == 3
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: acme: ")
    assert "Traceback" not in result.output and unknown not in result.output
    status = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert "failed:" in status.output


def test_a_key_without_write_scopes_says_so_on_every_row_and_in_status(
    setup: tuple[Path, XlsxBook, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, book, _sandbox = setup
    monkeypatch.setenv("WARMYSENDER_API_KEY", DEMO_READONLY_KEY)
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert result.exit_code == 1  # done, rows failed: not a service failure
    assert "Traceback" not in result.output and DEMO_READONLY_KEY not in result.output
    rows = book.values("Prospects")
    status_col = rows[0].index("Sync Status")
    assert "lacks the prospects:write scope" in str(rows[1][status_col])
    campaigns = book.values("Campaigns")
    assert "lacks the campaigns:write scope" in str(campaigns[1][campaigns[0].index("Sync Status")])
    status = CliRunner().invoke(cli, ["--config", str(cfg), "status"])
    assert "scopes the API key lacks" in status.output
    assert "│ prospects:write │" in status.output and "│ campaigns:write │" in status.output


def test_missing_key_is_a_config_error(
    setup: tuple[Path, XlsxBook, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _book, _sandbox = setup
    monkeypatch.delenv("WARMYSENDER_API_KEY")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "sync"])
    assert result.exit_code == 2
    assert "WARMYSENDER_API_KEY" in result.output
