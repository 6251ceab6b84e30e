"""The engine's row cache (sync/rowcache.py) and the items a SheetSync keeps between polls never
change what a poll does: one long-lived SheetSync (as the daemon keeps it) and a SheetSync opened
afresh for every poll (no cache, items read from the file) make the same API calls, leave the
same sheet, the same state and the same WarmySender data, poll after poll, whatever people do to
the sheet in between (edits, typed-over statuses, 1 vs TRUE, a Stop box ticked, inserted,
deleted and sorted rows, a changed header row) and under a rate limit that defers work."""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetsync.api.ratelimit import RateLimiter
from sheetsync.clock import FakeClock
from sheetsync.config import Config, parse_config
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.records import SheetRows
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.state import State
from sheetsync.sync.cycle import SheetSync, open_sync
from sheetsync.sync.rowcache import Entry, Look, RowCache, TabCache
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.rows_helpers import SHEET, data, table

TOKEN = "ya29.row-cache-test"
MBX = "alex@outreach-demo.example"
EMAILS = ["a@x.io", "b@x.io", "c@x.io", "A@X.io ", "d@x.io"]
CELL = st.sampled_from([*EMAILS, "bad", "", "Ann", "Q1", True, False, 1, 1.0, "1", "synced"])
PROSPECT = st.tuples(
    st.sampled_from([*EMAILS, "bad"]), st.sampled_from(["Ann", "Bo"]), st.sampled_from(["Acme", 7])
).map(list)
ENROLLMENT = st.tuples(
    st.sampled_from(EMAILS), st.sampled_from(["Q1", "q1 ", "Nope"]), st.sampled_from([True, False])
).map(list)
TABS = st.sampled_from(["Prospects", "Enrollments"])
EDIT = st.one_of(
    st.tuples(st.just("set"), TABS, st.integers(0, 6), st.integers(0, 6), CELL),
    st.tuples(st.just("insert"), TABS, st.integers(0, 6), st.integers(0, 0), CELL),
    st.tuples(st.just("delete"), TABS, st.integers(0, 6), st.integers(0, 0), CELL),
    st.tuples(st.just("sort"), TABS, st.integers(0, 2), st.integers(0, 0), CELL),
    st.tuples(st.just("header"), TABS, st.integers(0, 0), st.integers(0, 0), CELL),
)


def tabs_of(prospects: list[list[Any]], enrollments: list[list[Any]], sync_col: bool) -> Any:
    p_header = ["Email", "First Name", "Company", "Stop", *(["Sync"] if sync_col else [])]
    extra = [False, True] if sync_col else [False]
    return {
        "Prospects": [p_header, *(r + extra for r in prospects)],
        "Campaigns": [
            ["Campaign", "Mailboxes", "State"],
            ["Q1", MBX, "Running"],
        ],
        "Steps": [["Campaign", "Step", "Subject", "Body"], ["Q1", 1, "Hi", "<p>Hi</p>"]],
        "Enrollments": [["Email", "Campaign", "Enrolled"], *enrollments],
    }


