"""The sheet tells the truth (issue 11), on both sources against the sandbox: a linked row is its
WarmySender object (renames), rows linked to objects made elsewhere are compared field by field,
create-only fields say they cannot change, a missing scope stops only what needs it, and the
statuses speak the sheet's language."""

from __future__ import annotations

import shutil
from typing import Any

import httpx
import pytest

from sheetsync.sandbox import DEMO_KEY
from tests.engine.conftest import HEADERS, MBX, Harness, default_tabs
from tests.engine.test_scenarios import Refuse, campaigns, endpoint_calls, prospect

LAUNCH = "Q1 Launch"
NEW = "Spring Promo 2026"
SAM = "sam@outreach-demo.example"
ENROLL = "POST /campaigns/{id}/enrollments"


def col(h: Harness, tab: str, header: str) -> int:
    assert h.book is not None
    return [str(c or "") for c in h.book.values(tab)[0]].index(header)


def set_cell(h: Harness, tab: str, row: int, header: str, value: object) -> None:
    assert h.book is not None
    h.book.set_cell(tab, row, col(h, tab, header), value)


def rename(
    h: Harness, new: str, *, tabs: tuple[str, ...] = ("Campaigns", "Steps", "Enrollments")
) -> None:
    """What a marketer does: the name typed anew wherever the campaign is named."""
    assert h.book is not None
    for tab in tabs:
        for n, row in enumerate(h.book.values(tab)[1:], start=2):
            if row and LAUNCH in row:
                h.book.set_cell(tab, n, row.index(LAUNCH), new)


