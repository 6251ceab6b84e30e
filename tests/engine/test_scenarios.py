"""Scenarios against the real sandbox, on both sources (xlsx and the Sheets emulator)."""

from __future__ import annotations

import random
import re
from typing import Any

import httpx
import pytest

from sheetsync.api.ratelimit import RateLimiter
from sheetsync.sandbox import Faults
from tests.engine.conftest import HEADERS, MBX, Harness, default_tabs, people

LAUNCH = "Q1 Launch"


def campaigns(h: Harness) -> list[dict[str, Any]]:
    return list(h.ws()["campaigns"])


def prospect(h: Harness, email: str) -> dict[str, Any]:
    hits = [p for p in h.ws()["prospects"] if p["email"] == email]
    assert len(hits) == 1, hits
    return dict(hits[0])


def endpoint_calls(h: Harness) -> dict[str, int]:
    return dict(h.ws()["requestsByEndpoint"])


@pytest.mark.both_stores
def test_first_sync_creates_enrolls_and_starts(h: Harness) -> None:
    h.make()
    r = h.sync()
    assert (r.prospects_created, r.campaigns_created, r.campaigns_started) == (3, 1, 1)
    assert (r.enrolled, r.errors, r.deferred, r.rows_read) == (3, 0, 0, 9)
    # read, read_keys (+ the Google source's metadata once per process); one write
    assert (r.sheets_reads, r.sheets_writes) == (2 + (h.kind == "google"), 1)
    [camp] = campaigns(h)
    assert camp["status"] == "running"
    assert (camp["sendingWindowStart"], camp["sendingWindowEnd"]) == ("09:00", "17:00")
    assert [s["stepIndex"] for s in camp["steps"]] == [0, 1]
    assert [e["status"] for e in camp["enrollments"]] == ["active"] * 3
    row = h.row("Campaigns", "Campaign", LAUNCH)
    assert row["Sync Status"] == "synced" and row["API Status"] == "running"
    assert row["Campaign ID"] == camp["id"] and row["Enrolled"] == 3
    assert row["Last Change"] == "+3 enrolled, 0 suppressed"
    assert row["Synced At"] == "2027-01-15T08:00:00Z" or str(row["Synced At"]).endswith("Z")
    p = h.row("Prospects", "Email", "p0@example.com")
    assert p["Sync Status"] == "synced"
    assert p["Prospect ID"] == prospect(h, "p0@example.com")["id"]
    assert prospect(h, "p0@example.com")["customFields"] == {"Industry": "SaaS"}
    assert {s["Sync Status"] for s in h.table("Steps")} == {"synced"}
    assert h.row("Enrollments", "Email", "p1@example.com")["Enrollment Status"] == "enrolled"


@pytest.mark.both_stores
def test_unchanged_sheet_makes_no_calls_and_no_writes(h: Harness) -> None:
    h.make()
    h.sync()
    r = h.poll()
    assert (r.api_calls, r.sheets_reads, r.sheets_writes) == (0, 1, 0)
    assert not r.changed


def test_sorting_inserting_and_deleting_rows_cause_no_api_calls(h: Harness) -> None:
    h.make(default_tabs(5))
    h.sync()
    assert h.book is not None
    h.book.sort("Prospects", 0, descending=True)
    h.book.insert("Prospects", 3, [[], []])
    h.book.delete("Prospects", 2)  # p4 goes away: kept in WarmySender (on_row_removed = keep)
    h.book.sort("Enrollments", 0, descending=True)
    r = h.poll()
    assert r.api_calls == 0
    for row in h.table("Prospects"):  # each status is still on its own row
        assert row["Prospect ID"] == prospect(h, str(row["Email"]))["id"]
    assert len(h.ws()["campaigns"][0]["enrollments"]) == 5


def test_a_cleared_status_cell_is_written_again(h: Harness) -> None:
    h.make()
    h.sync()
    before = h.row("Prospects", "Email", "p1@example.com")
    assert h.book is not None
    h.book.set_cell("Prospects", 3, 5, None)  # Sync Status of p1
    h.book.set_cell("Prospects", 3, 6, "typed over")  # Prospect ID of p1
    h.clock.advance(120)
    r = h.sync()
    assert (r.api_calls, r.sheets_writes) == (0, 1)
    after = h.row("Prospects", "Email", "p1@example.com")
    assert after == before  # Synced At too: the status did not change