class World:
    """A sandbox, a spreadsheet on the shared emulator and a state file, on a clock of its own."""

    def __init__(self, stack: ExitStack, emu: SheetsEmulator, tabs: Any, rate: int, **sheet: Any):
        self.clock = FakeClock()
        seed = copy.deepcopy(demo_seed())
        seed["workspaces"][0]["rateLimitPerMinute"] = rate
        self.sandbox = Sandbox(seed, clock=self.clock, faults=Faults())
        server = SandboxServer(self.sandbox)
        server.start()
        stack.callback(server.close)
        self.emu = emu
        self.sid = emu.create_spreadsheet(copy.deepcopy(tabs))
        self.dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        self.limiter = RateLimiter(clock=self.clock)
        self.http = stack.enter_context(httpx.Client())  # one TLS context for every opening
        body = {
            "warmysender": {"base_url": server.base_url},
            "google": {"auth": "token", "sheets_base_url": emu.base_url},
            "state": {"path": str(self.dir / "state.db")},
            "sheet": [{"name": "s", "spreadsheet": self.sid, **sheet}],
        }
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
        self.config: Config = parse_config(body, path=self.dir / "c.toml", env=env)

    def open(self) -> SheetSync:
        sheet = self.config.sheets[0]
        return open_sync(self.config, sheet, clock=self.clock, limiter=self.limiter, http=self.http)

    def edit(self, op: str, tab: str, a: int, b: int, value: Any, row: list[Any]) -> None:
        rows = self.emu.values(self.sid, tab)
        n = len(rows)
        if op == "set":
            self.emu.set_cell(self.sid, tab, a + 2, b, value)
        elif op == "insert":
            self.emu.insert_rows(self.sid, tab, min(a + 2, n + 1), [row])
        elif op == "delete" and a + 2 <= n:
            self.emu.delete_rows(self.sid, tab, a + 2)
        elif op == "sort":
            self.emu.sort_rows(self.sid, tab, a)
        elif op == "header":
            name = str(rows[0][1])  # the same column, spelled differently
            self.emu.set_cell(self.sid, tab, 1, 1, name.title() if name.isupper() else name.upper())

    def outcome(self) -> dict[str, Any]:
        with State(self.config.state_path) as st_:
            items = {
                (role, key): vars(it)
                for role in ("prospects", "campaigns", "steps", "enrollments")
                for key, it in st_.items("s", role).items()
            }
            intents = [(i.op, i.body) for i in st_.pending_intents("s")]
        sheet = {t: self.emu.values(self.sid, t) for t in ("Prospects", "Enrollments", "Campaigns")}
        return {"items": items, "intents": intents, "sheet": sheet, "api": self.sandbox.state()}


@contextmanager
def emulator() -> Iterator[SheetsEmulator]:
    with SheetsEmulator(
        clock=FakeClock(), tokens={TOKEN}, read_quota_per_min=10**9, write_quota_per_min=10**9
    ) as emu:
        yield emu


def report_of(sync: SheetSync) -> dict[str, object]:
    report = sync.cycle().to_json()
    report.pop("sheets_reads")  # the fresh SheetSync reads the spreadsheet's metadata each poll
    return report


@settings(max_examples=20, deadline=None)
@given(
    st.lists(PROSPECT, max_size=5),
    st.lists(ENROLLMENT, max_size=4),
    st.lists(st.lists(EDIT, max_size=3), min_size=2, max_size=5),
    st.booleans(),
    st.sampled_from([0, 1]),
    st.sampled_from([600, 3]),
    st.sampled_from(["keep", "unenroll"]),
)
def test_a_kept_sync_does_what_a_fresh_sync_does(
    prospects: list[list[Any]],
    enrollments: list[list[Any]],
    polls: list[list[tuple[str, str, int, int, Any]]],
    sync_col: bool,
    settle: int,
    rate: int,
    removed: str,
) -> None:
    tabs = tabs_of(prospects, enrollments, sync_col)
    sheet = {"settle_polls": settle, "on_row_removed": removed, "poll_seconds": 60}
    with ExitStack() as stack, emulator() as emu:
        kept_world = World(stack, emu, tabs, rate, **sheet)
        fresh_world = World(stack, emu, tabs, rate, **sheet)
        kept = stack.enter_context(kept_world.open())
        for n, edits in enumerate(polls):
            for op, tab, a, b, value in edits:
                row = [EMAILS[a % len(EMAILS)], "New", value]
                for w in (kept_world, fresh_world):
                    w.edit(op, tab, a, b, value, list(row))
            got = report_of(kept)
            with fresh_world.open() as fresh:
                want = report_of(fresh)
            assert got == want, f"poll {n}"
            assert kept_world.outcome() == fresh_world.outcome(), f"poll {n}"
            for w in (kept_world, fresh_world):
                w.clock.advance(60)


def remember_all(cache: RowCache, look: Look, focus: SheetRows) -> None:
    """As if every parsed row turned out quiet (the cache keeps it for the next read)."""
    for t in look.tabs.values():
        for r in focus.prospects if t.role == "prospects" else focus.enrollments:
            t.entries[r.row - 2] = Entry(r, None, True)
        cache.tabs[t.role] = TabCache.of(t.header, t.table[1:], t.entries)