def sandbox_admin(h: Harness, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{h.server.root_url}/_sandbox/{path}", json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def lose_state(h: Harness) -> None:
    h.restart()
    shutil.rmtree(h.tmp_path / "state")


def only_campaign(h: Harness) -> dict[str, Any]:
    [camp] = campaigns(h)
    return camp


def campaign_in(h: Harness, state: str, **sheet: Any) -> dict[str, Any]:
    """The sheet's campaign, made and brought to `state` (draft, paused or running)."""
    h.make(default_tabs(state="" if state == "draft" else "Running"), **sheet)
    h.sync()
    if state == "paused":
        set_cell(h, "Campaigns", 2, "State", "Paused")
        h.poll()
    camp = only_campaign(h)
    assert camp["status"] == state
    return camp


# --- identity: a renamed row is the same campaign -------------------------------------------


@pytest.mark.parametrize("state", ["draft", "paused", "running"])
def test_renaming_a_campaign_renames_it_and_enrolls_nobody_twice(h: Harness, state: str) -> None:
    camp = campaign_in(h, state)
    before = endpoint_calls(h)
    rename(h, NEW)
    r = h.poll()
    calls = endpoint_calls(h)
    for ep in ("POST /campaigns", ENROLL, "POST /campaigns/{id}/start"):
        assert calls.get(ep) == before.get(ep), ep  # nothing created, enrolled or started
    assert r.campaigns_created == r.enrolled == 0
    row = h.row("Campaigns", "Campaign", NEW)
    assert row["Campaign ID"] == camp["id"]
    if state == "running":
        assert only_campaign(h)["name"] == LAUNCH and r.api_calls == 0
        assert row["Sync Status"] == (
            "waiting: pause the campaign to change its settings "
            f"(Campaign: {NEW} in the sheet, {LAUNCH} in WarmySender)"
        )
        set_cell(h, "Campaigns", 2, "State", "Paused")
        r = h.poll()
        assert (r.campaigns_paused, r.campaigns_updated) == (1, 1)
        row = h.row("Campaigns", "Campaign", NEW)
    else:
        assert r.campaigns_updated == 1
    assert only_campaign(h)["name"] == NEW
    assert row["Sync Status"] == "synced" and row["Enrolled"] == 3
    assert [e["status"] for e in only_campaign(h)["enrollments"]] == ["active"] * 3
    assert {e["Enrollment Status"] for e in h.table("Enrollments")} == {"enrolled"}
    assert {s["Sync Status"] for s in h.table("Steps")} == {"synced"}
    assert h.poll().api_calls == 0


@pytest.mark.parametrize("first", ["Campaigns", "Enrollments"])
def test_a_rename_typed_tab_by_tab_follows_in_either_order(h: Harness, first: str) -> None:
    h.make(default_tabs(state=""), settle_polls=1)
    h.sync()
    before = endpoint_calls(h)
    rename(h, NEW, tabs=(first, "Steps") if first == "Campaigns" else (first,))
    h.poll()
    h.poll()
    rename(h, NEW)  # the other tabs, a poll later
    for _ in range(3):
        h.poll()
    calls = endpoint_calls(h)
    assert calls.get(ENROLL) == before.get(ENROLL) and calls.get("POST /campaigns") == 1
    camp = only_campaign(h)
    assert camp["name"] == NEW and len(camp["enrollments"]) == 3
    assert h.row("Campaigns", "Campaign", NEW)["Sync Status"] == "synced"
    assert {e["Enrollment Status"] for e in h.table("Enrollments")} == {"enrolled"}
    assert h.poll().api_calls == 0


def test_a_campaign_id_cell_a_person_edits_or_clears_is_restored(h: Harness) -> None:
    h.make()
    h.sync()
    cid = only_campaign(h)["id"]
    set_cell(h, "Campaigns", 2, "Campaign ID", "cmp_typed_by_hand")
    set_cell(h, "Prospects", 2, "Prospect ID", None)
    r = h.poll()
    assert r.api_calls == 0
    assert h.row("Campaigns", "Campaign", LAUNCH)["Campaign ID"] == cid
    assert (
        h.row("Prospects", "Email", "p0@example.com")["Prospect ID"]
        == (prospect(h, "p0@example.com")["id"])
    )


def test_a_copied_row_with_the_same_campaign_id_is_a_new_campaign(h: Harness) -> None:
    h.make(default_tabs(state=""))
    h.sync()
    cid = only_campaign(h)["id"]
    assert h.book is not None
    row = h.book.values("Campaigns")[1]
    h.book.insert("Campaigns", 3, [[NEW, *row[1:]]])  # Campaign ID copied along
    h.book.insert("Steps", 4, [[NEW, 1, 0, "Hi", "<p>Hi</p>"]])
    h.poll()
    assert sorted(c["name"] for c in campaigns(h)) == [LAUNCH, NEW]
    assert h.row("Campaigns", "Campaign", LAUNCH)["Campaign ID"] == cid
    assert h.row("Campaigns", "Campaign", NEW)["Campaign ID"] not in (cid, None, "")


# --- reconcile on link -----------------------------------------------------------------------


def test_a_lost_state_file_sends_what_changed_meanwhile(h: Harness) -> None:
    """Issue 13, finding 7: after the state file is deleted a create answers `exists`; the
    sheet's values are compared with WarmySender's and the differences sent, never recorded as
    sent while WarmySender kept its own."""
    h.make(default_tabs(state=""))
    h.sync()
    lose_state(h)
    set_cell(h, "Prospects", 2, "Company", "Globex")
    set_cell(h, "Campaigns", 2, "Daily Send Limit", 70)
    r = h.poll()
    # every create has a key of its own: each is answered with the prospect as it is now
    # (`exists`), never from the first create's key; only the changed one needs an update
    assert (r.prospects_existing, r.prospects_updated, r.campaigns_updated) == (3, 1, 1)
    assert len(h.ws()["prospects"]) == 4 + 3
    assert prospect(h, "p0@example.com")["company"] == "Globex"
    assert prospect(h, "p1@example.com")["company"] == "Acme"
    camp = only_campaign(h)
    assert (camp["dailySendLimit"], len(campaigns(h))) == (70, 1)
    assert [e["status"] for e in camp["enrollments"]] == ["active"] * 3
    assert {r["Sync Status"] for r in h.table("Prospects")} == {"exists"}
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"
    assert h.poll().api_calls == 0


def test_a_row_renamed_while_the_state_file_was_gone_is_found_by_its_campaign_id(
    h: Harness,
) -> None:
    h.make(default_tabs(state=""))
    h.sync()
    lose_state(h)
    rename(h, NEW)
    r = h.poll()
    camp = only_campaign(h)
    assert (camp["name"], r.campaigns_created, r.campaigns_updated) == (NEW, 0, 1)
    assert [e["status"] for e in camp["enrollments"]] == ["active"] * 3
    assert h.row("Campaigns", "Campaign", NEW)["Sync Status"] == "synced"
    assert {e["Enrollment Status"] for e in h.table("Enrollments")} == {"enrolled"}


def test_a_lost_state_file_with_a_running_campaign_waits_for_a_pause(h: Harness) -> None:
    h.make()
    h.sync()
    lose_state(h)
    set_cell(h, "Campaigns", 2, "Daily Send Limit", 70)
    h.poll()
    row = h.row("Campaigns", "Campaign", LAUNCH)
    assert row["Sync Status"] == (
        "waiting: pause the campaign to change its settings "
        "(Daily Send Limit: 70 in the sheet, 50 in WarmySender)"
    )
    assert only_campaign(h)["dailySendLimit"] == 50 and h.poll().api_calls == 0
    set_cell(h, "Campaigns", 2, "State", "Paused")
    r = h.poll()
    assert (r.campaigns_paused, r.campaigns_updated) == (1, 1)
    assert only_campaign(h)["dailySendLimit"] == 70
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"


def test_a_campaign_made_elsewhere_is_adopted_with_the_sheets_settings(h: Harness) -> None:
    """Another sheet (or a person in WarmySender) made the campaign with other settings."""
    h.make(default_tabs(state=""))
    steps = [
        {"stepIndex": 0, "subject": "Hello {{firstName}}", "bodyHtml": "<p>Hi</p>"},
        {"stepIndex": 1, "subject": "Following up", "bodyHtml": "<p>Again</p>", "delayDays": 2},
    ]
    body = {"name": LAUNCH, "mailboxIds": ["mbx_demo_2"], "steps": steps, "dailySendLimit": 9}
    with httpx.Client(base_url=h.server.base_url) as api:
        auth = {"Authorization": f"Bearer {DEMO_KEY}", "Idempotency-Key": "elsewhere"}
        assert api.post("/campaigns", json=body, headers=auth).status_code == 201
    r = h.sync()
    camp = only_campaign(h)
    assert r.campaigns_created == 0 and r.campaigns_updated == 1
    assert (camp["dailySendLimit"], camp["sendingWindowStart"]) == (50, "09:00")
    status = str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"])
    assert status.startswith("error: the API cannot change Mailboxes of a campaign that exists")
    assert f"Mailboxes: {MBX} in the sheet, {SAM} in WarmySender" in status
    assert r.errors == 1
    set_cell(h, "Campaigns", 2, "Mailboxes", SAM)  # the marketer takes WarmySender's mailbox
    r = h.poll()
    assert (r.api_calls, r.errors) == (0, 0)
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"


def test_a_second_sheet_adopts_the_campaign_with_its_own_settings(h: Harness) -> None:
    h.make(default_tabs(state=""))
    h.sync()
    (h.tmp_path / "second").mkdir()
    other = Harness(h.tmp_path / "second", h.clock, h.sandbox, h.server, h.emu, h.kind)
    tabs = default_tabs(state="")
    tabs["Campaigns"][1][2:5] = [70, "10:00", "12:00"]  # Daily Send Limit, Window Start/End
    other.make(tabs)
    try:
        r = other.sync()
        assert (r.campaigns_created, r.campaigns_updated, r.enrolled) == (0, 1, 0)
        camp = only_campaign(h)
        assert (camp["dailySendLimit"], camp["sendingWindowStart"]) == (70, "10:00")
        assert other.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"
        assert other.row("Campaigns", "Campaign", LAUNCH)["Campaign ID"] == camp["id"]
        assert len(camp["enrollments"]) == 3  # the same people: nobody enrolled twice
    finally:
        other.restart()


def test_adopted_steps_that_differ_say_the_api_cannot_change_them(h: Harness) -> None:
    h.make(default_tabs(state=""))
    steps = [{"stepIndex": 0, "subject": "Other", "bodyHtml": "<p>Other</p>"}]
    body = {"name": LAUNCH, "mailboxIds": ["mbx_demo_1"], "steps": steps}
    with httpx.Client(base_url=h.server.base_url) as api:
        auth = {"Authorization": f"Bearer {DEMO_KEY}", "Idempotency-Key": "elsewhere-steps"}
        assert api.post("/campaigns", json=body, headers=auth).status_code == 201
    r = h.sync()
    assert str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"]).startswith(
        "error: the API cannot change the steps"
    )
    assert {str(s["Sync Status"])[:6] for s in h.table("Steps")} == {"error:"}
    assert r.errors == 1
    assert h.book is not None
    h.book.set_values(  # the marketer copies WarmySender's step into the sheet
        "Steps", [h.book.values("Steps")[0], [LAUNCH, 1, 0, "Other", "<p>Other</p>"]]
    )
    r = h.poll()
    assert (r.api_calls, r.errors) == (0, 0)
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"
    assert {s["Sync Status"] for s in h.table("Steps")} == {"synced"}


