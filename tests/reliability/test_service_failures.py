"""A service that refuses: revoked key (401), missing scope (403 insufficient_scope), lapsed
subscription (402 on start), spreadsheet deleted (404), sheet unshared (403). Each gives one
clear line and the right exit code (3: a service refused; 1: some rows failed), leaves state and
sheet consistent (no open intent, what was done is shown), and a rerun after the fix ends like a
run that never failed. The daemon keeps serving its other sheet meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from sheetsync.app.daemon import Daemon
from sheetsync.clock import FakeClock
from sheetsync.config import load_config
from sheetsync.sandbox import DEMO_KEY
from sheetsync.state import State
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine.conftest import default_tabs
from tests.reliability.conftest import (
    DRAFT,
    GOOGLE_TOKEN,
    RUNNING,
    Folder,
    Reference,
    Result,
    build_book,
    check_invariants,
    remote_writes,
)


def one_error_line(result: Result, code: int, *needles: str) -> str:
    """The run's stderr is one `error:` line containing every needle, and the exit is `code`."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert "Traceback" not in result.stderr and DEMO_KEY not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def assert_consistent(folder: Folder) -> None:
    """Nothing half-written: no intent left open, and every status the state holds for a
    prospect or campaign is the status its row shows."""
    with State(folder.path / "state" / "state.db") as state:
        assert state.pending_intents("crash") == []
        items = {("Prospects", k): it.status for k, it in state.items("crash", "prospects").items()}
        items.update(
            {("Campaigns", k): it.status for k, it in state.items("crash", "campaigns").items()}
        )
    shown = {("Prospects", str(r["Email"]).lower()): r.get("Sync Status") or "" for r in
             folder.table("Prospects")}  # fmt: skip
    shown.update(
        {
            ("Campaigns", str(r["Campaign"]).casefold()): r.get("Sync Status") or ""
            for r in folder.table("Campaigns")
        }  # fmt: skip
    )
    for key, status in items.items():
        assert shown.get(key) == status, (key, status, shown.get(key))


def key_record(folder: Folder) -> dict[str, Any]:
    record: dict[str, Any] = folder.sandbox.workspace().keys[DEMO_KEY]
    return record


# --- WarmySender refuses ------------------------------------------------------------------------


def test_key_revoked_mid_cycle_exits_3_and_the_rerun_after_a_new_key_converges(
    folder: Folder, reference: Reference
) -> None:
    folder.sandbox.before[6] = lambda sb: sb.workspace().keys[DEMO_KEY].update(revoked=True)
    line = one_error_line(folder.sync(), 3, "crash:", "API key")
    assert "Settings > API Keys" in line or "WARMYSENDER_API_KEY" in line
    assert_consistent(folder)
    shown = [r.get("Sync Status") for r in folder.table("Prospects")]
    assert "synced" in shown  # what was done before the refusal is written back

    key_record(folder)["revoked"] = False  # a valid key again
    again = folder.sync()
    assert again.code == 0, again.stderr
    check_invariants(folder, reference.statuses)


def test_missing_scope_stops_only_what_needs_it_and_the_rows_say_which(
    folder: Folder, reference: Reference
) -> None:
    scopes = key_record(folder)["scopes"]
    key_record(folder)["scopes"] = [s for s in scopes if s != "enrollments:write"]
    first = folder.sync()
    assert first.code == 1 and "Traceback" not in first.stderr  # done, rows failed
    assert_consistent(folder)
    ws = folder.remote()
    assert len(ws["campaigns"]) == 2 and not any(c["enrollments"] for c in ws["campaigns"])
    assert {c["status"] for c in ws["campaigns"]} == {"running", "draft"}
    shown = {str(r.get("Enrollment Status")) for r in folder.table("Enrollments")}
    assert all("lacks the enrollments:write scope" in s for s in shown), shown

    key_record(folder)["scopes"] = scopes
    again = folder.sync()
    assert again.code == 0, again.stderr
    check_invariants(folder, reference.statuses)


def test_lapsed_subscription_is_a_row_error_and_the_start_happens_after_renewal(
    folder: Folder, reference: Reference
) -> None:
    folder.sandbox.workspace().subscription_active = False
    first = folder.sync()
    assert first.code == 1, first.stderr  # done, but a row failed
    assert "Traceback" not in first.stderr
    running = next(r for r in folder.table("Campaigns") if r["Campaign"] == RUNNING)
    assert str(running["Sync Status"]).startswith("error: ")
    assert "subscription" in str(running["Sync Status"])
    assert running["API Status"] == "draft"
    draft = next(r for r in folder.table("Campaigns") if r["Campaign"] == DRAFT)
    assert draft["Sync Status"] == "synced"
    assert_consistent(folder)

    folder.sandbox.workspace().subscription_active = True  # renewed in WarmySender billing
    again = folder.sync()
    assert again.code == 0, again.stderr
    check_invariants(folder, reference.statuses)


