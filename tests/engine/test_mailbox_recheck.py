"""A campaign refused for a mailbox is checked again every monitor_seconds (one GET /mailboxes
per cycle, only when such a check is due), so fixing the mailbox in WarmySender is enough."""

from __future__ import annotations

from typing import Any

import httpx

from tests.engine.conftest import Harness, default_tabs

OLD = "old@outreach-demo.example"  # disconnected, sending disabled in the demo seed
MONITOR = 600


def set_mailbox(h: Harness, **changes: Any) -> dict[str, Any]:
    """Fix the mailbox "in WarmySender", through the sandbox's admin route."""
    with httpx.Client(base_url=h.server.root_url) as admin:
        response = admin.post("/_sandbox/mailboxes", json={"email": OLD, **changes})
    assert response.status_code == 200, response.text
    box: dict[str, Any] = response.json()
    return box


def mailbox_reads(h: Harness) -> int:
    return int(h.ws()["requestsByEndpoint"].get("GET /mailboxes", 0))


def status(h: Harness) -> object:
    return h.row("Campaigns", "Campaign", "Q1 Launch")["Sync Status"]


def test_fixing_the_mailbox_in_warmysender_gets_the_campaign_created(h: Harness) -> None:
    tabs = default_tabs()
    tabs["Campaigns"][1][1] = OLD
    h.make(tabs, monitor_seconds=MONITOR)
    r = h.sync()
    assert (r.prospects_created, r.campaigns_created, r.errors) == (3, 0, 1)
    assert status(h) == f"error: mailbox {OLD} is disconnected: reconnect it in WarmySender"
    assert mailbox_reads(h) == 1 and h.ws()["campaigns"] == []

    # not due yet: an unchanged sheet still costs nothing
    for _ in range(MONITOR // 60 - 1):
        assert h.poll().api_calls == 0

    set_mailbox(h, connected=True)  # half fixed: sending is still off
    r = h.poll()  # monitor_seconds since the refusal: checked again, one call
    assert (r.api_calls, r.campaigns_created) == (1, 0)
    assert mailbox_reads(h) == 2
    assert status(h) == f"error: mailbox {OLD} has sending disabled: turn sending on in WarmySender"

    set_mailbox(h, sendingEnabled=True)
    assert h.poll().api_calls == 0  # the last check was one poll ago
    h.clock.advance(MONITOR - 2 * 60)
    r = h.poll()
    assert (r.campaigns_created, r.campaigns_started, r.enrolled, r.errors) == (1, 1, 3, 0)
    assert mailbox_reads(h) == 3
    [camp] = h.ws()["campaigns"]
    assert camp["status"] == "running" and camp["mailboxIds"] == ["mbx_demo_3"]
    assert status(h) == "synced"
    assert h.row("Enrollments", "Email", "p0@example.com")["Enrollment Status"] == "enrolled"
    assert h.poll().api_calls == 0  # created: no more mailbox checks


def test_a_still_broken_mailbox_is_read_once_per_cycle_for_all_its_campaigns(
    h: Harness,
) -> None:
    tabs = default_tabs(state="Draft")
    tabs["Campaigns"][1][1] = OLD
    tabs["Campaigns"].append(["Q2 Launch", OLD, 10, "", "", "Draft"])
    tabs["Steps"].append(["Q2 Launch", 1, 0, "Hi", "<p>x</p>"])
    h.make(tabs, monitor_seconds=MONITOR)
    h.sync()
    assert mailbox_reads(h) == 1
    h.clock.advance(MONITOR)
    r = h.poll()
    assert (r.api_calls, r.campaigns_created, r.errors) == (1, 0, 2)
    assert mailbox_reads(h) == 2


def test_an_unchanged_sheet_without_refusals_never_checks_mailboxes(h: Harness) -> None:
    h.make(default_tabs(state="Draft"), monitor_seconds=MONITOR)
    assert h.sync().campaigns_created == 1
    reads = mailbox_reads(h)
    assert h.poll().api_calls == 0
    for _ in range(3):
        h.clock.advance(5 * MONITOR)
        assert h.poll().api_calls == 1  # the draft's monitor read, nothing else
    assert mailbox_reads(h) == reads


def test_sandbox_mailbox_route_refuses_unknown_mailboxes_and_non_booleans(h: Harness) -> None:
    with httpx.Client(base_url=h.server.root_url) as admin:
        unknown = admin.post("/_sandbox/mailboxes", json={"email": "x@y.example"})
        bad = admin.post("/_sandbox/mailboxes", json={"email": OLD, "connected": "yes"})
    assert (unknown.status_code, bad.status_code) == (404, 422)
    assert set_mailbox(h, connected=True)["connected"] is True
