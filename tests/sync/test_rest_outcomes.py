"""The Outcome reads without webhooks (sync/execute/outcomes.py) on literal rows and a real state
file: the Enrollments rows are looked through only when the marks let a read happen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sheetsync.api.client import WarmySenderClient
from sheetsync.clock import FakeClock
from sheetsync.config import Secret
from sheetsync.rows.records import CampaignRecord, EnrollmentRecord, SheetRows
from sheetsync.state import Item, State
from sheetsync.sync import statuses
from sheetsync.sync.execute import outcomes
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.execute.steps import STEPS
from tests.rows_helpers import make_sheet


class Scanned(list[EnrollmentRecord]):
    """The Enrollments rows, counting the passes over them."""

    passes = 0

    def __iter__(self) -> Iterator[EnrollmentRecord]:
        self.passes += 1
        return super().__iter__()


def test_the_rows_are_not_scanned_when_no_read_is_due(tmp_path: Path) -> None:
    clock = FakeClock()
    sheet = make_sheet()
    camp = CampaignRecord(2, "q1", "Q1", {}, ("m",), "email", "running", (), "s", "t", "c")
    enrolled = Scanned(
        EnrollmentRecord(i + 2, f"p{i}@x.io|q1", f"p{i}@x.io", None, "Q1", True, "e")
        for i in range(3)
    )
    rows = SheetRows(campaigns=[camp], enrollments=enrolled)
    running = {"api_status": "running", "stats": {"sent": 0}}
    items: dict[str, dict[str, Item]] = {
        "prospects": {},
        "campaigns": {"q1": Item("campaigns", "q1", remote_id="cmp_1", data=running)},
        "enrollments": {
            e.key: Item("enrollments", e.key, status=statuses.ENROLLED) for e in enrolled
        },
    }
    # nothing listens there: a call would fail the test
    with (
        State(tmp_path / "state.db", clock=clock) as state,
        WarmySenderClient("http://127.0.0.1:9/api/v1", Secret("k"), clock=clock) as api,
    ):

        def scans() -> int:
            """The passes outcomes.refresh makes over the rows in one cycle."""
            ex = Executor(api, state, "s", rows, items, clock=clock, limiter=None,
                          deadline=clock.monotonic() + 60, steps=STEPS)  # fmt: skip
            before = enrolled.passes
            outcomes.refresh(ex, rows, sheet)
            return enrolled.passes - before

        assert scans() == 1  # enrolled rows appeared: the first prospects pass is set
        assert state.mark("s", outcomes.PROSPECTS_MARK)
        for _ in range(3):
            clock.advance(sheet.poll_seconds)
            assert scans() == 0  # no pass due, `sent` did not grow: the rows are not read
        assert api.total_calls == 0