def test_an_unchanged_row_is_one_lookup_and_a_changed_one_is_parsed_again() -> None:
    cache = RowCache()
    rows = [{"Email": f"p{i}@x.io", "Company": "Acme", "Sync Status": "synced"} for i in range(3)]
    look = cache.look(data(prospects=table(rows)), SHEET)
    assert sorted(look.tabs["prospects"].dirty) == [2, 3, 4]  # nothing known yet
    parsed, focus = look.parse()
    remember_all(cache, look, focus)
    look = cache.look(data(prospects=table(rows)), SHEET)  # the same read again
    t = look.tabs["prospects"]
    assert t.dirty == {} and t.quiet == parsed.prospects and t.to_parse() == [t.table[0]]
    again, focus = look.parse()
    assert again == parsed and focus.prospects == [] and focus.rows_read == 0
    remember_all(cache, look, focus)

    rows[1]["Company"] = "Globex"
    rows.insert(0, {"Email": "new@x.io"})  # every row moves down
    look = cache.look(data(prospects=table(rows)), SHEET)
    t = look.tabs["prospects"]
    assert sorted(t.dirty) == [2, 4]  # the new row and the edited one
    assert [(r.row, r.body) for r in t.quiet] == [
        (3, parsed.prospects[0].body),
        (5, parsed.prospects[2].body),
    ]
    full, focus = look.parse()
    assert [p.key for p in focus.prospects] == ["new@x.io", "p1@x.io"]
    assert full == parse_sheet(data(prospects=table(rows)), SHEET)  # the same records
    # The header row changes: nothing is known any more.
    renamed = [{("company" if k == "Company" else k): v for k, v in r.items()} for r in rows]
    look = cache.look(data(prospects=table(renamed)), SHEET)
    assert sorted(look.tabs["prospects"].dirty) == [2, 3, 4, 5]


def test_a_key_on_a_quiet_and_a_parsed_row_is_parsed_on_both() -> None:
    cache = RowCache()
    rows = [{"Email": "a@x.io", "Company": "Acme"}, {"Email": "b@x.io", "Company": "B"}]
    look = cache.look(data(prospects=table(rows)), SHEET)
    remember_all(cache, look, look.parse()[1])
    rows.insert(0, {"Email": " A@x.io", "Company": "Dup"})  # a new row with a@x.io's key
    look = cache.look(data(prospects=table(rows)), SHEET)
    full, focus = look.parse()
    assert full == parse_sheet(data(prospects=table(rows)), SHEET)
    assert [(i.row, i.message) for i in full.issues] == [(3, "duplicate of row 2")]


def test_a_row_pasted_twice_is_parsed_twice_and_the_copy_is_a_duplicate() -> None:
    cache = RowCache()
    rows = [{"Email": "a@x.io", "Company": "Acme"}, {"Email": "b@x.io", "Company": "B"}]
    look = cache.look(data(prospects=table(rows)), SHEET)
    remember_all(cache, look, look.parse()[1])
    rows.append(dict(rows[0]))  # the same cells again, below
    look = cache.look(data(prospects=table(rows)), SHEET)
    assert sorted(look.tabs["prospects"].dirty) == [2, 4]
    full, _ = look.parse()
    assert full == parse_sheet(data(prospects=table(rows)), SHEET)
    assert [(i.row, i.message) for i in full.issues] == [(4, "duplicate of row 2")]


def test_a_kept_sync_reads_its_items_again_after_another_process_synced_the_sheet() -> None:
    """`sheetsync sync` run by hand next to `sheetsync run`: the daemon's kept items would be
    stale; a newer run of the sheet in the state file makes it read them again."""
    tabs = tabs_of([["a@x.io", "Ann", "Acme"]], [], sync_col=False)
    with ExitStack() as stack, emulator() as emu:
        world = World(stack, emu, tabs, 600, settle_polls=0)
        kept = stack.enter_context(world.open())
        kept.cycle()
        kept.cycle()  # settled: quiet rows, nothing to do
        world.emu.set_cell(world.sid, "Prospects", 3, 0, "b@x.io")  # a new row
        world.emu.set_cell(world.sid, "Prospects", 3, 1, "Bo")
        with world.open() as other:  # the other process acts on it first
            assert other.cycle().prospects_created == 1
        report = kept.cycle()
        assert (report.api_calls, report.prospects_created) == (0, 0)  # nothing done twice
        assert kept.cycle().api_calls == 0