@pytest.mark.both_stores
def test_crash_after_the_call_before_the_commit_creates_nothing_twice(h: Harness) -> None:
    h.make()
    crashed: list[str] = []

    def crash(response: httpx.Response) -> None:
        req = response.request
        if req.method == "POST" and req.url.path.endswith("/campaigns") and not crashed:
            crashed.append(req.url.path)
            raise KeyboardInterrupt("killed right after POST /campaigns was answered")

    with h.through(httpx.Client(event_hooks={"response": [crash]})):
        with pytest.raises(KeyboardInterrupt):
            h.sync()
    assert len(campaigns(h)) == 1 and crashed
    r = h.sync()  # replays the open intent with the same key: the server answers the original
    assert len(campaigns(h)) == 1
    assert r.campaigns_started == 1 and r.enrolled == 3
    assert len(h.ws()["prospects"]) == 4 + 3
    assert h.row("Campaigns", "Campaign", LAUNCH)["Campaign ID"] == campaigns(h)[0]["id"]


@pytest.mark.both_stores
def test_lost_responses_resolve_through_the_same_key(h: Harness) -> None:
    h.make()
    h.sandbox.faults = Faults(drop_rate=0.4)
    h.sandbox._rng = random.Random(3)  # noqa: SLF001 (deterministic drops)
    r = h.sync()
    h.sandbox.faults = Faults()
    assert len(campaigns(h)) == 1
    assert len(h.ws()["prospects"]) == 4 + 3
    assert r.campaigns_created == 1 and r.prospects_created == 3
    assert len(campaigns(h)[0]["enrollments"]) == 3


@pytest.mark.both_stores
def test_safety_brake_holds_then_confirm_releases(h: Harness) -> None:
    tabs = default_tabs(12)
    h.make(tabs)
    h.sync()
    assert h.book is not None
    for row in range(2, 14):
        h.book.set_cell("Enrollments", row, 2, False)
    r = h.poll()
    assert (r.held, r.unenrolled, r.api_calls) == (12, 0, 0)
    assert str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"]).startswith("held: 12 of 12")
    assert str(h.row("Enrollments", "Email", "p3@example.com")["Enrollment Status"]).startswith(
        "held:"
    )
    assert {e["status"] for e in campaigns(h)[0]["enrollments"]} == {"active"}
    r = h.poll(confirm_unenroll=True)
    assert (r.held, r.unenrolled) == (0, 12)
    assert {e["status"] for e in campaigns(h)[0]["enrollments"]} == {"unenrolled"}
    camp = h.row("Campaigns", "Campaign", LAUNCH)
    assert camp["Sync Status"] == "synced"
    assert camp["Last Change"] == (
        "\u221212 unenrolled (12 of 12 processed), confirmed by sync --confirm-unenroll"
    )
    assert camp["Enrolled"] == 0
    assert h.row("Enrollments", "Email", "p3@example.com")["Enrollment Status"] == "unenrolled"


