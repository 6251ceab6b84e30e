"""Outcome without webhooks, in a workspace of 600 more prospects: the reads go at most 5 pages a
poll and resume where they stopped; where the API has no GET /emails/sent, it is not asked again
for a day and the prospect statuses still show."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sheetsync.clock import FakeClock
from sheetsync.sandbox import Faults, Sandbox

from .conftest import Harness, seed

MONITOR = 300


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    s = seed()
    s["workspaces"][0]["prospects"] += [
        {"email": f"other{i:03d}@example.org"} for i in range(600)
    ]  # 7 pages of 100 once the sheet's prospects are there too
    return Sandbox(s, clock=clock, faults=Faults())


def outcome(h: Harness, email: str) -> object:
    return next(r for r in h.table("Enrollments") if r["Email"] == email).get("Outcome")


def calls(h: Harness, endpoint: str) -> int:
    return int(h.ws()["requestsByEndpoint"].get(endpoint, 0))


def test_the_reads_resume_where_they_stopped_five_pages_a_poll(h: Harness) -> None:
    h.make(monitor_seconds=MONITOR)
    h.sync()
    h.sandbox.event({"type": "email.bounced", "email": "p2@example.com"})  # on the last page
    h.clock.advance(MONITOR)
    h.sync()
    assert calls(h, "GET /prospects") == 5 and outcome(h, "p2@example.com") is None
    assert calls(h, "GET /emails/sent") == 0  # the 5 pages of this poll are spent
    h.clock.advance(60)
    h.sync()
    assert calls(h, "GET /prospects") == 7 and calls(h, "GET /emails/sent") == 1
    assert outcome(h, "p2@example.com") == "bounced" and outcome(h, "p0@example.com") == "sent"
    h.clock.advance(60)
    assert h.sync().api_calls == 0  # the pass is done; the next starts a monitor interval later


class NoSentEmails(httpx.BaseTransport):
    """WarmySender without GET /emails/sent (404), in front of the sandbox."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.asked = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/emails/sent"):
            self.asked += 1
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def no_sent(h: Harness) -> Iterator[NoSentEmails]:
    transport = NoSentEmails()
    h.http = httpx.Client(transport=transport)
    yield transport
    h.http.close()


def test_without_the_sent_emails_route_it_asks_once_a_day(
    h: Harness, no_sent: NoSentEmails
) -> None:
    h.make(monitor_seconds=MONITOR)
    h.sync()
    h.sandbox.event({"type": "email.unsubscribed", "email": "p0@example.com"})
    for _ in range(3):
        h.clock.advance(MONITOR)
        report = h.sync()
        assert report.errors == 0
    assert no_sent.asked == 1
    assert outcome(h, "p0@example.com") == "unsubscribed"
    assert outcome(h, "p1@example.com") is None
    h.clock.advance(86400)
    h.sync()
    assert no_sent.asked == 2
