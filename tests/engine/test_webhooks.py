"""Outcomes end to end, on both sources: `sheetsync run`'s Daemon with [webhooks] (the receiver
of app/webhooks.py registered with the sandbox), events made through the sandbox's
/_sandbox/events, and what the Enrollments and Prospects tabs and WarmySender hold afterwards.
Also: the Stop box, stop_on_reply, and Outcome without webhooks (the REST reads)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from sheetsync.api.ratelimit import forget_limiters
from sheetsync.app.daemon import Daemon
from sheetsync.app.webhooks import Receiver, receiving
from sheetsync.clock import utc_iso
from sheetsync.sandbox.webhooks import sign
from sheetsync.serving import free_port
from sheetsync.sync import statuses

from .conftest import MBX, Harness, default_tabs

LAUNCH, PILOT = "Q1 Launch", "Q2 Pilot"


def two_campaigns(pilot_state: str = "Draft") -> dict[str, list[list[object]]]:
    """p0, p1, p2 in Q1 Launch (running); p0 also in Q2 Pilot."""
    tabs = default_tabs(3)
    tabs["Campaigns"].append([PILOT, MBX, 20, "09:00", "17:00", pilot_state])
    tabs["Steps"].append([PILOT, 1, 0, "Pilot", "<p>Pilot</p>"])
    tabs["Enrollments"].append(["p0@example.com", PILOT, True])
    return tabs


class Live:
    """`sheetsync run` in this process: the receiver and the Daemon on the harness's clock."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.port = free_port()
        h.top["webhooks"] = {
            "listen": f"127.0.0.1:{self.port}",
            "public_url": f"http://127.0.0.1:{self.port}/warmysender",
        }
        self._stack = ExitStack()
        self.receiver: Receiver | None = None
        self.daemon: Daemon | None = None

    def start(self) -> Live:
        forget_limiters()
        self.receiver = self._stack.enter_context(receiving(self.h.config, self.h.clock))
        self.daemon = Daemon(self.h.config, clock=self.h.clock)
        self._stack.callback(self.daemon.close)  # as run does at the end: its sheets' syncs
        return self

    def stop(self) -> None:
        self._stack.close()
        forget_limiters()

    def poll(self, first: bool = False) -> None:
        assert self.daemon is not None
        if not first:
            self.h.clock.advance(self.h.config.sheets[0].poll_seconds)
        assert self.daemon.run_due() == [("test", "ok")]

    def event(self, kind: str, email: str, campaign: str | None = None) -> dict[str, Any]:
        body = {"type": kind, "email": email}
        if campaign:
            body["campaign"] = self.campaign_id(campaign)
        posted = httpx.post(f"{self.h.server.root_url}/_sandbox/events", json=body, timeout=30)
        assert posted.status_code == 200, posted.text
        answer: dict[str, Any] = posted.json()
        assert all(d["status"] == "delivered" for d in answer["deliveries"]), answer
        return answer

    def campaign_id(self, name: str) -> str:
        return str(self.h.row("Campaigns", "Campaign", name)["Campaign ID"])

    def outcome(self, email: str, campaign: str = LAUNCH) -> tuple[object, object, object]:
        rows = [
            r
            for r in self.h.table("Enrollments")
            if (r["Email"], r["Campaign"]) == (email, campaign)
        ]
        assert len(rows) == 1, rows
        return rows[0]["Enrollment Status"], rows[0].get("Outcome"), rows[0].get("Last Event At")

    def stored_events(self) -> list[tuple[str, str]]:
        db = sqlite3.connect(self.h.tmp_path / "state" / "state.db")
        try:
            return list(db.execute("SELECT event_id, type FROM events ORDER BY seq"))
        finally:
            db.close()


@pytest.fixture
def live(h: Harness) -> Iterator[Live]:
    running = Live(h)
    yield running
    running.stop()


def row_where(h: Harness, tab: str, **match: object) -> dict[str, object]:
    hits = [r for r in h.table(tab) if all(r.get(k) == v for k, v in match.items())]
    assert len(hits) == 1, (tab, match, hits)
    return hits[0]


def enrollments_of(h: Harness, email: str) -> dict[str, str]:
    """campaign name -> enrollment status in WarmySender."""
    return {
        c["name"]: e["status"]
        for c in h.ws()["campaigns"]
        for e in c["enrollments"]
        if e["email"] == email
    }