# --- the spreadsheet goes away --------------------------------------------------------------------


def test_workbook_gone_exits_3_and_the_rerun_after_restoring_it_converges(
    folder: Folder, reference: Reference
) -> None:
    aside = folder.path / "aside.xlsx"
    folder.book.rename(aside)
    one_error_line(folder.sync(), 3, "book.xlsx", "not found")
    assert folder.sandbox.api_requests == 0  # nothing was sent for a sheet that cannot be read
    aside.rename(folder.book)
    again = folder.sync()
    assert again.code == 0, again.stderr
    check_invariants(folder, reference.statuses)


def test_spreadsheet_deleted_exits_3_and_restoring_it_converges(
    gfolder: Folder, emu: SheetsEmulator, google_reference: dict[str, Any]
) -> None:
    book = emu._books[gfolder.sid]
    emu.delete_spreadsheet(gfolder.sid)
    one_error_line(gfolder.sync(), 3, gfolder.sid)
    assert gfolder.sandbox.api_requests == 0
    emu._books[gfolder.sid] = book  # restored from the Drive trash
    again = gfolder.sync()
    assert again.code == 0, again.stderr
    assert {
        **gfolder.statuses(),
        "write requests": google_reference["write requests"],
    } == google_reference


def test_sheet_unshared_before_the_write_back_heals_on_the_rerun(
    gfolder: Folder, emu: SheetsEmulator, google_reference: dict[str, Any]
) -> None:
    """The API work is done, then the write-back is refused (403): the state keeps the work,
    the rerun after re-sharing writes the statuses and sends nothing again."""

    def unshare_at_write(kind: str, e: SheetsEmulator) -> None:
        if kind == "values.batchUpdate":
            e.hook = None
            e.share(gfolder.sid, allowed_tokens=set())

    emu.hook = unshare_at_write
    line = one_error_line(gfolder.sync(), 3, gfolder.sid)
    assert "share" in line.lower() or "permission" in line.lower()
    writes = remote_writes(gfolder.remote())
    assert writes > 0
    with State(gfolder.path / "state" / "state.db") as state:
        assert state.pending_intents("crash") == []

    emu.share(gfolder.sid, allowed_tokens=None)
    again = gfolder.sync()
    assert again.code == 0, again.stderr
    assert remote_writes(gfolder.remote()) == writes  # nothing was sent twice
    assert {
        **gfolder.statuses(),
        "write requests": google_reference["write requests"],
    } == google_reference


# --- the daemon -----------------------------------------------------------------------------------


def test_daemon_keeps_serving_the_other_sheet_while_one_is_unshared(
    gfolder: Folder,
    emu: SheetsEmulator,
    google_reference: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    path = gfolder.path
    build_book(path / "good.xlsx", default_tabs(3))
    config_file = path / "sheetsync.toml"
    config_file.write_text(
        config_file.read_text(encoding="utf-8")
        + '[[sheet]]\nname = "good"\nsource = "xlsx"\nspreadsheet = "good.xlsx"\n'
        "settle_polls = 0\n",
        encoding="utf-8",
    )
    env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": GOOGLE_TOKEN}
    config = load_config(config_file, env=env)
    assert [s.name for s in config.sheets] == ["crash", "good"]
    emu.share(gfolder.sid, allowed_tokens=set())
    clock = FakeClock()
    daemon = Daemon(config, clock=clock)
    request.addfinalizer(daemon.close)  # the daemon keeps each sheet's connections open
    outcomes: list[dict[str, str]] = []
    with caplog.at_level(logging.INFO, logger="sheetsync"):
        for _ in range(4):
            outcomes.append(dict(daemon.run_due()))
            clock.advance(60)
    assert [o.get("good") for o in outcomes] == ["ok"] * 4
    assert outcomes[0]["crash"] == "failed" and "ok" not in [o.get("crash") for o in outcomes]
    failures = [r.getMessage() for r in caplog.records if "crash: cycle failed" in r.getMessage()]
    assert failures and gfolder.sid in failures[0]
    assert DEMO_KEY not in caplog.text and GOOGLE_TOKEN not in caplog.text
    with State(config.state_path) as state:
        failed = state.last_failure("crash")
        good_runs = state.recent_runs("good")
    assert failed is not None and gfolder.sid in str(failed.message)
    assert good_runs and good_runs[0].ok
    rows = gfolder.remote()
    assert any(p["email"] == "p0@example.com" for p in rows["prospects"])

    emu.share(gfolder.sid, allowed_tokens=None)  # shared again
    for _ in range(12):  # the backoff (poll × 2^failures) ends within these polls
        clock.advance(60)
        if dict(daemon.run_due()).get("crash") == "ok":
            break
    else:
        pytest.fail("the unshared sheet never recovered")
    assert {
        **gfolder.statuses(),
        "write requests": google_reference["write requests"],
    } == google_reference