def test_a_monitor_read_of_plain_text_steps_finds_them_as_sent(h: Harness) -> None:
    tabs = default_tabs()
    tabs["Steps"] = [tabs["Steps"][0], [LAUNCH, 1, 0, "Hi", "Hello there,\n\nA plain note"]]
    h.make(tabs, monitor_seconds=300)
    h.sync()
    assert "<p>" in only_campaign(h)["steps"][0]["bodyHtml"]  # sent as HTML
    h.clock.advance(300)
    r = h.sync()  # the monitor read, and the Outcome reads without webhooks (prospects, sent)
    assert (r.api_calls, r.campaigns_updated) == (3, 0)
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"
    assert {s["Sync Status"] for s in h.table("Steps")} == {"synced"}


# --- fields the API cannot change --------------------------------------------------------------


def fixed_tabs() -> dict[str, list[list[object]]]:
    tabs = default_tabs(state="")
    tabs["Campaigns"] = [
        [*HEADERS["Campaigns"], "Channel", "Timezone"],
        [LAUNCH, MBX, 50, "09:00", "17:00", "", "email", "Europe/Berlin"],
    ]
    return tabs


@pytest.mark.parametrize(
    ("header", "value", "theirs"),
    [
        ("Mailboxes", SAM, MBX),
        ("Channel", "linkedin", "email"),
        ("Timezone", "America/New_York", "Europe/Berlin"),
    ],
)
def test_a_field_the_api_cannot_change_says_so_and_is_never_synced(
    h: Harness, header: str, value: str, theirs: str
) -> None:
    h.make(fixed_tabs())
    h.sync()
    assert only_campaign(h)["timezone"] == "Europe/Berlin"
    set_cell(h, "Campaigns", 2, header, value)
    r = h.poll()
    assert r.api_calls == 0 and r.errors == 1
    assert str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"]) == (
        f"error: the API cannot change {header} of a campaign that exists ({header}: {value} "
        f"in the sheet, {theirs} in WarmySender); put WarmySender's value back, change it in "
        f"WarmySender, or add a campaign row with a new name"
    )
    set_cell(h, "Campaigns", 2, "Daily Send Limit", 60)  # what can change is still sent
    r = h.poll()
    assert r.campaigns_updated == 1 and only_campaign(h)["dailySendLimit"] == 60
    assert str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"]).startswith("error:")
    set_cell(h, "Campaigns", 2, header, theirs)
    r = h.poll()
    assert (r.api_calls, r.errors) == (0, 0)
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"