def test_events_reach_their_rows_within_one_poll_per_campaign(h: Harness, live: Live) -> None:
    h.make(two_campaigns())
    live.start().poll(first=True)
    assert [w["url"] for w in h.ws()["webhooks"]] == [h.top["webhooks"]["public_url"]]
    live.event("reply.received", "p0@example.com", LAUNCH)
    replied_at = utc_iso(h.clock)
    h.clock.advance(30)
    live.event("email.opened", "p1@example.com")
    live.event("email.bounced", "p2@example.com")
    bounced_at = utc_iso(h.clock)
    live.poll()
    assert live.outcome("p0@example.com") == ("enrolled", "replied", replied_at)
    assert live.outcome("p1@example.com")[1:] == ("opened", bounced_at)
    assert live.outcome("p2@example.com")[1:] == ("bounced", bounced_at)
    # the same prospect in the draft campaign: nothing happened there
    assert live.outcome("p0@example.com", PILOT) == ("enrolled", None, None)
    # a later open does not overwrite the reply; Last Event At moves on
    h.clock.advance(60)
    live.event("email.opened", "p0@example.com", LAUNCH)
    opened_at = utc_iso(h.clock)
    live.poll()
    assert live.outcome("p0@example.com") == ("enrolled", "replied", opened_at)
    # WarmySender's side: stopOnReply stopped p0 there; the Campaigns tab's counts are its stats
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "replied", PILOT: "active"}
    h.clock.advance(300)  # monitor_seconds
    live.poll()
    campaign = h.row("Campaigns", "Campaign", LAUNCH)
    assert (campaign["Replied"], campaign["Bounced"], campaign["Opened"]) == (1, 1, 2)


def test_a_repeated_event_counts_once_and_forged_or_stale_ones_change_nothing(
    h: Harness, live: Live
) -> None:
    h.make()
    live.start().poll(first=True)
    event = live.event("reply.received", "p0@example.com")["event"]
    live.poll()
    before = live.stored_events()
    assert before.count((event["id"], "reply.received")) == 1
    assert h.sandbox.redeliver(event["id"])[0]["status"] == "delivered"
    assert live.stored_events() == before
    assert live.receiver is not None and live.receiver.duplicates == 1

    url = f"http://127.0.0.1:{live.port}/warmysender"
    forged = b'{"type":"email.bounced","data":{"prospectEmail":"p1@example.com"}}'
    now_ms = int(h.clock.time() * 1000)
    secret = h.sandbox._outbox.deliveries[0].endpoint.secret  # the sandbox's copy, for a stale one
    attempts = {
        "wrong secret": sign("whsec_not_the_secret", now_ms, forged),
        "stale": sign(secret, now_ms - 301_000, forged),
        "from the future": sign(secret, now_ms + 301_000, forged),
        "no v1": f"t={now_ms}",
        "tampered body": sign(secret, now_ms, forged.replace(b"p1", b"p2")),
    }
    with httpx.Client() as client:
        for name, signature in attempts.items():
            answer = client.post(
                url,
                content=forged,
                headers={"X-Warmy-Signature": signature, "X-Warmy-Event-Id": f"forged-{name}"},
            )
            assert answer.status_code == 401, name
        assert client.post(url, content=forged).status_code == 401  # no signature at all
    assert live.stored_events() == before
    live.poll()
    assert live.outcome("p1@example.com")[1] != "bounced"
    assert live.outcome("p0@example.com")[1] == "replied"
    assert live.receiver.rejected == 6


def test_a_restart_reuses_the_registration_and_a_new_url_replaces_it(
    h: Harness, live: Live
) -> None:
    h.make()
    live.start().poll(first=True)
    [first] = h.ws()["webhooks"]
    live.stop()
    live.start()  # the same config: the same webhook, no new one
    assert h.ws()["webhooks"] == [first]
    live.event("email.opened", "p0@example.com")  # signed with the secret kept in the state
    live.poll()
    assert live.outcome("p0@example.com")[1] == "opened"
    live.stop()
    port = free_port()
    h.top["webhooks"] = {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}/"}
    live.port = port
    live.start()
    [second] = h.ws()["webhooks"]
    assert second["url"] == f"http://127.0.0.1:{port}/" and second["id"] != first["id"]
    live.event("reply.received", "p0@example.com")
    live.poll()
    assert live.outcome("p0@example.com")[1] == "replied"
    calls = h.ws()["requestsByEndpoint"]
    assert (calls["POST /webhooks"], calls["DELETE /webhooks/{id}"]) == (2, 1)


