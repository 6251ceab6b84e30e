"""Outcome rules as pure functions: the order an Outcome moves in, times, reading events in
every shape, and which Enrollments rows an event is about."""

from __future__ import annotations

import json

import pytest

from sheetsync.state import Item, StoredEvent
from sheetsync.sync.outcomes import Rows, advance, read_event, utc
from tests.rows_helpers import parse


@pytest.mark.parametrize(
    ("events", "want"),
    [
        (["sent", "opened", "replied", "opened"], "replied"),
        (["replied", "clicked", "sent"], "replied"),
        (["opened", "bounced", "replied"], "bounced"),
        (["unsubscribed", "bounced", "suppressed"], "unsubscribed"),  # the first end stays
        (["clicked", "opened"], "clicked"),
    ],
)
def test_an_outcome_only_moves_forward(events: list[str], want: str) -> None:
    current = None
    for n, outcome in enumerate(events):
        current = advance(current, outcome, f"2026-01-0{n + 1}T00:00:00Z")
    assert current == (want, f"2026-01-0{len(events)}T00:00:00Z")


def test_last_event_at_is_the_latest_event_even_out_of_order() -> None:
    late = advance(None, "opened", "2026-01-05T00:00:00Z")
    assert advance(late, "replied", "2026-01-02T00:00:00Z") == ("replied", "2026-01-05T00:00:00Z")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("2026-11-26T05:03:19Z", "2026-11-26T05:03:19Z"),
        ("2026-11-26T06:03:19.123+01:00", "2026-11-26T05:03:19Z"),
        ("2026-11-26T05:03:19", "2026-11-26T05:03:19Z"),
        (1_795_000_000, "2026-11-18T11:06:40Z"),
        (1_795_000_000_000, "2026-11-18T11:06:40Z"),
        ("yesterday", None),
        (None, None),
        (True, None),
    ],
)
def test_times_read_as_utc(value: object, want: str | None) -> None:
    assert utc(value) == want


def stored(body: object, kind: str = "", received: str = "2026-01-01T00:00:00Z") -> StoredEvent:
    text = body if isinstance(body, str) else json.dumps(body)
    return StoredEvent(1, "evt", kind, text, received)


def test_events_are_read_in_every_shape() -> None:
    envelope = {
        "type": "reply.received",
        "data": {"prospectEmail": " Nia@Example.com ", "campaignId": "cmp_1",
                 "receivedAt": "2026-02-01T10:00:00Z"},
        "timestamp": "2026-02-01T10:00:05Z",
    }  # fmt: skip
    event = read_event(stored(envelope))
    assert event is not None
    assert (event.type, event.outcome, event.email, event.campaign_id, event.at) == (
        "reply.received",
        "replied",
        "nia@example.com",
        "cmp_1",
        "2026-02-01T10:00:00Z",
    )
    flat = read_event(stored({"prospect_id": "p9", "campaign_id": "c"}, kind="email.bounced"))
    assert flat is not None and (flat.outcome, flat.prospect_id, flat.email) == (
        "bounced",
        "p9",
        None,
    )
    assert flat.at == "2026-01-01T00:00:00Z"  # no time in the body: when it was received
    suppressed = read_event(stored({"type": "prospect.suppressed", "data": {"email": "a@b.co"}}))
    assert suppressed is not None and suppressed.campaign_id is None
    for other in (
        {"type": "limit.hit", "data": {"mailboxId": "m"}},
        {"type": "webhook.test", "data": {}},
        {"type": "email.opened", "data": {"campaignId": "c"}},  # whom?
        "not json",
        [1, 2],
    ):
        assert read_event(stored(other)) is None


def test_rows_match_by_email_or_prospect_id_and_campaign() -> None:
    rows = parse(
        prospects=[{"Email": "nia@example.com"}],
        campaigns=[{"Campaign": "Q1", "Mailboxes": "mbx_1"}],
        steps=[{"Campaign": "Q1", "Step": 1, "Subject": "s", "Body": "b"}],
        enrollments=[
            {"Email": "nia@example.com", "Campaign": "Q1", "Enrolled": True},
            {"Email": "nia@example.com", "Campaign": "CMP_Outside", "Enrolled": True},
            {"List ID": "lst_1", "Campaign": "Q1", "Enrolled": True},
        ],
    )
    campaigns = {"q1": Item("campaigns", "q1", remote_id="cmp_q1")}
    prospects = {"nia@example.com": Item("prospects", "nia@example.com", remote_id="prs_7")}
    match = Rows(rows, campaigns, prospects)
    q1, outside = "nia@example.com|q1", "nia@example.com|cmp_outside"
    assert match.keys("nia@example.com", None, "cmp_q1") == [q1]
    assert match.keys(None, "prs_7", "cmp_outside") == [outside]  # ids compare case-insensitively
    assert match.keys("nia@example.com", None, None) == [q1, outside]
    assert match.keys("nia@example.com", None, "cmp_other") == []
    assert match.keys(None, "prs_unknown", None) == []


def test_the_stop_box_is_read_even_on_a_row_with_another_problem() -> None:
    rows = parse(
        prospects=[
            {"Email": "a@example.com", "Stop": True},
            {"Email": "b@example.com", "Stop": "yes", "LinkedIn URL": "https://x.example/b"},
            {"Email": "c@example.com", "Stop": False},
            {"Email": "d@example.com", "Stop": "maybe"},
            {"Email": "", "Stop": True},
        ]
    )
    assert rows.stopped == frozenset({"a@example.com", "b@example.com"})
    problems = {i.key: i.message for i in rows.issues}
    assert set(problems) == {"d@example.com", ""}  # "": the row with no email
    assert problems["d@example.com"].startswith("Stop is 'maybe'")
    assert [p.key for p in rows.prospects] == ["a@example.com", "b@example.com", "c@example.com"]
    left_out = {p.key: p.left_out for p in rows.prospects}
    assert "LinkedIn" in left_out["b@example.com"][0]  # an optional field: left out, not held