# --- the monitor read sees changes made in WarmySender ----------------------------------------


def test_a_monitor_read_finds_a_setting_changed_in_warmysender(h: Harness) -> None:
    h.make(monitor_seconds=300)
    h.sync()
    cid = only_campaign(h)["id"]
    sandbox_admin(h, "campaigns", {"id": cid, "dailySendLimit": 99})
    h.clock.advance(300)
    r = h.sync()
    assert r.api_calls == 3  # the monitor read and the Outcome reads; nothing can be sent
    row = h.row("Campaigns", "Campaign", LAUNCH)
    assert row["Sync Status"] == (
        "waiting: pause the campaign to change its settings "
        "(Daily Send Limit: 50 in the sheet, 99 in WarmySender)"
    )
    assert h.poll().api_calls == 0
    set_cell(h, "Campaigns", 2, "State", "Paused")
    r = h.poll()
    assert (r.campaigns_paused, r.campaigns_updated) == (1, 1)
    assert only_campaign(h)["dailySendLimit"] == 50
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"


def test_a_monitor_read_finds_mailboxes_changed_in_warmysender(h: Harness) -> None:
    h.make(monitor_seconds=300)
    h.sync()
    cid = only_campaign(h)["id"]
    sandbox_admin(h, "campaigns", {"id": cid, "mailboxIds": ["mbx_demo_2"]})
    h.clock.advance(300)
    h.sync()
    status = str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"])
    assert status.startswith("error: the API cannot change Mailboxes")
    assert f"{SAM} in WarmySender" in status
    sandbox_admin(h, "campaigns", {"id": cid, "mailboxIds": ["mbx_demo_1"]})  # put back there
    h.clock.advance(300)
    h.sync()
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"


