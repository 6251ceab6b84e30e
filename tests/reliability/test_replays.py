"""Replays that heal: an intent resends the very bytes it first sent, and a 409 for a reused
Idempotency-Key is resolved (the object read back, or the request sent again under a fresh key),
never turned into a row error. In process, on a FakeClock, against the sandbox; the enrollments
are NOT in sorted order, so a batch rebuilt in another order than it was sent is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from typing import cast

import httpx
import pytest

from sheetsync.sandbox import Faults
from sheetsync.sandbox.service import Reply
from sheetsync.sync import statuses
from tests.engine.conftest import Harness, default_tabs
from tests.engine.test_truth import only_campaign, set_cell
from tests.reliability.conftest import REUSED, HookedSandbox

LAUNCH = "Q1 Launch"
ERRORS = ("error:", "waiting:")


def unsorted_tabs() -> dict[str, list[list[object]]]:
    """Three prospects enrolled p2, p0, p1: neither sorted nor reversed."""
    tabs = default_tabs(3)
    header, *rows = tabs["Enrollments"]
    tabs["Enrollments"] = [header, rows[2], rows[0], rows[1]]
    return tabs


def crash_after(h: Harness, method: str, suffix: str) -> None:
    """Sync until WarmySender has answered the first `method …suffix`, then die before the
    answer is stored (the response hook raises, as a SIGKILL would stop the process there)."""

    def crash(response: httpx.Response) -> None:
        req = response.request
        if req.method == method and req.url.path.endswith(suffix):
            raise KeyboardInterrupt(f"killed after {method} {suffix} was answered")

    with h.through(httpx.Client(event_hooks={"response": [crash]})):
        with pytest.raises(KeyboardInterrupt):
            h.sync()
    assert open_intents(h) == 1


def sandbox(h: Harness) -> HookedSandbox:
    return cast(HookedSandbox, h.sandbox)  # the hx fixture's (conftest is imported twice)


def statuses_of(h: Harness) -> dict[str, list[object]]:
    return {
        "Prospects": [r["Sync Status"] for r in h.table("Prospects")],
        "Campaigns": [r["Sync Status"] for r in h.table("Campaigns")],
        "Enrollments": [r["Enrollment Status"] for r in h.table("Enrollments")],
    }


def assert_converged(h: Harness) -> None:
    """Once each in WarmySender, running, every row done, nothing left open or to send."""
    ws = h.ws()
    assert Counter(p["email"] for p in ws["prospects"])["p0@example.com"] == 1
    assert len(ws["prospects"]) == 4 + 3
    [camp] = ws["campaigns"]
    assert camp["status"] == "running"
    ids = [e["prospectId"] for e in camp["enrollments"]]
    assert len(ids) == len(set(ids)) == 3
    shown = statuses_of(h)
    bad = [s for col in shown.values() for s in col if str(s).startswith(ERRORS)]
    assert not bad, shown
    assert shown["Enrollments"] == ["enrolled"] * 3
    assert open_intents(h) == 0
    assert h.ss is not None
    assert [a for a in h.ss.plan().plan.actions if a.kind not in ("monitor", "want")] == []


def open_intents(h: Harness) -> int:
    db = sqlite3.connect(h.tmp_path / "state" / "state.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM intents").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("POST", "/prospects"), ("POST", "/campaigns"), ("POST", "/start"), ("POST", "/enrollments")],
    ids=["create-prospect", "create-campaign", "start", "enroll"],
)
def test_a_409_for_a_reused_key_during_a_replay_is_resolved(
    hx: Harness, method: str, suffix: str
) -> None:
    """Killed after WarmySender did the work; at the replay it refuses the key as used with
    another body (an intent from an older sheetsync, a key it forgot and saw reused): the
    object is read back (prospect by email, campaign by name, campaign status) or the write sent
    again under a fresh key (an enroll: already enrolled)."""
    hx.make(unsorted_tabs())
    crash_after(hx, method, suffix)
    refused: list[str] = []

    def reuse_once(m: str, route: str) -> Reply | None:
        if m == method and route.endswith(suffix) and not refused:
            refused.append(route)
            return REUSED
        return None

    sandbox(hx).before = reuse_once
    r = hx.sync()
    assert refused, "the replay was never refused"
    assert r.errors == 0
    assert_converged(hx)
    if suffix == "/prospects":  # read back: whether that request created it cannot be told
        assert hx.row("Prospects", "Email", "p0@example.com")["Sync Status"] == statuses.EXISTS
    if suffix == "/start":
        assert r.campaigns_started == 0  # it was started by the killed run; read back
        assert hx.row("Campaigns", "Campaign", LAUNCH)["API Status"] == "running"


def test_an_intent_kept_without_its_request_is_rebuilt_and_heals(hx: Harness) -> None:
    """An intent stored by a sheetsync before schema 2 has no request, and its body was stored
    with sorted keys: rebuilt from it, the batch lists its ids in another order than was sent,
    WarmySender answers 409, and the enroll is sent again under a fresh key."""
    hx.make(unsorted_tabs())
    crash_after(hx, "POST", "/enrollments")
    db = sqlite3.connect(hx.tmp_path / "state" / "state.db")
    with db:
        (body,) = db.execute("SELECT body FROM intents").fetchone()
        old = json.dumps(json.loads(body), sort_keys=True)
        db.execute("UPDATE intents SET body = ?, endpoint = NULL, path = NULL, content = NULL",
                   (old,))  # fmt: skip
    db.close()
    answered: list[int] = []

    def record(method: str, route: str, reply: Reply) -> Reply:
        if route.endswith("/enrollments"):
            answered.append(reply.status)
        return reply

    sandbox(hx).after = record
    assert hx.sync().errors == 0
    assert answered == [409, 200]
    assert_converged(hx)


def test_a_replay_refused_again_stays_open_and_the_rows_say_so(hx: Harness) -> None:
    hx.make(unsorted_tabs())
    crash_after(hx, "POST", "/enrollments")
    sandbox(hx).before = lambda m, route: REUSED if route.endswith("/enrollments") else None
    r = hx.sync()
    assert r.errors == 0 and open_intents(hx) == 1
    shown = statuses_of(hx)["Enrollments"]
    assert all(str(s).startswith("waiting: WarmySender refused to repeat") for s in shown), shown
    sandbox(hx).before = None
    hx.poll()
    assert_converged(hx)


def test_a_lost_enroll_answer_then_a_long_429_heals_next_poll(hx: Harness) -> None:
    """No crash: the enroll's answer is lost after the work, and every retry meets a 429 until
    the client's retry deadline. The intent stays open; the next poll resends the same bytes
    and WarmySender answers with the original result."""
    hx.make(unsorted_tabs())
    lost: list[str] = []

    def lose_then_limit(method: str, route: str, reply: Reply) -> Reply:
        if method == "POST" and route.endswith("/enrollments") and not lost:
            lost.append(route)
            sandbox(hx).faults = Faults(burst_429=10_000)
            return Reply(0, b"", drop=True)
        return reply

    sandbox(hx).after = lose_then_limit
    r = hx.sync()
    assert lost and r.deferred > 0 and r.errors == 0
    assert open_intents(hx) == 1
    assert statuses_of(hx)["Enrollments"] == [statuses.DEFERRED] * 3
    sandbox(hx).faults = Faults()
    hx.clock.advance(120)
    r = hx.poll()
    assert r.errors == 0 and r.campaigns_started == 1
    assert_converged(hx)


def test_the_request_kept_is_the_one_sent(hx: Harness) -> None:
    """The bytes of the stored request are those WarmySender received (ids in sheet order)."""
    hx.make(unsorted_tabs())
    crash_after(hx, "POST", "/enrollments")
    db = sqlite3.connect(hx.tmp_path / "state" / "state.db")
    try:
        (content,) = db.execute("SELECT content FROM intents").fetchone()
    finally:
        db.close()
    sent = [body for m, route, body in sandbox(hx).received if route.endswith("/enrollments")]
    assert sent == [content]
    ids = {p["email"]: p["id"] for p in hx.ws()["prospects"]}
    wanted = [ids[f"p{i}@example.com"] for i in (2, 0, 1)]
    assert content == ('{"prospectIds":["' + '","'.join(wanted) + '"]}').encode()


def test_a_create_left_open_by_a_429_is_replayed_before_anything_is_planned_again(
    hx: Harness,
) -> None:
    """The campaign's create meets a long 429, and so does its replay next poll: the rest of
    that poll waits (a plan made while the create is open would create the campaign again,
    under a key of its own), and once the budget is back the one create is replayed."""
    hx.make(unsorted_tabs())
    limited = Reply(
        429,
        json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}).encode(),
        {"Retry-After": "3600"},
    )
    posts: list[str] = []

    def limit_twice(method: str, route: str) -> Reply | None:
        if method == "POST" and route == "/campaigns":
            posts.append(route)
            return limited if len(posts) <= 2 else None
        return None

    sandbox(hx).before = limit_twice
    for _ in range(4):
        hx.sync()
        hx.clock.advance(3600)
    assert len(posts) == 3  # the create, its replay refused, its replay answered
    assert_converged(hx)
    [camp] = hx.ws()["campaigns"]
    assert [r["Campaign ID"] for r in hx.table("Campaigns")] == [camp["id"]]


def test_a_patch_refused_after_a_monitor_read_is_not_sent_again_until_something_changes(
    hx: Harness,
) -> None:
    """A draft campaign's Daily Send Limit changed in WarmySender's app; the monitor read sends
    the row's value back and WarmySender refuses it. The next reads say so without sending it
    again; a new value in the row goes at once."""
    hx.make(default_tabs(2, state="Draft"), monitor_seconds=300)
    hx.sync()
    [camp] = hx.ws()["campaigns"]
    sandbox(hx).workspace().edit_campaign(camp["id"], {"dailySendLimit": 30})  # in the app
    refused = Reply(
        422,
        json.dumps({"error": {"code": "validation_error", "message": "not now"}}).encode(),
    )
    sandbox(hx).before = lambda m, route: refused if m == "PATCH" else None
    seen = len(sandbox(hx).received)
    patches: list[int] = []
    for _ in range(4):
        hx.clock.advance(301)
        hx.sync()
        patches.append(sum(1 for m, _, _ in sandbox(hx).received[seen:] if m == "PATCH"))
    assert patches == [1, 1, 1, 1]  # sent once, at the first read after the change
    shown = hx.row("Campaigns", "Campaign", LAUNCH)["Sync Status"]
    assert str(shown).startswith("error:") and "not now" in str(shown), shown
    sandbox(hx).before = None
    set_cell(hx, "Campaigns", 2, "Daily Send Limit", 70)
    hx.sync()
    assert only_campaign(hx)["dailySendLimit"] == 70
    assert hx.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"


def test_a_patch_answered_but_not_applied_says_so_instead_of_synced(hx: Harness) -> None:
    """WarmySender answers a PATCH 200 with the campaign as it was (the change not taken): the
    row says what WarmySender kept, not `synced`, and the next polls do not send it again."""
    hx.make(default_tabs(2, state="Draft"), monitor_seconds=300)
    hx.sync()
    [camp] = hx.ws()["campaigns"]

    def ignore(method: str, route: str) -> Reply | None:
        if method != "PATCH":
            return None
        as_it_was = sandbox(hx).workspace().campaigns[camp["id"]].to_json()
        return Reply(200, json.dumps({"data": as_it_was}).encode())

    sandbox(hx).before = ignore
    set_cell(hx, "Campaigns", 2, "Daily Send Limit", 70)
    r = hx.sync()
    assert r.campaigns_updated == 0 and only_campaign(hx)["dailySendLimit"] != 70
    kept = only_campaign(hx)["dailySendLimit"]
    assert hx.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == (
        f"error: WarmySender did not take the change (Daily Send Limit: 70 in the sheet, {kept} "
        "in WarmySender); change it in WarmySender, or put its value in the sheet"
    )
    seen = len(sandbox(hx).received)
    for _ in range(3):
        hx.clock.advance(301)
        hx.sync()
    patches = [m for m, _, _ in sandbox(hx).received[seen:] if m == "PATCH"]
    assert len(patches) == 1  # once more, from the first monitor read; then no more
