"""Start and pause, refused or deferred: a refusal reads the campaign back and records its real
status (a start refused because the campaign already runs is done, not an error), and a start
that finally runs clears the `waiting:` it left behind. In process, on a FakeClock.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import cast

from sheetsync.sandbox import DEMO_KEY, Faults
from sheetsync.sandbox.service import Reply
from sheetsync.state import Item, State
from sheetsync.state.migrations import MIGRATIONS, SCHEMA_VERSION
from sheetsync.sync import statuses
from tests.engine.conftest import Harness, default_tabs
from tests.reliability.conftest import HookedSandbox

LAUNCH = "Q1 Launch"
STATE_COL = 5  # the Campaigns tab's State column (0-based)


def campaign_row(h: Harness) -> dict[str, object]:
    return h.row("Campaigns", "Campaign", LAUNCH)


def gets_of_the_campaign(h: Harness) -> int:
    return int(h.ws()["requestsByEndpoint"].get("GET /campaigns/{id}", 0))


def pressed_in_warmysender(h: Harness, action: str, then_state: str) -> None:
    """A person presses Start or Pause in WarmySender, then sets the sheet's State the same way
    (sheetsync's state still holds the campaign's status from before)."""
    cid = str(campaign_row(h)["Campaign ID"])
    auth = {"authorization": f"Bearer {DEMO_KEY}"}
    assert h.sandbox.handle("POST", f"/api/v1/campaigns/{cid}/{action}", auth, b"{}").status == 200
    assert h.book is not None
    h.book.set_cell("Campaigns", 2, STATE_COL, then_state)


def test_a_start_refused_as_already_running_is_read_back_and_synced(hx: Harness) -> None:
    """The campaign was started in WarmySender while the sheet said Draft; then the sheet says
    Running. The start is refused (409 already running): sheetsync reads the campaign back, the
    row says synced and running, and monitoring goes on as for any running campaign."""
    hx.make(default_tabs(3, state="Draft"), monitor_seconds=300)
    hx.sync()
    pressed_in_warmysender(hx, "start", "Running")
    r = hx.poll()
    assert (r.errors, r.campaigns_started) == (0, 0)
    row = campaign_row(hx)
    assert (row["Sync Status"], row["API Status"]) == (statuses.SYNCED, "running")
    reads = gets_of_the_campaign(hx)
    assert reads == 1  # the read-back
    hx.clock.advance(300)
    hx.poll()
    assert gets_of_the_campaign(hx) == reads + 1  # monitored like any running campaign
    assert hx.poll().api_calls == 0


def test_a_pause_refused_as_already_paused_is_read_back_and_synced(hx: Harness) -> None:
    hx.make()
    hx.sync()
    pressed_in_warmysender(hx, "pause", "Paused")
    r = hx.poll()
    assert (r.errors, r.campaigns_paused) == (0, 0)
    row = campaign_row(hx)
    assert (row["Sync Status"], row["API Status"]) == (statuses.SYNCED, "paused")


def test_a_refusal_keeps_the_real_status_beside_the_error(hx: Harness) -> None:
    """Completed in WarmySender, set to Paused in the sheet: the pause is refused, the row says
    why, and API Status shows what the campaign really is."""
    hx.make()
    hx.sync()
    sandbox = cast(HookedSandbox, hx.sandbox)
    [camp] = sandbox.workspace().campaigns.values()
    camp.status = "completed"
    assert hx.book is not None
    hx.book.set_cell("Campaigns", 2, STATE_COL, "Paused")
    hx.poll()
    row = campaign_row(hx)
    assert str(row["Sync Status"]).startswith("error: WarmySender refused in the resource's")
    assert row["API Status"] == "completed"


def test_a_deferred_start_says_synced_once_it_ran(hx: Harness) -> None:
    """The start meets a 429 storm longer than the retry deadline and is deferred (`waiting:
    rate budget spent`); when it runs next poll, the row says synced."""
    hx.make()
    sandbox = cast(HookedSandbox, hx.sandbox)
    storms: list[str] = []

    def storm_at_start(method: str, route: str) -> Reply | None:
        if route.endswith("/start") and not storms:
            storms.append(route)
            sandbox.faults = Faults(burst_429=10_000)
        return None

    sandbox.before = storm_at_start
    r = hx.sync()
    assert storms and r.deferred == 1 and r.campaigns_started == 0
    assert campaign_row(hx)["Sync Status"] == statuses.DEFERRED
    sandbox.faults = Faults()
    hx.clock.advance(120)
    r = hx.poll()
    assert r.campaigns_started == 1
    row = campaign_row(hx)
    assert (row["Sync Status"], row["API Status"]) == (statuses.SYNCED, "running")


def test_schema_3_forgets_the_wanted_state_of_campaigns_in_error(tmp_path: Path) -> None:
    """A row an older sheetsync left stuck (a start refused as already running, recorded as
    wanted and in error) is tried once more after the upgrade; other rows keep what they want."""
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + ";CREATE TABLE migrations (version INTEGER PRIMARY KEY, "
                     "applied_at TEXT); INSERT INTO migrations VALUES (1, 'then');")  # fmt: skip
    for key, status in (("stuck", "error: WarmySender refused …: campaign is already running"),
                        ("fine", "synced")):  # fmt: skip
        data = json.dumps({"wanted": "running", "api_status": "draft"})
        db.execute(
            "INSERT INTO items (sheet, role, key, status, remote_id, data) VALUES "
            "('s', 'campaigns', ?, ?, 'cmp', ?)",
            (key, status, data),
        )
    db.execute(
        "INSERT INTO intents (sheet, op, body, idempotency_key, created_at) "
        "VALUES ('s', 'start', '{}', 'start-campaign:1', 'then')"
    )
    db.commit()
    db.close()
    with State(path) as state:
        assert state.version == SCHEMA_VERSION
        items: dict[str, Item] = state.items("s", "campaigns")
        assert "wanted" not in items["stuck"].data
        assert items["fine"].data["wanted"] == "running"
        [intent] = state.pending_intents("s")
        assert (intent.idempotency_key, intent.content) == ("start-campaign:1", None)
