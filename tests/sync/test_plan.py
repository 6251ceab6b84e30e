"""make_plan (sync/plan.py) on literal rows and state: what each kind of row turns into, in order
prospects -> campaigns -> enrollments -> start/pause -> monitoring, and the notes it sets
without an API call."""

from __future__ import annotations

import dataclasses
from typing import Any

from sheetsync.config import SheetConfig
from sheetsync.rows.records import (
    CampaignRecord,
    CampaignState,
    EnrollmentRecord,
    ProspectRecord,
    SheetRows,
    StepRecord,
)
from sheetsync.state import Item
from sheetsync.sync import statuses
from sheetsync.sync.plan import HOLDS, Action, Note, Plan, make_plan
from tests.rows_helpers import make_sheet

NOW = 1_800_000_000.0
SHEET = make_sheet()
ROLES = ("prospects", "campaigns", "steps", "enrollments", HOLDS)


def prospect(key: str, h: str, row: int = 2, **body: Any) -> ProspectRecord:
    return ProspectRecord(row, key, {"email": key, **body}, h)


def campaign(
    key: str,
    h: str = "c1",
    *,
    row: int = 2,
    mailboxes: tuple[str, ...] = ("mbx_1",),
    steps: int = 1,
    state: CampaignState | None = None,
    **settings: Any,
) -> CampaignRecord:
    step_records = tuple(
        StepRecord(row + i, key, i + 1, 0, "Hi", "<p>Hi</p>", "<p>Hi</p>") for i in range(steps)
    )
    return CampaignRecord(
        row, key, key.title(), settings, mailboxes, "email", state, step_records, h, "s1", h
    )


def enrollment(email: str, campaign_ref: str, enrolled: bool, h: str, row: int = 2) -> Any:
    key = f"{email}|{campaign_ref.casefold()}"
    return EnrollmentRecord(row, key, email, None, campaign_ref, enrolled, h)


def plan(
    rows: SheetRows,
    known: dict[str, list[Item]] | None = None,
    sheet: SheetConfig = SHEET,
    *,
    first_poll: bool = False,
    confirm: bool = False,
    unchanged: dict[str, set[str]] | None = None,
) -> Plan:
    items: dict[str, dict[str, Item]] = {r: {} for r in ROLES}
    for role, its in (known or {}).items():
        items[role] = {it.key: it for it in its}
    return make_plan(
        rows,
        items,
        sheet,
        first_poll=first_poll,
        confirm_unenroll=confirm,
        now=NOW,
        unchanged=unchanged,
    )


def done(role: str, key: str, h: str, status: str = statuses.SYNCED, **kw: Any) -> Item:
    """An item acted on with content `h` and settled there."""
    return Item(role, key, hash=h, seen_hash=h, status=status, synced_at="t0", **kw)


def test_a_new_prospect_is_created_an_edited_one_updated_with_only_what_changed() -> None:
    rows = SheetRows(
        prospects=[
            prospect("new@x.io", "n1", firstName="Nia"),
            prospect("old@x.io", "o2", row=3, firstName="Ola", company="Globex"),
            prospect("same@x.io", "s1", row=4),
        ]
    )
    sent = {"email": "old@x.io", "firstName": "Ola", "company": "Acme", "role": "CEO"}
    known = {
        "prospects": [
            Item("prospects", "new@x.io", seen_hash="n1", settle=1),  # seen once: settled now
            Item("prospects", "old@x.io", "o1", "o2", 1, "synced", "t0", "prs_1", {"body": sent}),
            done("prospects", "same@x.io", "s1", remote_id="prs_2"),
        ]
    }
    got = plan(rows, known)
    assert got.actions == [
        Action("create_prospect", "new@x.io", fields={"email": "new@x.io", "firstName": "Nia"}),
        # Role is blank in the row: an empty cell never clears WarmySender's data
        Action("update_prospect", "old@x.io", fields={"company": "Globex"}),
    ]
    assert got.notes == []
    assert got.diffs["prospects"].changes["same@x.io"].kind == "unchanged"


def test_a_row_changed_since_the_last_poll_settles_first_and_the_first_poll_does_not() -> None:
    rows = SheetRows(prospects=[prospect("a@x.io", "a2", firstName="Ann")])
    sent = {"body": {"email": "a@x.io", "firstName": "Anne"}}
    known = {"prospects": [done("prospects", "a@x.io", "a1", remote_id="prs_1", data=sent)]}
    assert plan(rows, known).notes == [Note("prospects", "a@x.io", statuses.SETTLING)]
    assert plan(rows, known).actions == []
    no_settle = dataclasses.replace(SHEET, settle_polls=0)
    assert [a.kind for a in plan(rows, known, no_settle).actions] == ["update_prospect"]
    assert [a.kind for a in plan(SheetRows(prospects=rows.prospects), first_poll=True).actions] == [
        "create_prospect"
    ]


