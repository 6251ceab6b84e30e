"""Scenarios against the real sandbox, on both sources (xlsx and the Sheets emulator)."""

from __future__ import annotations

from tests.engine.conftest import Harness


def test_first_sync_creates_enrolls_and_starts(h: Harness) -> None:
    h.make()
    r = h.sync()
    assert (r.prospects_created, r.campaigns_created, r.campaigns_started) == (3, 1, 1)
    assert r.enrolled == 3 and r.errors == 0 and r.deferred == 0
    ws = h.ws()
    print(ws.keys())
    camp = h.row("Campaigns", "Campaign", "Q1 Launch")
    assert camp["Sync Status"] == "synced"
    assert camp["API Status"] == "running"
    assert str(camp["Campaign ID"]).strip()
    p = h.row("Prospects", "Email", "p0@example.com")
    assert p["Sync Status"] == "synced" and p["Prospect ID"]
    e = h.row("Enrollments", "Email", "p1@example.com")
    assert e["Enrollment Status"] == "enrolled"
