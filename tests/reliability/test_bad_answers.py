"""A 2xx answer sheetsync cannot read (not JSON: a proxy's page, a truncated body) stops the
cycle, but only after the statuses of the work already done are written back; the write whose
answer was unreadable stays open and is replayed next poll with the same key and bytes."""

from __future__ import annotations

from typing import cast

import pytest

from sheetsync.api.parse import Unreadable
from sheetsync.sandbox.service import Reply
from tests.engine.conftest import Harness, default_tabs
from tests.reliability.conftest import HookedSandbox


def test_an_unreadable_2xx_writes_back_what_was_done_then_stops(hx: Harness) -> None:
    hx.make(default_tabs(3))
    sandbox = cast(HookedSandbox, hx.sandbox)
    garbled: list[str] = []

    def garble_the_enroll(method: str, route: str, reply: Reply) -> Reply:
        if route.endswith("/enrollments") and not garbled:
            garbled.append(route)
            return Reply(200, b"<html><body>OK</body></html>", reply.headers, False, reply.endpoint)
        return reply

    sandbox.after = garble_the_enroll
    with pytest.raises(Unreadable, match="it is not JSON") as caught:
        hx.sync()
    assert caught.value.exit_code == 3
    hx.restart()
    # done before the unreadable answer: on the sheet already
    assert {r["Sync Status"] for r in hx.table("Prospects")} == {"synced"}
    assert hx.row("Campaigns", "Campaign", "Q1 Launch")["Sync Status"] == "synced"
    assert {r.get("Enrollment Status") for r in hx.table("Enrollments")} == {None}
    sandbox.after = None
    r = hx.poll()
    assert r.errors == 0 and r.campaigns_started == 1
    assert {r["Enrollment Status"] for r in hx.table("Enrollments")} == {"enrolled"}
    [camp] = hx.ws()["campaigns"]
    assert len(camp["enrollments"]) == 3
