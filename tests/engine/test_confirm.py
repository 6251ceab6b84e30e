"""The safety brake released from the sheet: the Campaigns tab's Confirm box (and the operators'
`sync --confirm-unenroll`, through the real CLI) releases exactly the unenrolls that were held,
on both sources against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sheetsync.api.ratelimit import RateLimiter
from sheetsync.app.cli import cli
from sheetsync.config import parse_config
from sheetsync.rows.records import EnrollmentRecord, SheetRows
from sheetsync.sandbox import DEMO_KEY
from sheetsync.state import Item
from sheetsync.sync.plan import HOLDS, make_plan
from tests.engine.conftest import HEADERS, MBX, TOKEN, Harness, default_tabs

LAUNCH = "Q1 Launch"
CONFIRM = 6  # the Confirm column (0-based) of the Campaigns tab below
HELD_BY_BOX = (
    "; check the sheet, then tick the campaign's Confirm box (or run "
    "`sheetsync sync --confirm-unenroll`) to release"
)


def confirm_tabs(n: int) -> dict[str, list[list[object]]]:
    """`n` prospects enrolled in Q1 Launch, whose row has an (unticked) Confirm box."""
    tabs = default_tabs(n)
    tabs["Campaigns"] = [
        [*HEADERS["Campaigns"], "Confirm"],
        [LAUNCH, MBX, 50, "09:00", "17:00", "Running", False],
    ]
    tabs["Sync Log"] = [["Time", "Unenrolled", "Campaign Changes"]]
    return tabs


def email(i: int) -> str:
    return f"p{i}@example.com"


def set_enrolled(h: Harness, people: range | list[int], value: bool) -> None:
    assert h.book is not None
    for i in people:
        h.book.set_cell("Enrollments", i + 2, 2, value)


def tick(h: Harness) -> None:
    assert h.book is not None
    h.book.set_cell("Campaigns", 2, CONFIRM, True)


def enrollments(h: Harness) -> dict[str, dict[str, Any]]:
    """WarmySender's enrollments of the campaign, by email, every field."""
    [camp] = h.ws()["campaigns"]
    return {e["email"]: dict(e) for e in camp["enrollments"]}


def expect(h: Harness, unenrolled: set[int], n: int) -> dict[str, dict[str, Any]]:
    """The enrollments WarmySender should hold: p0..p{n-1}, `unenrolled` of them unenrolled."""
    ids = {p["email"]: p["id"] for p in h.ws()["prospects"]}
    return {
        email(i): {
            "prospectId": ids[email(i)],
            "email": email(i),
            "status": "unenrolled" if i in unenrolled else "active",
        }
        for i in range(n)
    }


def statuses(h: Harness) -> dict[str, object]:
    return {str(r["Email"]): r["Enrollment Status"] for r in h.table("Enrollments")}


def campaign_row(h: Harness) -> dict[str, object]:
    return h.row("Campaigns", "Campaign", LAUNCH)


def held(n: int, of: int) -> str:
    return f"held: {n} of {of} enrolled would be unenrolled from {LAUNCH!r}{HELD_BY_BOX}"


def test_the_box_releases_the_held_unenrolls_and_is_cleared(h: Harness) -> None:
    h.make(confirm_tabs(12))
    h.sync()
    set_enrolled(h, range(12), False)
    r = h.poll()
    assert (r.held, r.unenrolled, r.api_calls) == (12, 0, 0)
    assert campaign_row(h)["Sync Status"] == held(12, 12)
    assert set(statuses(h).values()) == {held(12, 12)}
    assert enrollments(h) == expect(h, set(), 12)

    tick(h)
    r = h.poll()
    assert (r.held, r.unenrolled, r.errors) == (0, 12, 0)
    assert enrollments(h) == expect(h, set(range(12)), 12)
    row = campaign_row(h)
    assert row["Confirm"] is False  # cleared, RAW: still a checkbox value
    assert row["Sync Status"] == "synced" and row["Enrolled"] == 0
    assert row["Last Change"] == "\u221212 unenrolled (12 of 12 processed), confirmed in the sheet"
    assert set(statuses(h).values()) == {"unenrolled"}
    log = h.table("Sync Log")[0]  # the newest first
    assert log["Unenrolled"] == 12
    assert "Q1 Launch: \u221212 unenrolled (12 of 12 processed), confirmed in the sheet" in str(
        log["Campaign Changes"]
    )

    r = h.poll()  # clearing the box was no edit: nothing to do, nothing to write
    assert (r.api_calls, r.sheets_writes, r.unenrolled) == (0, 0, 0)