def test_stop_unenrolls_from_every_campaign_and_blocks_enrolling_until_unticked(
    h: Harness,
) -> None:
    tabs = two_campaigns(pilot_state="Running")
    tabs["Prospects"][0] = [*tabs["Prospects"][0], "Stop"]
    h.make(tabs)
    h.sync()
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "active", PILOT: "active"}
    assert h.book is not None
    h.book.set_cell("Prospects", 2, 5, True)  # p0's Stop box
    h.book.set_values(
        "Enrollments", [*h.book.values("Enrollments"), ["p1@example.com", PILOT, True]]
    )
    r = h.poll()
    assert (r.unenrolled, r.enrolled) == (2, 1)
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "unenrolled", PILOT: "unenrolled"}
    for campaign in (LAUNCH, PILOT):
        row = row_where(h, "Enrollments", Email="p0@example.com", Campaign=campaign)
        assert row["Enrollment Status"] == statuses.STOPPED
    # ticking Enrolled again (off, then on) enrolls nobody while Stop is ticked
    for enrolled in (False, True):
        h.book.set_cell("Enrollments", 2, 2, enrolled)  # p0 in Q1 Launch
        r = h.poll()
        assert r.enrolled == 0 and r.api_calls == 0
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "unenrolled", PILOT: "unenrolled"}
    assert row_where(h, "Enrollments", Email="p0@example.com", Campaign=LAUNCH)[
        "Enrollment Status"
    ] == (statuses.STOPPED)
    # unticked: the rows act as they read again
    h.book.set_cell("Prospects", 2, 5, False)
    r = h.poll()
    assert r.enrolled == 2
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "active", PILOT: "active"}
    row = row_where(h, "Enrollments", Email="p0@example.com", Campaign=PILOT)
    assert row["Enrollment Status"] == "enrolled"


def test_stop_goes_through_the_safety_brake(h: Harness) -> None:
    if h.kind == "google":
        pytest.skip("the brake is the planner's; one source is enough")
    tabs = default_tabs(12)
    tabs["Prospects"][0] = [*tabs["Prospects"][0], "Stop"]
    h.make(tabs)
    h.sync()
    assert h.book is not None
    for row in range(2, 14):
        h.book.set_cell("Prospects", row, 5, True)
    r = h.poll()
    assert r.unenrolled == 0 and r.held == 12
    status = row_where(h, "Enrollments", Email="p3@example.com")["Enrollment Status"]
    assert str(status).startswith("held: 12 of 12 enrolled would be unenrolled")
    r = h.poll(confirm_unenroll=True)
    assert r.unenrolled == 12
    assert row_where(h, "Enrollments", Email="p3@example.com")["Enrollment Status"] == (
        statuses.STOPPED
    )


def test_stop_on_reply_ticks_the_stop_box_and_unenrolls_in_the_same_poll(
    h: Harness, live: Live
) -> None:
    h.make(two_campaigns(pilot_state="Running"), stop_on_reply=True)
    live.start().poll(first=True)
    live.event("reply.received", "p0@example.com", PILOT)
    replied_at = utc_iso(h.clock)
    live.poll()
    prospect = h.row("Prospects", "Email", "p0@example.com")
    assert prospect["Stop"] is True  # the header was added, the cell written as a boolean
    assert h.book is not None and h.book.values("Prospects")[0][-1] == "Stop"
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "unenrolled", PILOT: "unenrolled"}
    assert live.outcome("p0@example.com", PILOT) == (statuses.STOPPED, "replied", replied_at)
    # a person unticks it: sheetsync does not tick it again for the same reply
    column = h.book.values("Prospects")[0].index("Stop")
    h.book.set_cell("Prospects", 2, column, False)
    live.poll()
    live.poll()
    assert h.row("Prospects", "Email", "p0@example.com")["Stop"] is False
    assert enrollments_of(h, "p0@example.com") == {LAUNCH: "active", PILOT: "active"}


def test_without_webhooks_outcome_shows_what_the_api_tells(h: Harness) -> None:
    h.make(monitor_seconds=300)
    sent_at = utc_iso(h.clock)  # step 1 goes out as the first sync starts the campaign
    h.sync()
    h.sandbox.event({"type": "email.bounced", "email": "p1@example.com"})
    h.sandbox.event({"type": "reply.received", "email": "p2@example.com"})  # needs webhooks
    h.clock.advance(300)
    r = h.sync()
    calls = h.ws()["requestsByEndpoint"]
    assert (calls["GET /prospects"], calls["GET /emails/sent"]) == (1, 1)
    assert r.api_calls == 3  # and the monitoring read
    rows = {r["Email"]: r for r in h.table("Enrollments")}
    assert (rows["p0@example.com"]["Outcome"], rows["p0@example.com"]["Last Event At"]) == (
        "sent",
        sent_at,
    )
    assert (rows["p1@example.com"]["Outcome"], rows["p1@example.com"]["Last Event At"]) == (
        "bounced",
        utc_iso(h.clock),
    )
    assert rows["p2@example.com"]["Outcome"] == "sent"
    h.clock.advance(60)
    assert h.sync().api_calls == 0  # nothing new to read until the next interval