def test_a_changed_prospect_whose_body_is_as_sent_is_only_marked_done() -> None:
    body = {"email": "a@x.io", "firstName": "Ann"}
    rows = SheetRows(prospects=[prospect("a@x.io", "a2", firstName="Ann")])
    item = Item("prospects", "a@x.io", hash="a1", seen_hash="a2", settle=0, status="exists")
    item.remote_id, item.data = "prs_1", {"body": body}
    got = plan(rows, {"prospects": [item]}, dataclasses.replace(SHEET, settle_polls=0))
    assert got.actions == []
    assert got.notes == [Note("prospects", "a@x.io", "exists", done=True)]


def test_campaigns_wait_for_a_mailbox_and_a_step_then_are_created_and_started() -> None:
    sheet = dataclasses.replace(SHEET, settle_polls=0)
    rows = SheetRows(
        campaigns=[
            campaign("no boxes", mailboxes=(), row=2),
            campaign("no steps", steps=0, row=3),
            campaign("q1", state="running", row=4),
        ]
    )
    got = plan(rows, sheet=sheet)
    assert got.notes == [
        Note("campaigns", "no boxes", statuses.waiting_to_create("a mailbox in Mailboxes")),
        Note(
            "campaigns", "no steps", statuses.waiting_to_create("at least one row in the Steps tab")
        ),
    ]
    assert got.actions == [
        Action("create_campaign", "q1"),
        Action("start", "q1", fields={"wanted": "running"}),
    ]


def test_settings_change_while_running_asks_to_pause_and_while_paused_is_sent() -> None:
    sheet = dataclasses.replace(SHEET, settle_polls=0)
    rows = SheetRows(campaigns=[campaign("q1", "c2", dailySendLimit=80)])

    def item(api_status: str) -> Item:
        data = {"api_status": api_status, "settings": {"dailySendLimit": 50}, "fixed": {}}
        return done("campaigns", "q1", "c1", remote_id="cmp_1", data=data)

    running = plan(rows, {"campaigns": [item("running")]}, sheet)
    pause_first = statuses.pause_first([("dailySendLimit", 80, 50)])
    assert running.notes == [Note("campaigns", "q1", pause_first)]
    assert [a.kind for a in running.actions] == ["monitor"]
    paused = plan(rows, {"campaigns": [item("paused")]}, sheet)
    assert paused.actions == [
        Action("update_campaign", "q1", fields={"dailySendLimit": 80}),
        Action("monitor", "q1"),  # never read before: a paused campaign is monitored too
    ]


def test_a_campaign_that_can_change_is_monitored_every_monitor_seconds() -> None:
    def kinds(state: str, api_status: str, ago: float) -> list[str]:
        rows = SheetRows(campaigns=[campaign("q1", state=state)])
        data = {"api_status": api_status, "monitored_at": NOW - ago, "wanted": state}
        item = done("campaigns", "q1", "c1", remote_id="cmp_1", data=data)
        return [a.kind for a in plan(rows, {"campaigns": [item]}).actions]

    for api_status in ("running", "scheduled", "paused", "draft"):
        assert kinds("running", api_status, 301) == ["monitor"], api_status
        assert kinds("running", api_status, 10) == [], api_status
    assert kinds("running", "completed", 3001) == []  # nothing can change any more
    # the pause answers with the campaign: no read of it besides
    rows = SheetRows(campaigns=[campaign("q1", state="paused")])
    data = {"api_status": "running", "monitored_at": NOW - 301, "wanted": "running"}
    item = done("campaigns", "q1", "c1", remote_id="cmp_1", data=data)
    assert plan(rows, {"campaigns": [item]}).actions == [
        Action("pause", "q1", fields={"wanted": "paused"})
    ]


