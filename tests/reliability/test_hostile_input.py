"""Hostile input end to end: sheet → sync → status cell, on both sources, against the sandbox.

Row-level cases come from `hostile_cases.CASES` (each asserts the exact status of its rows, that
the base rows still sync, and that a second poll makes no API call: a bad row is not retried
until someone edits it). Structural problems (missing tab or header, empty sheet) run through
the real CLI and assert the exact message and exit code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.sandbox import DEMO_KEY, Sandbox, SandboxServer
from sheetsync.sheet.layout import header_key
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine import conftest as engine
from tests.engine.conftest import TOKEN, Harness, XlsxBook, seed
from tests.reliability.hostile_cases import CASES, STATUS, Case, Cells, Tabs, base_tabs, person

# the engine scenario fixtures: a sandbox on a FakeClock and `h`, a sheet on either source
clock, sandbox, server, h = engine.clock, engine.sandbox, engine.server, engine.h

BASE_STATUS = {"Prospects": "synced", "Campaigns": "synced", "Steps": "synced"}


def to_row(header: list[Any], cells: Cells | None) -> list[Any]:
    if cells is None:
        return []
    by_key = {header_key(k): v for k, v in cells.items()}
    return [by_key.get(header_key(hd)) for hd in header]


def build(case: Case) -> tuple[Tabs, dict[str, int]]:
    tabs = base_tabs()
    if case.edit is not None:
        case.edit(tabs)
    starts: dict[str, int] = {}
    for tab, rows in case.add.items():
        starts[tab] = len(tabs[tab]) + 1
        tabs[tab].extend(to_row(tabs[tab][0], cells) for cells in rows)
    return tabs, starts


def column(h: Harness, tab: str, name: str) -> list[Any]:
    """The values of one column by header, from row 2 down ("" for an empty cell)."""
    assert h.book is not None
    rows = h.book.values(tab)
    col = [header_key(c) for c in rows[0]].index(header_key(name))
    return [("" if r[col] is None else r[col]) if col < len(r) else "" for r in rows[1:]]


def statuses(h: Harness, tab: str) -> list[Any]:
    return column(h, tab, STATUS[tab])


def assert_base_synced(h: Harness) -> None:
    for tab, want in BASE_STATUS.items():
        got = statuses(h, tab)
        n = 1 if tab == "Campaigns" else 2
        assert got[:n] == [want] * n, (tab, got[:n])
    assert statuses(h, "Enrollments")[:2] == ["enrolled", "enrolled"]
    [launch] = [c for c in h.ws()["campaigns"] if c["name"] == "Q1 Launch"]
    assert launch["status"] == "running"
    assert {e["email"] for e in launch["enrollments"] if e["status"] == "active"} >= {
        "p0@example.com",
        "p1@example.com",
    }


PAIRS = [pytest.param(c, kind, id=f"{c.id}-{kind}") for c in CASES for kind in c.sources]


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("case", "h"), PAIRS, indirect=["h"])
def test_hostile_rows_get_their_exact_status(case: Case, h: Harness) -> None:
    tabs, starts = build(case)
    h.make(tabs, **case.sheet)
    h.report = h.sync()  # type: ignore[attr-defined]
    for tab, want in case.expect.items():
        got = statuses(h, tab)
        first = starts[tab] - 2
        shown = got[first : first + len(want)]
        shown += [""] * (len(want) - len(shown))
        assert shown == [w or "" for w in want], (tab, shown)
    if case.base_ok:
        assert_base_synced(h)
    if case.check is not None:
        case.check(h)
    again = h.poll()
    assert again.api_calls == 0, "a row in error is not retried until someone edits it"
    assert again.sheets_writes == 0, "statuses are stable"


# --- 10,000 identical rows --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("h", ["xlsx", "google"], indirect=True)
def test_ten_thousand_identical_rows(h: Harness) -> None:
    tabs = base_tabs()
    row = to_row(tabs["Prospects"][0], person("same@example.com", "Sam"))
    tabs["Prospects"].extend([list(row) for _ in range(10_000)])
    h.make(tabs)
    r = h.sync()
    assert r.prospects_created == 3 and r.errors == 9_999
    got = statuses(h, "Prospects")
    assert got[:3] == ["synced"] * 3
    assert got[3:] == ["error: duplicate of row 4"] * 9_999
    assert_base_synced(h)
    assert len([p for p in h.ws()["prospects"] if p["email"] == "same@example.com"]) == 1
    again = h.poll()
    assert (again.api_calls, again.sheets_writes) == (0, 0)


# --- structural problems through the CLI ------------------------------------------------------


@pytest.fixture
def live() -> Iterator[tuple[Sandbox, SandboxServer, SheetsEmulator]]:
    box = Sandbox(seed())  # the CLI runs on the system clock: so do these
    srv = SandboxServer(box)
    srv.start()
    emu = SheetsEmulator(tokens={TOKEN}, read_quota_per_min=10_000)
    emu.start()
    try:
        yield box, srv, emu
    finally:
        emu.close()
        srv.close()


class Cli:
    def __init__(self, tmp_path: Path, kind: str, live: Any) -> None:
        self.tmp_path, self.kind = tmp_path, kind
        self.sandbox, self.server, self.emu = live
        self.spreadsheet = ""

    def make(self, tabs: Tabs) -> None:
        if self.kind == "xlsx":
            self.spreadsheet = str(XlsxBook(self.tmp_path / "book.xlsx", tabs).path)
        else:
            self.spreadsheet = self.emu.create_spreadsheet(tabs)

    def sync(self, extra: str = "") -> tuple[int, str, str]:
        google = (
            f'[google]\nauth = "token"\nsheets_base_url = "{self.emu.base_url}"\n'
            if self.kind == "google"
            else ""
        )
        cfg = self.tmp_path / "sheetsync.toml"
        cfg.write_text(
            f'[warmysender]\nbase_url = "{self.server.base_url}"\n{google}'
            f'[state]\npath = "state/state.db"\n'
            f'[[sheet]]\nname = "acme"\nsource = "{self.kind}"\n'
            f'spreadsheet = "{self.spreadsheet}"\nsettle_polls = 0\n{extra}',
            encoding="utf-8",
        )
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
        result = CliRunner(env=env).invoke(cli, ["--config", str(cfg), "sync", "--json"])
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.exit_code, result.stdout, result.stderr


@pytest.fixture(params=["xlsx", "google"])
def run(request: pytest.FixtureRequest, tmp_path: Path, live: Any) -> Cli:
    return Cli(tmp_path, request.param, live)


def _without(tab: str, header: str) -> Tabs:
    tabs = base_tabs()
    i = tabs[tab][0].index(header)
    for r in tabs[tab]:
        del r[i]
    return tabs


HEADER_FIX = "add it to the header row (row 1) or map it with [sheet.columns] in the config."
TAB_FIX = "Rename the tab or set [sheet.tabs] in the config."


def test_missing_required_header(run: Cli) -> None:
    run.make(_without("Prospects", "Email"))
    code, out, err = run.sync()
    assert (code, out) == (2, "")  # the sheet layout is setup: a usage error
    assert err == f"error: acme: tab 'Prospects' has no 'Email' column; {HEADER_FIX}\n"
    assert run.sandbox.state()["workspaces"][0]["requestsByEndpoint"] == {}


def test_renamed_header_without_a_mapping(run: Cli) -> None:
    tabs = base_tabs()
    tabs["Steps"][0][1] = "Step Number"  # ("Step #" is Step: punctuation does not count)
    run.make(tabs)
    code, _, err = run.sync()
    assert code == 2
    assert err == f"error: acme: tab 'Steps' has no 'Step' column; {HEADER_FIX}\n"


def test_renamed_tab(run: Cli) -> None:
    tabs = base_tabs()
    tabs["People"] = tabs.pop("Prospects")
    run.make(tabs)
    code, _, err = run.sync()
    shown = "'Campaigns', 'Steps', 'Enrollments', 'Sync Log', 'People'"
    assert code == 2
    assert (
        err == f"error: acme: tab 'Prospects' not found; the tabs there are: {shown}. {TAB_FIX}\n"
    )


def test_tab_renamed_in_case_and_spaces_still_syncs(run: Cli) -> None:
    tabs = base_tabs()
    tabs[" PROSPECTS "] = tabs.pop("Prospects")
    run.make(tabs)
    code, out, err = run.sync()
    assert (code, err) == (0, ""), err
    assert json.loads(out)["prospects_created"] == 2


def test_renamed_sync_log_is_optional(run: Cli) -> None:
    tabs = base_tabs()
    tabs["Old Log"] = tabs.pop("Sync Log")
    run.make(tabs)
    code, out, err = run.sync()
    assert (code, err) == (0, "")
    assert json.loads(out)["enrolled"] == 2


def test_empty_tab_without_a_header_row(run: Cli) -> None:
    tabs = base_tabs()
    tabs["Enrollments"] = []
    run.make(tabs)
    code, _, err = run.sync()
    assert code == 2
    # Email is not required there (a row may name a List ID instead): Campaign is
    assert err == f"error: acme: tab 'Enrollments' has no 'Campaign' column; {HEADER_FIX}\n"


def test_headers_only_sheet_does_nothing(run: Cli) -> None:
    run.make({t: rows[:1] for t, rows in base_tabs().items()})
    code, out, err = run.sync()
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert (report["rows_read"], report["api_calls"], report["errors"]) == (0, 0, 0)


def test_empty_spreadsheet(run: Cli) -> None:
    run.make({"Sheet1": []})
    code, _, err = run.sync()
    assert code == 2
    assert err == (
        f"error: acme: tab 'Prospects' not found; the tabs there are: 'Sheet1'. {TAB_FIX}\n"
    )


def test_a_tab_renamed_in_the_config(run: Cli) -> None:
    tabs = base_tabs()
    tabs["People"] = tabs.pop("Prospects")
    run.make(tabs)
    code, out, err = run.sync('[sheet.tabs]\nprospects = "People"\n')
    assert (code, err) == (0, ""), err
    assert json.loads(out)["prospects_created"] == 2