def test_a_box_ticked_with_nothing_held_is_cleared_and_says_so_once(h: Harness) -> None:
    h.make(confirm_tabs(3), settle_polls=1)
    h.sync()
    tick(h)
    r = h.poll()  # not delayed by settle: the box is not the row's content
    assert (r.api_calls, r.unenrolled) == (0, 0)
    row = campaign_row(h)
    assert row["Confirm"] is False
    assert row["Sync Status"] == "synced: nothing was held to release; Confirm cleared"
    assert enrollments(h) == expect(h, set(), 3)
    r = h.poll()
    assert campaign_row(h)["Sync Status"] == "synced"
    r = h.poll()
    assert (r.api_calls, r.sheets_writes) == (0, 0)


def test_a_box_ticked_before_the_hold_confirms_nothing(h: Harness) -> None:
    """Unticked and confirmed between two polls: the brake had held nothing yet, so the box
    releases nothing; the hold shows, and a box ticked now releases it."""
    h.make(confirm_tabs(12))
    h.sync()
    set_enrolled(h, range(12), False)
    tick(h)
    r = h.poll()
    assert (r.held, r.unenrolled) == (12, 0)
    assert campaign_row(h)["Confirm"] is False
    assert campaign_row(h)["Sync Status"] == held(12, 12)
    assert enrollments(h) == expect(h, set(), 12)
    tick(h)
    assert h.poll().unenrolled == 12
    assert enrollments(h) == expect(h, set(range(12)), 12)


def race(h: Harness, confirm: Callable[[], tuple[str, tuple[int, int]]]) -> None:
    """26 enrolled; 14 unticked and held. Then, before the next poll: 2 of them ticked again,
    11 others unticked, and the hold confirmed. Only the 12 still held are released; the 11
    trip the brake on their own and are held; the 2 stay enrolled."""
    h.make(confirm_tabs(26))
    h.sync()
    set_enrolled(h, range(14), False)
    r = h.poll()
    assert (r.held, r.unenrolled) == (14, 0)
    assert campaign_row(h)["Sync Status"] == held(14, 26)

    set_enrolled(h, [0, 1], True)
    set_enrolled(h, range(14, 25), False)
    how, counts = confirm()
    assert counts == (11, 12)  # held, unenrolled
    released = set(range(2, 14))
    assert enrollments(h) == expect(h, released, 26)
    text = "confirmed in the sheet" if how == "sheet" else "confirmed by sync --confirm-unenroll"
    row = campaign_row(h)
    assert row["Last Change"] == f"\u221212 unenrolled (12 of 12 processed), {text}"
    assert row["Sync Status"] == held(11, 14) and row["Enrolled"] == 14
    assert row["Confirm"] is False
    got = statuses(h)
    assert [got[email(i)] for i in (0, 1, 25)] == ["enrolled"] * 3
    assert {got[email(i)] for i in released} == {"unenrolled"}
    assert {got[email(i)] for i in range(14, 25)} == {held(11, 14)}

    tick(h)  # the 11 now: released alone
    r = h.poll()
    assert (r.held, r.unenrolled) == (0, 11)
    assert enrollments(h) == expect(h, set(range(2, 25)), 26)
    row = campaign_row(h)
    assert row["Last Change"] == "\u221211 unenrolled (11 of 11 processed), confirmed in the sheet"
    assert (row["Sync Status"], row["Enrolled"], row["Confirm"]) == ("synced", 3, False)


def test_a_release_races_new_unticks_and_reticks(h: Harness) -> None:
    def by_box() -> tuple[str, tuple[int, int]]:
        tick(h)
        r = h.poll()
        return "sheet", (r.held, r.unenrolled)

    race(h, by_box)


def test_confirm_unenroll_takes_the_same_path(h: Harness) -> None:
    def by_command() -> tuple[str, tuple[int, int]]:
        h.restart()  # the CLI is another process on the same state
        h.clock.advance(60)
        config = write_config(h)
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
        args = ["--config", str(config), "sync", "--confirm-unenroll", "--json"]
        result = CliRunner(env=env).invoke(cli, args)
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        return "command", (report["held"], report["unenrolled"])

    race(h, by_command)