def get_campaign_calls(h: Harness) -> int:
    return endpoint_calls(h).get("GET /campaigns/{id}", 0)


@pytest.mark.parametrize("state", ["draft", "paused"])
def test_a_monitor_read_of_a_campaign_not_running_sends_the_sheets_settings_back(
    h: Harness, state: str
) -> None:
    """Changed in WarmySender's app while draft or paused: the monitor read finds it and, the
    sheet being the source of truth, sends the row's values back (PATCH works then)."""
    cid = campaign_in(h, state, monitor_seconds=300)["id"]
    sandbox_admin(h, "campaigns", {"id": cid, "name": NEW, "dailySendLimit": 99})
    h.clock.advance(200)
    assert h.sync().api_calls == 0  # not due yet
    reads = get_campaign_calls(h)
    h.clock.advance(100)
    r = h.sync()
    assert get_campaign_calls(h) == reads + 1
    assert (r.api_calls, r.campaigns_updated) == (2, 1)  # the read and the PATCH
    camp = only_campaign(h)
    assert (camp["name"], camp["dailySendLimit"], camp["status"]) == (LAUNCH, 50, state)
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == "synced"
    assert h.poll().api_calls == 0


def test_a_monitor_read_of_a_paused_campaign_says_what_the_api_cannot_change(h: Harness) -> None:
    cid = campaign_in(h, "paused", monitor_seconds=300)["id"]
    sandbox_admin(h, "campaigns", {"id": cid, "mailboxIds": ["mbx_demo_2"]})
    h.clock.advance(300)
    r = h.sync()
    assert r.api_calls == 2  # the monitor read, and GET /mailboxes for the new address
    status = str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"])
    assert status.startswith("error: the API cannot change Mailboxes")
    assert f"{SAM} in WarmySender" in status


def test_a_completed_campaign_is_not_read_again(h: Harness) -> None:
    h.make(monitor_seconds=300)
    h.sync()
    cid = only_campaign(h)["id"]
    sandbox_admin(h, "campaigns", {"id": cid, "endDate": "2000-01-01"})  # ended in the app
    h.clock.advance(300)
    h.sync()
    assert only_campaign(h)["status"] == "completed"
    assert h.row("Campaigns", "Campaign", LAUNCH)["API Status"] == "completed"
    reads = get_campaign_calls(h)
    sandbox_admin(h, "campaigns", {"id": cid, "dailySendLimit": 99})
    h.clock.advance(3000)
    h.sync()
    assert get_campaign_calls(h) == reads


# --- scopes ----------------------------------------------------------------------------------


def take_scope(h: Harness, scope: str, *, give_back: bool = False) -> None:
    ws = h.sandbox._workspaces[0]  # noqa: SLF001 (edit the key's scopes as WarmySender would)
    key = ws.keys[DEMO_KEY]
    key["scopes"] = sorted({*key["scopes"], scope} if give_back else set(key["scopes"]) - {scope})


