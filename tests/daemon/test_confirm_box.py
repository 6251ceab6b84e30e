"""`sheetsync run`'s code path (the real Daemon, opening the real engine, no CLI call): a
marketer releases a held mass unenroll by ticking the campaign's Confirm box; on both sources
against the sandbox."""

from __future__ import annotations

import pytest

from sheetsync.app.daemon import Daemon
from tests.engine.conftest import Harness, h, sandbox, server  # noqa: F401 (fixtures)
from tests.engine.test_confirm import (
    campaign_row,
    confirm_tabs,
    enrollments,
    expect,
    held,
    set_enrolled,
    statuses,
    tick,
)


def test_the_box_releases_a_held_unenroll_under_run(
    h: Harness,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    h.make(confirm_tabs(12))
    daemon = Daemon(h.config, clock=h.clock)
    request.addfinalizer(daemon.close)  # the daemon keeps the sheet's connections open

    def poll() -> None:
        assert daemon.run_due() == [("test", "ok")]
        h.clock.advance(h.config.sheets[0].poll_seconds)

    poll()
    assert enrollments(h) == expect(h, set(), 12)
    set_enrolled(h, range(12), False)
    poll()
    assert campaign_row(h)["Sync Status"] == held(12, 12)
    assert set(statuses(h).values()) == {held(12, 12)}
    assert enrollments(h) == expect(h, set(), 12)

    tick(h)
    poll()
    assert enrollments(h) == expect(h, set(range(12)), 12)
    row = campaign_row(h)
    assert row["Confirm"] is False
    assert row["Sync Status"] == "synced" and row["Enrolled"] == 0
    assert row["Last Change"] == "\u221212 unenrolled (12 of 12 processed), confirmed in the sheet"
    assert set(statuses(h).values()) == {"unenrolled"}
    assert "confirmed in the sheet" in str(h.table("Sync Log")[0]["Campaign Changes"])

    before = h.ws()["requestsByEndpoint"]
    poll()  # nothing left to do: the cleared box is no edit
    assert h.ws()["requestsByEndpoint"] == before