def write_config(h: Harness) -> Path:
    """The harness's config as a file, for the CLI."""
    config = h.config
    sheet = config.sheets[0]
    q = json.dumps
    lines = [
        "[warmysender]",
        f"base_url = {q(config.warmysender.base_url)}",
        "[state]",
        f"path = {q(str(config.state_path))}",
    ]
    if h.emu is not None:
        lines += ["[google]", 'auth = "token"', f"sheets_base_url = {q(h.emu.base_url)}"]
    lines += [
        "[[sheet]]",
        f"name = {q(sheet.name)}",
        f"source = {q(h.kind)}",
        f"spreadsheet = {q(sheet.spreadsheet)}",
        'custom_fields = ["Industry"]',
        "settle_polls = 0",
    ]
    path = h.tmp_path / "sheetsync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_release_cut_short_by_the_rate_budget_continues_next_poll(h: Harness) -> None:
    """The confirmation is kept in state, not in the box: the box is cleared at once, and the
    release the budget left undone is sent next poll without a second tick."""
    h.make(confirm_tabs(12))
    h.sync()
    set_enrolled(h, range(12), False)
    assert h.poll().held == 12
    spent = RateLimiter(1, clock=h.clock, window_s=3600)
    spent.acquire()
    h.limiter = spent
    h.restart()
    tick(h)
    r = h.poll()
    assert (r.unenrolled, r.deferred, r.held, r.api_calls) == (0, 12, 0, 0)
    assert campaign_row(h)["Confirm"] is False
    assert set(statuses(h).values()) == {"waiting: rate budget spent; continues next poll"}
    assert enrollments(h) == expect(h, set(), 12)
    h.limiter = None
    h.restart()
    r = h.poll()
    assert (r.unenrolled, r.held) == (12, 0)
    assert enrollments(h) == expect(h, set(range(12)), 12)
    row = campaign_row(h)
    assert row["Last Change"] == "\u221212 unenrolled (12 of 12 processed), confirmed in the sheet"


def test_a_campaign_given_by_its_id_is_released_by_the_command() -> None:
    """Pure: an Enrollments row may name a WarmySender campaign id (no row, so no box). Its
    hold is recorded the same way; only the command releases it, and only once held."""
    data = {
        "warmysender": {"base_url": "http://127.0.0.1:9/api/v1"},
        "sheet": [{"name": "s", "source": "xlsx", "spreadsheet": "s.xlsx"}],
    }
    sheet = parse_config(data, path=Path("sheetsync.toml"), env={}).sheets[0]
    recs = [
        EnrollmentRecord(i + 2, f"{email(i)}|cmp_x", email(i), None, "cmp_x", False, "off")
        for i in range(12)
    ]
    keys = [r.key for r in recs]
    items: dict[str, dict[str, Item]] = {r: {} for r in ("prospects", "campaigns", "steps")}
    items["enrollments"] = {
        k: Item(
            "enrollments",
            k,
            hash="on",
            seen_hash="off",
            data={"active": True, "target": "id:cmp_x"},
        )
        for k in keys
    }
    rows = SheetRows(enrollments=recs)

    plan = make_plan(rows, items, sheet, first_poll=False, confirm_unenroll=True, now=0)
    assert not plan.actions  # nothing was held yet: the flag confirms nothing
    assert plan.holds == {
        "id:cmp_x": {
            "keys": keys,
            "status": "held: 12 of 12 enrolled would be unenrolled from 'cmp_x'; check the sheet, "
            "then run `sheetsync sync --confirm-unenroll` to release",
        }
    }
    items[HOLDS] = {"id:cmp_x": Item(HOLDS, "id:cmp_x", data=plan.holds["id:cmp_x"])}
    assert not make_plan(
        rows, items, sheet, first_poll=False, confirm_unenroll=False, now=0
    ).actions
    plan = make_plan(rows, items, sheet, first_poll=False, confirm_unenroll=True, now=0)
    [action] = plan.actions
    assert (action.kind, action.key, action.rows) == ("unenroll", "id:cmp_x", tuple(keys))
    assert action.describe() == "unenroll cmp_x (12 held rows, confirmed)"
    assert plan.holds == {"id:cmp_x": {"release": keys, "by": "command"}}