@pytest.mark.parametrize(
    ("scope", "tab", "status_header", "key_header", "key"),
    [
        ("prospects:write", "Prospects", "Sync Status", "Email", "p0@example.com"),
        ("campaigns:write", "Campaigns", "Sync Status", "Campaign", LAUNCH),
        ("campaigns:read", "Campaigns", "Sync Status", "Campaign", LAUNCH),
        ("mailboxes:read", "Campaigns", "Sync Status", "Campaign", LAUNCH),
        ("enrollments:write", "Enrollments", "Enrollment Status", "Email", "p0@example.com"),
    ],
)
def test_a_key_missing_a_scope_stops_only_what_needs_it(
    h: Harness, scope: str, tab: str, status_header: str, key_header: str, key: str
) -> None:
    h.make()
    take_scope(h, scope)
    r = h.sync()  # no exception: the rest of the cycle ran
    status = str(h.row(tab, key_header, key)[status_header])
    assert status.startswith(f"error: the WarmySender API key lacks the {scope} scope")
    assert "Settings > API Keys" in status
    ws = h.ws()
    if scope != "prospects:write":
        assert len(ws["prospects"]) == 4 + 3  # prospects were created all the same
    if scope == "enrollments:write":
        assert only_campaign(h)["status"] == "running" and r.campaigns_started == 1
    assert r.errors >= 1
    take_scope(h, scope, give_back=True)
    h.poll()
    h.poll()
    camp = only_campaign(h)
    assert camp["status"] == "running" and len(camp["enrollments"]) == 3
    assert h.row(tab, key_header, key)[status_header] in ("synced", "enrolled")


# --- smaller lies ----------------------------------------------------------------------------


def test_statuses_speak_the_sheets_language(h: Harness) -> None:
    tabs = default_tabs(1)
    tabs["Campaigns"].append(["LI Outreach", MBX, 10, "", "", ""])  # no steps yet: waits
    tabs["Enrollments"].append(["p0@example.com", "LI Outreach", True])
    tabs["Enrollments"].append(["p0@example.com", "Later", False])
    tabs["Campaigns"].append(["Later", f"{MBX}; {SAM}", 10, "", "", ""])
    tabs["Steps"].append(["Later", 1, 0, "Hi", "<p>x</p>"])
    h.make(tabs)
    h.sync()
    assert h.row("Enrollments", "Campaign", "LI Outreach")["Enrollment Status"] == (
        "waiting: campaign 'LI Outreach' is not created yet"
    )
    assert h.row("Enrollments", "Campaign", "Later")["Enrollment Status"] == "not enrolled"
    later = next(c for c in campaigns(h) if c["name"] == "Later")
    assert later["mailboxIds"] == ["mbx_demo_1", "mbx_demo_2"]  # `;` splits, as `check` says


def test_an_api_refusal_names_the_sheets_columns_and_step_numbers(h: Harness) -> None:
    h.make(default_tabs(1))
    message = "steps[1].bodyHtml has a link WarmySender blocks; dailySendLimit is over the plan"
    refuse = Refuse("POST", "/campaigns$", 422, "validation_error", message)
    with h.through(httpx.Client(transport=refuse)):
        h.sync()
    assert h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"] == (
        "error: WarmySender rejected the data: Step 2 Body has a link WarmySender blocks; "
        "Daily Send Limit is over the plan"
    )


def test_a_campaign_linked_by_an_older_sheetsync_is_read_back_when_its_row_changes(
    h: Harness,
) -> None:
    """State written before sheetsync kept what WarmySender holds (no `fixed` in the campaign's
    data): the first change of the row reads the campaign back before comparing."""
    from sheetsync.state import State

    h.make(default_tabs(state=""))
    h.sync()
    h.restart()
    with State(h.tmp_path / "state" / "state.db") as state:
        [it] = state.items("test", "campaigns").values()
        del it.data["fixed"]
        state.put("test", it)
    set_cell(h, "Campaigns", 2, "Mailboxes", SAM)
    r = h.poll()
    assert endpoint_calls(h)["GET /campaigns/{id}"] == 1 and r.campaigns_updated == 0
    assert str(h.row("Campaigns", "Campaign", LAUNCH)["Sync Status"]).startswith(
        "error: the API cannot change Mailboxes"
    )
