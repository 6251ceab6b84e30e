"""Scenario harness: the real sandbox on 127.0.0.1 sharing a FakeClock with the client, and a
spreadsheet on BOTH sources (an xlsx file in tmp_path; the Sheets emulator with auth = token).
Tests marked `both_stores` also run a third time: the xlsx source with the state on PostgreSQL
(the throwaway server of tests/conftest.py) instead of SQLite."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from sheetsync.api.ratelimit import RateLimiter
from sheetsync.clock import FakeClock
from sheetsync.config import Config, parse_config
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.sheet.base import CellWrite, KeyColumns, SheetData, SheetSource, TabLayout
from sheetsync.sheet.connect import open_source
from sheetsync.sync.counts import CycleReport
from sheetsync.sync.cycle import SheetSync, open_sync
from sheetsync.testing.sheets_emulator import SheetsEmulator

TOKEN = "ya29.test-token-not-secret"
MBX = "alex@outreach-demo.example"

HEADERS = {
    "Prospects": ["Email", "First Name", "Last Name", "Company", "Industry"],
    "Campaigns": [
        "Campaign",
        "Mailboxes",
        "Daily Send Limit",
        "Window Start",
        "Window End",
        "State",
    ],
    "Steps": ["Campaign", "Step", "Delay Days", "Subject", "Body"],
    "Enrollments": ["Email", "Campaign", "Enrolled"],
    "Sync Log": [],
}


def people(n: int, start: int = 0) -> list[list[object]]:
    return [[f"p{i}@example.com", f"First{i}", f"Last{i}", "Acme", "SaaS"] for i in range(start, n)]


def default_tabs(n: int = 3, *, state: str = "Running") -> dict[str, list[list[object]]]:
    """Fresh lists every time (header rows too): a test may append columns to its own copy."""
    return {
        "Prospects": [[*HEADERS["Prospects"]], *people(n)],
        "Campaigns": [[*HEADERS["Campaigns"]], ["Q1 Launch", MBX, 50, "09:00", "17:00", state]],
        "Steps": [
            [*HEADERS["Steps"]],
            ["Q1 Launch", 1, 0, "Hello {{firstName}}", "<p>Hi</p>"],
            ["Q1 Launch", 2, 2, "Following up", "<p>Again</p>"],
        ],
        "Enrollments": [
            [*HEADERS["Enrollments"]],
            *([f"p{i}@example.com", "Q1 Launch", True] for i in range(n)),
        ],
        "Sync Log": [["Time"]],
    }


class XlsxBook:
    kind = "xlsx"

    def __init__(self, path: Path, tabs: dict[str, list[list[object]]]) -> None:
        self.path = path
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for title, rows in tabs.items():
            ws = wb.create_sheet(title)
            for row in rows:
                ws.append(row)
        wb.save(path)

    @property
    def spreadsheet(self) -> str:
        return str(self.path)

    def _edit(self, tab: str, fn: Any) -> None:
        wb = openpyxl.load_workbook(self.path)
        rows = [list(r) for r in wb[tab].iter_rows(values_only=True)]
        rows = fn(rows)
        del wb[tab]
        ws = wb.create_sheet(tab)
        for row in rows:
            ws.append(row)
        wb.save(self.path)

    def values(self, tab: str) -> list[list[object]]:
        wb = openpyxl.load_workbook(self.path)
        return [list(r) for r in wb[tab].iter_rows(values_only=True)]

    def set_cell(self, tab: str, row: int, col: int, value: object) -> None:
        wb = openpyxl.load_workbook(self.path)
        wb[tab].cell(row=row, column=col + 1).value = value
        wb.save(self.path)

    def sort(self, tab: str, col: int, descending: bool = False) -> None:
        def key(r: list[object]) -> str:
            return str(r[col] if col < len(r) and r[col] is not None else "")

        self._edit(tab, lambda rows: [rows[0], *sorted(rows[1:], key=key, reverse=descending)])

    def insert(self, tab: str, at_row: int, new: list[list[object]]) -> None:
        self._edit(tab, lambda rows: rows[: at_row - 1] + new + rows[at_row - 1 :])

    def delete(self, tab: str, row: int, count: int = 1) -> None:
        self._edit(tab, lambda rows: rows[: row - 1] + rows[row - 1 + count :])

    def set_values(self, tab: str, rows: list[list[object]]) -> None:
        self._edit(tab, lambda _: rows)


class GoogleBook:
    kind = "google"

    def __init__(self, emu: SheetsEmulator, tabs: dict[str, list[list[object]]]) -> None:
        self.emu = emu
        self.sid = emu.create_spreadsheet(tabs)

    @property
    def spreadsheet(self) -> str:
        return self.sid

    def values(self, tab: str) -> list[list[object]]:
        return self.emu.values(self.sid, tab)

    def set_cell(self, tab: str, row: int, col: int, value: object) -> None:
        self.emu.set_cell(self.sid, tab, row, col, value)

    def sort(self, tab: str, col: int, descending: bool = False) -> None:
        self.emu.sort_rows(self.sid, tab, col, descending=descending)

    def insert(self, tab: str, at_row: int, new: list[list[object]]) -> None:
        self.emu.insert_rows(self.sid, tab, at_row, new)

    def delete(self, tab: str, row: int, count: int = 1) -> None:
        self.emu.delete_rows(self.sid, tab, row, count)

    def set_values(self, tab: str, rows: list[list[object]]) -> None:
        self.emu.set_values(self.sid, tab, rows)


Book = XlsxBook | GoogleBook


class Hooked:
    """A source that lets a person edit the sheet right before the engine re-reads its keys."""

    def __init__(self, inner: SheetSource, before_read_keys: Callable[[], None]) -> None:
        self.inner = inner
        self.before = before_read_keys
        self.counts = inner.counts

    @property
    def label(self) -> str:
        return self.inner.label

    def read(self, tabs: Sequence[str]) -> SheetData:
        return self.inner.read(tabs)

    def read_keys(self, columns: Mapping[str, Sequence[int]]) -> dict[str, KeyColumns]:
        self.before()
        return self.inner.read_keys(columns)

    def check_writable(self) -> None:
        self.inner.check_writable()

    def write(self, cells: Sequence[CellWrite]) -> None:
        self.inner.write(cells)

    def create_tabs(self, layouts: Sequence[TabLayout]) -> list[str]:
        return self.inner.create_tabs(layouts)

    def close(self) -> None:
        self.inner.close()


class Harness:
    """One sheet on one source against the sandbox; `sync()` runs a cycle like `sheetsync sync`
    does (a fresh SheetSync each time), `poll()` first lets `poll_seconds` pass."""

    def __init__(
        self,
        tmp_path: Path,
        clock: FakeClock,
        sandbox: Sandbox,
        server: SandboxServer,
        emu: SheetsEmulator | None,
        kind: str,
    ) -> None:
        self.tmp_path = tmp_path
        self.clock = clock
        self.sandbox = sandbox
        self.server = server
        self.emu = emu
        self.kind = kind
        self.state_url: str | None = None  # the state on PostgreSQL instead of SQLite
        self.book: Book | None = None
        self.overrides: dict[str, Any] = {}
        self.top: dict[str, Any] = {}  # more top-level config tables, e.g. [webhooks]
        self.limiter: RateLimiter | None = None
        self.http: httpx.Client | None = None  # e.g. with event hooks that crash mid-cycle
        self.ss: SheetSync | None = None
        self.before_read_keys: Callable[[], None] | None = None  # edits "made by a person"
        self.hooked: Hooked | None = None

    def make(self, tabs: dict[str, list[list[object]]] | None = None, **sheet: Any) -> Book:
        tabs = tabs if tabs is not None else default_tabs()
        if self.kind == "xlsx":
            self.book = XlsxBook(self.tmp_path / "book.xlsx", tabs)
        else:
            assert self.emu is not None
            self.book = GoogleBook(self.emu, tabs)
        self.overrides = {"settle_polls": 0, **sheet}
        return self.book

    @property
    def config(self) -> Config:
        assert self.book is not None
        data: dict[str, Any] = {
            "warmysender": {"base_url": self.server.base_url},
            "state": (
                {"url": self.state_url}
                if self.state_url
                else {"path": str(self.tmp_path / "state" / "state.db")}
            ),
            "sheet": [
                {
                    "name": "test",
                    "source": self.kind,
                    "spreadsheet": self.book.spreadsheet,
                    "custom_fields": ["Industry"],
                    **self.overrides,
                }
            ],
        }
        if self.emu is not None:
            data["google"] = {"auth": "token", "sheets_base_url": self.emu.base_url}
        data.update(self.top)
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
        return parse_config(data, path=self.tmp_path / "sheetsync.toml", env=env)

    def open(self) -> SheetSync:
        config = self.config
        source = None
        if self.before_read_keys is not None:
            inner = open_source(config.sheets[0], config.google, clock=self.clock)
            source = self.hooked = Hooked(inner, self.before_read_keys)
        return open_sync(
            config,
            config.sheets[0],
            clock=self.clock,
            limiter=self.limiter,
            http=self.http,
            source=source,
        )

    def sync(self, **kw: Any) -> CycleReport:
        """One cycle on a long-lived SheetSync, as the daemon runs them."""
        if self.ss is None:
            self.ss = self.open()
        return self.ss.cycle(**kw)

    def restart(self) -> None:
        """Close the SheetSync (a process that ended or was killed); the next sync reopens."""
        if self.ss is not None:
            self.ss.close()
            self.ss = None
        if self.hooked is not None:
            self.hooked.close()
            self.hooked = None

    @contextmanager
    def through(self, http: httpx.Client) -> Iterator[None]:
        """The syncs inside go through `http` (a fault, a kill); then the SheetSync is closed, as
        by a process that ended, and the next sync goes to the sandbox directly."""
        self.http = http
        try:
            yield
        finally:
            self.restart()
            http.close()
            self.http = None

    def poll(self, **kw: Any) -> CycleReport:
        self.clock.advance(self.config.sheets[0].poll_seconds)
        return self.sync(**kw)

    def table(self, tab: str) -> list[dict[str, object]]:
        """The tab as dicts by header (blank rows skipped)."""
        assert self.book is not None
        rows = self.book.values(tab)
        header = [str(h or "") for h in rows[0]]
        out = []
        for r in rows[1:]:
            if not any(v not in (None, "") for v in r):
                continue
            out.append({h: (r[i] if i < len(r) else None) for i, h in enumerate(header) if h})
        return out

    def row(self, tab: str, key: str, value: object) -> dict[str, object]:
        hits = [r for r in self.table(tab) if r.get(key) == value]
        assert len(hits) == 1, (tab, key, value, hits)
        return hits[0]

    def remote(self) -> dict[str, Any]:
        return self.sandbox.state()

    def ws(self) -> dict[str, Any]:
        state = self.remote()
        wss = state.get("workspaces", state)
        return wss[0] if isinstance(wss, list) else wss


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def seed(rate: int = 600) -> dict[str, Any]:
    s = copy.deepcopy(demo_seed())
    s["workspaces"][0]["rateLimitPerMinute"] = rate
    return s


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(seed(), clock=clock, faults=Faults())


@pytest.fixture
def server(sandbox: Sandbox) -> Iterator[SandboxServer]:
    srv = SandboxServer(sandbox)
    srv.start()
    yield srv
    srv.close()


@pytest.hookimpl(tryfirst=True)  # before pytest reads the parametrize marks
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`both_stores` tests run a third time, with the state on PostgreSQL (a parametrize mark,
    so that it takes the place of the fixture's params, as a test's own mark does)."""
    chosen = any(m.args[0] == "h" for m in metafunc.definition.iter_markers("parametrize"))
    if metafunc.definition.get_closest_marker("both_stores") and not chosen:
        kinds = ["xlsx", "google", "postgres"]
        metafunc.definition.add_marker(pytest.mark.parametrize("h", kinds, indirect=True))


@pytest.fixture(params=["xlsx", "google"])
def h(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FakeClock,
    sandbox: Sandbox,
    server: SandboxServer,
) -> Iterator[Harness]:
    if request.param == "postgres":
        emu = None
        harness = Harness(tmp_path, clock, sandbox, server, None, "xlsx")
        harness.state_url = request.getfixturevalue("pg_url")
    elif request.param == "google":
        emu = SheetsEmulator(clock=clock, tokens={TOKEN}, read_quota_per_min=10_000)
        emu.write_quota_per_min = 10_000
        emu.start()
        harness = Harness(tmp_path, clock, sandbox, server, emu, "google")
    else:
        emu = None
        harness = Harness(tmp_path, clock, sandbox, server, None, "xlsx")
    try:
        yield harness
    finally:
        harness.restart()
        if emu is not None:
            emu.close()