def test_a_few_unenrolls_pass_the_brake(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.set_cell("Enrollments", 2, 2, False)
    r = h.poll()
    assert (r.unenrolled, r.held) == (1, 0)
    statuses = {e["email"]: e["status"] for e in campaigns(h)[0]["enrollments"]}
    assert statuses["p0@example.com"] == "unenrolled"


@pytest.mark.both_stores
def test_settle_waits_one_poll(h: Harness) -> None:
    h.make(settle_polls=1)
    r = h.sync()  # the first poll of a sheet acts at once
    assert r.prospects_created == 3
    assert h.book is not None
    h.book.set_cell("Prospects", 2, 3, "Globex")
    r = h.poll()
    assert r.api_calls == 0
    status = h.row("Prospects", "Email", "p0@example.com")["Sync Status"]
    assert status == "waiting: settling (changed since the last poll)"
    r = h.poll()
    assert r.prospects_updated == 1
    assert prospect(h, "p0@example.com")["company"] == "Globex"
    assert h.row("Prospects", "Email", "p0@example.com")["Sync Status"] == "synced"


def test_changed_prospect_is_patched_with_the_whole_custom_map(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.set_cell("Prospects", 3, 4, "Fintech")
    r = h.poll()
    assert r.prospects_updated == 1 and r.api_calls == 1
    assert prospect(h, "p1@example.com")["customFields"] == {"Industry": "Fintech"}


def test_settings_change_on_a_draft_is_patched(h: Harness) -> None:
    h.make(default_tabs(state=""))
    h.sync()
    assert campaigns(h)[0]["status"] == "draft"
    assert h.book is not None
    h.book.set_cell("Campaigns", 2, 2, 80)
    r = h.poll()
    assert r.campaigns_updated == 1
    assert campaigns(h)[0]["dailySendLimit"] == 80


def test_settings_change_on_a_running_campaign_waits_for_a_pause(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.set_cell("Campaigns", 2, 2, 80)
    r = h.poll()
    assert r.api_calls == 0
    row = h.row("Campaigns", "Campaign", LAUNCH)
    assert row["Sync Status"] == (
        "waiting: pause the campaign to change its settings "
        "(Daily Send Limit: 80 in the sheet, 50 in WarmySender)"
    )
    assert campaigns(h)[0]["dailySendLimit"] == 50
    h.book.set_cell("Campaigns", 2, 5, "Paused")
    r = h.poll()  # paused, then changed, in the same poll: no poll says "pause first"
    assert (r.campaigns_paused, r.campaigns_updated) == (1, 1)
    assert campaigns(h)[0]["dailySendLimit"] == 80
    assert campaigns(h)[0]["status"] == "paused"
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"
    assert h.poll().api_calls == 0


def test_steps_changed_after_creation_explains_the_api_cannot(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.set_cell("Steps", 3, 3, "A new subject")
    r = h.poll()
    assert r.api_calls == 0 and r.errors == 1
    row = h.row("Campaigns", "Campaign", LAUNCH)
    assert str(row["Sync Status"]).startswith("error: the API cannot change the steps")
    assert {str(s["Sync Status"])[:6] for s in h.table("Steps")} == {"error:"}


@pytest.mark.both_stores
def test_pause_and_resume(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.set_cell("Campaigns", 2, 5, "Paused")
    r = h.poll()
    assert r.campaigns_paused == 1 and campaigns(h)[0]["status"] == "paused"
    assert h.row("Campaigns", "Campaign", LAUNCH)["API Status"] == "paused"
    h.book.set_cell("Campaigns", 2, 5, "Running")
    r = h.poll()
    assert r.campaigns_started == 1 and campaigns(h)[0]["status"] == "running"


def test_monitoring_refreshes_progress_at_most_every_monitor_seconds(h: Harness) -> None:
    h.make(monitor_seconds=300)
    h.sync()
    h.clock.advance(100)
    assert h.sync().api_calls == 0
    h.clock.advance(250)
    r = h.sync()
    calls = endpoint_calls(h)
    assert calls["GET /campaigns/{id}"] == 1
    # without [webhooks], the Outcome reads come on the same cadence (sync/execute/outcomes.py)
    assert (calls["GET /prospects"], calls["GET /emails/sent"]) == (1, 1) and r.api_calls == 3


def test_lost_state_file_rebuilds_without_duplicates(h: Harness) -> None:
    h.make()
    h.sync()
    h.restart()
    for f in (h.tmp_path / "state").iterdir():
        f.unlink()
    r = h.poll()
    assert len(campaigns(h)) == 1
    assert len(h.ws()["prospects"]) == 4 + 3
    assert r.campaigns_created == 0 and r.errors == 0
    assert len(campaigns(h)[0]["enrollments"]) == 3
    camp = h.row("Campaigns", "Campaign", LAUNCH)
    assert (camp["Sync Status"], camp["Enrolled"], camp["API Status"]) == ("synced", 3, "running")
    assert h.row("Enrollments", "Email", "p0@example.com")["Enrollment Status"] == "enrolled"
    assert h.poll().api_calls == 0


def test_sync_log_gets_one_row_per_changing_cycle_newest_first(h: Harness) -> None:
    h.make()
    h.sync()
    h.poll()  # changes nothing: no log row
    assert h.book is not None
    h.book.insert("Prospects", 5, people(4, start=3))
    h.book.insert("Enrollments", 5, [["p3@example.com", LAUNCH, True]])
    h.poll()
    log = h.table("Sync Log")
    assert len(log) == 2
    assert (log[0]["Created"], log[0]["Enrolled"]) == (1, 1)
    assert (log[1]["Created"], log[1]["Enrolled"]) == (4, 3)
    assert str(log[0]["Campaign Changes"]).endswith("Q1 Launch: +1 enrolled, 0 suppressed")


def test_rows_get_clear_errors(h: Harness) -> None:
    tabs = default_tabs()
    tabs["Campaigns"].append(["Old Box", "old@outreach-demo.example", 10, "", "", ""])
    tabs["Steps"].append(["Old Box", 1, 0, "Hi", "<p>x</p>"])
    tabs["Campaigns"].append(["No Steps", MBX, 10, "", "", ""])
    tabs["Enrollments"].append(["p0@example.com", "Nope", True])
    tabs["Enrollments"].append(["bounced@globex.example", LAUNCH, True])
    tabs["Prospects"].append(["not-an-email", "X"])
    h.make(tabs)
    r = h.sync()
    assert h.row("Campaigns", "Campaign", "Old Box")["Sync Status"] == (
        "error: mailbox old@outreach-demo.example is disconnected: reconnect it in WarmySender"
    )
    assert str(h.row("Campaigns", "Campaign", "No Steps")["Sync Status"]).startswith(
        "waiting: add at least one row in the Steps tab"
    )
    nope = [e for e in h.table("Enrollments") if e["Campaign"] == "Nope"][0]
    assert nope["Enrollment Status"] == (
        "error: no campaign 'Nope': use a name from the Campaigns tab or a WarmySender campaign id"
    )
    bounced = h.row("Enrollments", "Email", "bounced@globex.example")
    assert bounced["Enrollment Status"] == "suppressed"
    assert r.suppressed == 1
    bad = h.row("Prospects", "Email", "not-an-email")
    assert str(bad["Sync Status"]).startswith("error: ")
    assert r.errors == 3
    again = h.poll()
    assert again.api_calls == 0 and again.errors == 3


def test_backlog_progresses_poll_by_poll_at_a_low_rate(h: Harness) -> None:
    tabs = default_tabs(0)
    tabs["Prospects"] = [HEADERS["Prospects"], *people(1000)]
    h.make(tabs)
    h.sandbox._workspaces[0].rate_limit = 150  # noqa: SLF001 (a low plan: 150 calls a minute)
    h.limiter = RateLimiter(150, clock=h.clock)
    deferred = []
    for _ in range(12):
        r = h.sync()
        deferred.append(r.deferred)
        if not r.deferred:
            break
        h.clock.advance(60)
    assert deferred[0] > 0 and deferred[-1] == 0 and len(deferred) >= 6
    assert deferred == sorted(deferred, reverse=True) and len(set(deferred)) == len(deferred)
    assert endpoint_calls(h)["POST /prospects"] == 1000  # nothing redone
    waiting = [p for p in h.table("Prospects") if p["Sync Status"] != "synced"]
    assert waiting == []


def test_rows_sorted_between_read_and_write_get_their_own_status(h: Harness) -> None:
    h.make(default_tabs(4))
    assert h.book is not None
    book = h.book
    h.before_read_keys = lambda: book.sort("Prospects", 0, descending=True)
    h.sync()
    for row in h.table("Prospects"):
        assert row["Prospect ID"] == prospect(h, str(row["Email"]))["id"]
        assert row["Sync Status"] == "synced"


def test_a_header_moved_between_read_and_write_skips_the_write_then_heals(h: Harness) -> None:
    h.make()
    assert h.book is not None
    book = h.book

    def move_header() -> None:
        book.set_cell("Prospects", 1, 9, "Notes")  # a person adds a column

    h.before_read_keys = move_header
    r = h.sync()
    assert r.prospects_created == 3 and r.sheets_writes == 0
    h.restart()
    h.before_read_keys = None
    r = h.poll()
    assert r.api_calls == 0 and r.sheets_writes == 1
    assert h.row("Prospects", "Email", "p2@example.com")["Sync Status"] == "synced"


@pytest.mark.both_stores
def test_enroll_unenroll_enroll_uses_fresh_keys(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.set_cell("Enrollments", 2, 2, False)
    assert h.poll().unenrolled == 1
    h.book.set_cell("Enrollments", 2, 2, True)
    r = h.poll()
    assert r.enrolled == 1
    statuses = {e["email"]: e["status"] for e in campaigns(h)[0]["enrollments"]}
    assert statuses["p0@example.com"] == "active"
    assert h.row("Enrollments", "Email", "p0@example.com")["Enrollment Status"] == "enrolled"


def test_duplicate_emails_the_first_row_wins(h: Harness) -> None:
    tabs = default_tabs(2)
    tabs["Prospects"].append(["p0@example.com", "Again"])
    h.make(tabs)
    r = h.sync()
    assert r.prospects_created == 2 and r.errors == 1
    rows = [p for p in h.table("Prospects") if p["Email"] == "p0@example.com"]
    assert rows[0]["Sync Status"] == "synced"
    assert rows[1]["Sync Status"] == "error: duplicate of row 2"


def test_new_prospect_is_created_then_enrolled_in_the_same_cycle(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.insert("Prospects", 2, [["new@example.com", "New"]])
    h.book.insert("Enrollments", 2, [["new@example.com", LAUNCH, True]])
    r = h.poll()
    assert (r.prospects_created, r.enrolled) == (1, 1)
    assert h.row("Enrollments", "Email", "new@example.com")["Enrollment Status"] == "enrolled"


class Refuse(httpx.BaseTransport):
    """WarmySender answering `status` to `method` on the paths matching the pattern `part`;
    everything else goes to the sandbox."""

    def __init__(
        self, method: str, part: str, status: int, code: str, message: str = "refused by the test"
    ) -> None:
        self.inner = httpx.HTTPTransport()
        self.method, self.part, self.status, self.code = method, part, status, code
        self.message = message

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == self.method and re.search(self.part, request.url.path):
            body = {"error": {"code": self.code, "message": self.message}}
            return httpx.Response(self.status, json=body)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.both_stores
def test_a_fatal_refusal_stops_the_cycle_but_writes_back_what_was_done(h: Harness) -> None:
    from sheetsync.errors import AuthError

    h.make()
    # the key is revoked between the prospects and the campaigns of one cycle
    with h.through(httpx.Client(transport=Refuse("POST", "/campaigns$", 401, "unauthorized"))):
        with pytest.raises(AuthError):
            h.sync()
    assert len(h.ws()["prospects"]) == 4 + 3 and campaigns(h) == []
    assert h.row("Prospects", "Email", "p0@example.com")["Sync Status"] == "synced"


def test_progress_is_reported(h: Harness) -> None:
    h.make()
    seen: list[tuple[int, int]] = []
    h.sync(progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] and len(seen) == seen[-1][1]


def test_prospect_change_without_an_update_route_says_it_was_not_sent(h: Harness) -> None:
    h.make()
    refuse = Refuse("PATCH", "/prospects/[^/]+$", 405, "method_not_allowed")
    with h.through(httpx.Client(transport=refuse)):
        h.sync()
        assert h.book is not None
        h.book.set_cell("Prospects", 2, 3, "Globex")
        r = h.poll()
        assert r.prospects_updated == 0 and r.errors == 1  # never `synced` while it differs
        status = str(h.row("Prospects", "Email", "p0@example.com")["Sync Status"])
        assert status.startswith("error: not sent") and "HTTP 405" in status
        assert prospect(h, "p0@example.com")["company"] == "Acme"
        assert h.poll().api_calls == 0  # not retried until the row changes again
        h.book.set_cell("Prospects", 2, 3, "Acme")  # the old value back: in step again
        r = h.poll()
        assert (r.api_calls, r.errors) == (0, 0)
        assert h.row("Prospects", "Email", "p0@example.com")["Sync Status"] == "synced"


def test_enrolling_an_email_warmysender_does_not_know_is_a_clear_error(h: Harness) -> None:
    tabs = default_tabs(1)
    tabs["Enrollments"].append(["nobody@nowhere.example", LAUNCH, True])
    tabs["Enrollments"].append(["lena@umbrella.example", LAUNCH, True])  # known, not in the tab
    h.make(tabs)
    r = h.sync()
    assert h.row("Enrollments", "Email", "nobody@nowhere.example")["Enrollment Status"] == (
        "error: nobody@nowhere.example is not a WarmySender prospect: add it to the Prospects tab"
    )
    assert h.row("Enrollments", "Email", "lena@umbrella.example")["Enrollment Status"] == "enrolled"
    assert r.enrolled == 2 and r.errors == 1


def test_removed_rows_unenroll_only_when_configured(h: Harness) -> None:
    h.make(on_row_removed="unenroll")
    h.sync()
    assert h.book is not None
    h.book.delete("Enrollments", 2)
    r = h.poll()
    assert r.unenrolled == 1
    statuses = {e["email"]: e["status"] for e in campaigns(h)[0]["enrollments"]}
    assert statuses["p0@example.com"] == "unenrolled"


def test_removed_rows_are_kept_by_default(h: Harness) -> None:
    h.make()
    h.sync()
    assert h.book is not None
    h.book.delete("Enrollments", 2)
    assert h.poll().api_calls == 0
    assert {e["status"] for e in campaigns(h)[0]["enrollments"]} == {"active"}


def test_a_future_start_date_schedules_the_campaign(h: Harness) -> None:
    tabs = default_tabs()
    tabs["Campaigns"][0].append("Start Date")
    tabs["Campaigns"][1].append("2099-01-01")
    h.make(tabs)
    r = h.sync()
    assert r.campaigns_started == 1
    assert campaigns(h)[0]["status"] == "scheduled"
    assert h.row("Campaigns", "Campaign", LAUNCH)["API Status"] == "scheduled"


def test_sync_log_is_kept_to_log_rows(h: Harness) -> None:
    h.make(log_rows=2)
    h.sync()
    assert h.book is not None
    for i in range(3, 6):
        h.book.insert("Prospects", 2, people(i + 1, start=i))
        h.poll()
    log = h.table("Sync Log")
    assert len(log) == 2
    assert [row["Created"] for row in log] == [1, 1]
    assert log[0]["Time"] > log[1]["Time"]  # type: ignore[operator]


def test_an_enrollment_says_what_holds_its_prospect_back(h: Harness) -> None:
    tabs = default_tabs(3)
    tabs["Prospects"] = [
        [*HEADERS["Prospects"], "Sync", "LinkedIn URL"],
        ["p0@example.com", "First0", "Last0", "Acme", "SaaS", True, ""],
        ["p1@example.com", "First1", "Last1", "Acme", "SaaS", False, ""],
        ["p2@example.com", "First2", "Last2", "Acme", "SaaS", True, "https://x.com/p2"],
    ]
    h.make(tabs)
    h.sync()
    status = {
        e: h.row("Enrollments", "Email", f"{e}@example.com")["Enrollment Status"]
        for e in ("p0", "p1", "p2")
    }
    assert status["p0"] == "enrolled"
    assert status["p1"] == "waiting: the prospect's Sync box is not ticked in the Prospects tab"
    # an unusable optional field does not hold the prospect (or its email enrollment) back
    assert status["p2"] == "enrolled"
    assert h.row("Prospects", "Email", "p2@example.com")["Sync Status"] == (
        "synced: left out: LinkedIn URL 'https://x.com/p2' is not a LinkedIn profile URL; use "
        "the profile's address, like https://www.linkedin.com/in/<profile>"
    )
    assert "linkedinUrl" not in h.ws()["prospects"][2] or not h.ws()["prospects"][2]["linkedinUrl"]


@pytest.mark.both_stores
def test_a_long_429_defers_the_work_instead_of_failing(h: Harness) -> None:
    """WarmySender answers 429 past the client's retry deadline (another integration spent the
    workspace's budget): the cycle ends normally with its work waiting for the next poll."""
    h.make()
    h.sandbox.faults = Faults(burst_429=10_000)
    r = h.sync()
    assert r.deferred > 0 and r.prospects_created == 0
    row = h.row("Prospects", "Email", "p0@example.com")
    assert row["Sync Status"] == "waiting: rate budget spent; continues next poll"
    h.sandbox.faults = Faults()
    h.clock.advance(120)
    r = h.poll()
    assert (r.prospects_created, r.deferred) == (3, 0)
    assert len(campaigns(h)) == 1 and len(h.ws()["prospects"]) == 4 + 3