def test_enrollments_are_batched_per_campaign_and_unticked_ones_unenrolled() -> None:
    sheet = dataclasses.replace(SHEET, settle_polls=0)
    rows = SheetRows(
        campaigns=[campaign("q1")],
        enrollments=[
            enrollment("a@x.io", "Q1", True, "e1", row=2),
            enrollment("b@x.io", "q1", True, "e1", row=3),
            enrollment("c@x.io", "cmp_remote", True, "e1", row=4),  # an id, not a sheet name
            enrollment("d@x.io", "Q1", False, "e2", row=5),  # was enrolled
            enrollment("e@x.io", "Q1", False, "e2", row=6),  # never was
        ],
    )
    active = {"active": True, "target": "sheet:q1"}
    known = {
        "enrollments": [
            done("enrollments", "d@x.io|q1", "e1", statuses.ENROLLED, data=active),
        ]
    }
    got = plan(rows, known, sheet)
    assert [(a.kind, a.key, a.rows) for a in got.actions] == [
        ("create_campaign", "q1", ()),
        ("enroll", "sheet:q1", ("a@x.io|q1", "b@x.io|q1")),
        ("enroll", "id:cmp_remote", ("c@x.io|cmp_remote",)),
        ("unenroll", "sheet:q1", ("d@x.io|q1",)),
    ]
    assert got.notes == [Note("enrollments", "e@x.io|q1", statuses.NOT_ENROLLED, done=True)]


def test_the_safety_brake_holds_a_mass_unenroll_until_confirmed() -> None:
    sheet = dataclasses.replace(SHEET, settle_polls=0)
    emails = [f"p{i}@x.io" for i in range(12)]
    rows = SheetRows(
        campaigns=[campaign("q1")],
        enrollments=[enrollment(e, "Q1", False, "off", row=i + 2) for i, e in enumerate(emails)],
    )
    active = {"active": True, "target": "sheet:q1"}
    known = {
        "campaigns": [
            done(
                "campaigns",
                "q1",
                "c1",
                remote_id="cmp_1",
                data={"api_status": "draft", "monitored_at": NOW},
            )
        ],
        "enrollments": [
            done("enrollments", f"{e}|q1", "on", statuses.ENROLLED, data=dict(active))
            for e in [*emails, "x@x.io", "y@x.io"]
        ],
    }
    held = plan(rows, known, sheet)
    assert held.actions == []
    message = statuses.held(12, 14, "Q1", "Confirm")
    keys = [f"{e}|q1" for e in emails]
    assert held.holds == {"sheet:q1": {"keys": keys, "status": message}}
    assert {n.status for n in held.notes} == {message} and len(held.notes) == 12
    # The next poll, confirmed by the command: the held keys are released, and only those.
    known[HOLDS] = [Item(HOLDS, "sheet:q1", data=held.holds["sheet:q1"])]
    released = plan(rows, known, sheet, confirm=True)
    assert [(a.kind, a.rows, a.fields) for a in released.actions] == [
        ("unenroll", tuple(keys), {"by": "command"})
    ]


def test_removed_rows_unenroll_only_when_configured_and_cached_rows_are_not_removed() -> None:
    active = {"active": True, "target": "sheet:q1"}
    known = {
        "enrollments": [
            done("enrollments", "gone@x.io|q1", "e1", statuses.ENROLLED, data=dict(active)),
            done("enrollments", "kept@x.io|q1", "e1", statuses.ENROLLED, data=dict(active)),
        ]
    }
    rows = SheetRows(campaigns=[campaign("q1")])
    assert plan(rows, known).actions[1:] == []  # keep (the default): nothing
    unenroll = dataclasses.replace(SHEET, on_row_removed="unenroll")
    got = plan(rows, known, unenroll, unchanged={"enrollments": {"kept@x.io|q1"}})
    assert got.diffs["enrollments"].removed == ("gone@x.io|q1",)
    assert [(a.kind, a.rows) for a in got.actions if a.kind == "unenroll"] == [
        ("unenroll", ("gone@x.io|q1",))
    ]


def test_a_copied_campaign_row_does_not_take_over_a_quiet_row_s_campaign() -> None:
    """A row pasted with another row's Campaign ID under a new name, while the original row is
    unchanged (left out of `rows` by the row cache): the original keeps its campaign, and the
    copy is a new campaign; with the original gone it would be a rename."""
    copy = dataclasses.replace(campaign("q2", row=3), remote_id="cmp_1")
    linked = done("campaigns", "q1", "c1", remote_id="cmp_1", data={"fixed": {}})
    rows = SheetRows(campaigns=[copy])
    quiet = plan(rows, {"campaigns": [linked]}, unchanged={"campaigns": {"q1"}})
    assert quiet.moved == []
    assert quiet.notes == [Note("campaigns", "q2", statuses.SETTLING)]  # a new row settles
    renamed = plan(rows, {"campaigns": [linked]})
    assert [(it.key, it.remote_id) for it in renamed.moved] == [("q2", "cmp_1"), ("q1", None)]
