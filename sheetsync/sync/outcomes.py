"""Outcome per Enrollments row: what happened after enrolling, from WarmySender's webhook events
(or, without a receiver, from what the REST API tells: execute/outcomes.py).

An Outcome only moves forward, in RANK order: sent → opened → clicked → replied → bounced,
unsubscribed or suppressed (these three end the outreach; the first of them stays). A reply is
never overwritten by a later open. Last Event At is the time of the latest event of the row,
whichever it was (UTC, like Synced At). Events are matched to rows by the prospect's email (or
id) and the campaign: a prospect in several campaigns has one Outcome per campaign; an event
without a campaign (prospect.suppressed) applies to every row of that prospect. List ID rows
have no prospect to match and get none.

`project_events` runs at the start of each cycle: it reads the events stored since the sheet's
mark, updates the `outcomes` table and the mark in one transaction, and, with
`stop_on_reply`, remembers each replied prospect of the Prospects tab as a Stop tick to write
(`stop_ticks`), cleared once the write-back put TRUE in its Stop cell.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sheetsync.rows.records import SheetRows
from sheetsync.state import Item, StoredEvent
from sheetsync.state.base import Store
from sheetsync.sync import statuses
from sheetsync.sync.plan import enrollment_target

RANK = statuses.OUTCOMES
EVENT_OUTCOME = {
    "email.sent": "sent",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "reply.received": "replied",
    "email.bounced": "bounced",
    "email.unsubscribed": "unsubscribed",
    "prospect.suppressed": "suppressed",
}
_WHEN = ("receivedAt", "bouncedAt", "unsubscribedAt", "openedAt", "clickedAt", "sentAt",
         "suppressedAt", "timestamp", "createdAt")  # fmt: skip
KEEP_EVENTS = timedelta(days=7)  # longer than WarmySender retries (72 h): duplicates still known
EVENTS_MARK = "events"
TICKS_MARK = "stop_ticks"

Outcome = tuple[str, str]  # (outcome, Last Event At)


def advance(current: Outcome | None, outcome: str, at: str) -> Outcome:
    """The row's (Outcome, Last Event At) after one more event."""
    if current is None:
        return outcome, at
    was, was_at = current
    better = outcome if RANK.get(outcome, 0) > RANK.get(was, 0) else was
    return better, max(was_at, at)


def utc(value: object) -> str | None:
    """An ISO 8601 text or epoch number as `2026-11-26T05:03:19Z`; None when unreadable."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if value > 1e11 else value  # milliseconds or seconds
            when = datetime.fromtimestamp(seconds, UTC)
        elif isinstance(value, str) and value.strip():
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Event:
    type: str
    outcome: str
    email: str | None
    prospect_id: str | None
    campaign_id: str | None
    at: str


def read_event(stored: StoredEvent) -> Event | None:
    """The outcome an event tells, read tolerantly; None for other events and bodies that do
    not say whom it is about."""
    try:
        body = json.loads(stored.body)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    kind = str(body.get("type") or stored.type)
    outcome = EVENT_OUTCOME.get(kind)
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    if outcome is None or not isinstance(data, dict):
        return None
    email = _text(data, "prospectEmail", "prospect_email", "email")
    prospect_id = _text(data, "prospectId", "prospect_id")
    if email is None and prospect_id is None:
        return None
    at = next((u for k in _WHEN if (u := utc(data.get(k) or body.get(k)))), None)
    return Event(
        type=kind,
        outcome=outcome,
        email=email.strip().lower() if email else None,
        prospect_id=prospect_id,
        campaign_id=_text(data, "campaignId", "campaign_id"),
        at=at or utc(stored.received_at) or stored.received_at,
    )


def _text(data: Mapping[str, object], *names: str) -> str | None:
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class Rows:
    """Which Enrollments rows an event (or a REST read) is about. Indexed on first use."""

    def __init__(
        self, rows: SheetRows, campaigns: Mapping[str, Item], prospects: Mapping[str, Item]
    ) -> None:
        self._rows = rows
        self._campaigns = campaigns
        self._prospects = prospects
        self._index: dict[str, list[tuple[str, str]]] | None = None  # email -> (key, target)
        self._emails_by_id: dict[str, str] | None = None
        self._targets: dict[str, set[str]] = {}  # campaign id -> its enrollment targets

    def _by_email(self) -> dict[str, list[tuple[str, str]]]:
        if self._index is None:
            recs = {c.key: c for c in self._rows.campaigns}
            self._index = {}
            for e in self._rows.enrollments:
                if e.email:
                    target = enrollment_target(e, recs)
                    self._index.setdefault(e.email, []).append((e.key, target))
        return self._index

    def email_of(self, prospect_id: str) -> str | None:
        if self._emails_by_id is None:
            self._emails_by_id = {
                it.remote_id: key for key, it in self._prospects.items() if it.remote_id
            }
        return self._emails_by_id.get(prospect_id)

    def targets(self, campaign_id: str) -> set[str]:
        """The enrollment targets that mean this WarmySender campaign (found once per id: a
        page of events or sent emails names the same campaign again and again)."""
        found = self._targets.get(campaign_id)
        if found is None:
            found = {f"id:{campaign_id}".casefold()}  # sheet targets are casefolded already
            found |= {
                f"sheet:{k}" for k, it in self._campaigns.items() if it.remote_id == campaign_id
            }
            self._targets[campaign_id] = found
        return found

    def keys(
        self, email: str | None, prospect_id: str | None, campaign_id: str | None
    ) -> list[str]:
        who = email or (self.email_of(prospect_id) if prospect_id else None)
        rows = self._by_email().get(who or "", [])
        if campaign_id is None:
            return [key for key, _ in rows]
        targets = self.targets(campaign_id)
        return [key for key, target in rows if target.casefold() in targets]


def project_events(
    state: Store,
    sheet: str,
    rows: SheetRows,
    items: Mapping[str, Mapping[str, Item]],
    *,
    stop_on_reply: bool,
    now_iso: str,
) -> frozenset[str]:
    """Apply the events stored since the sheet's mark to its Outcomes; the emails whose Stop box
    is still to be ticked (stop_on_reply)."""
    ticks = set(json.loads(state.mark(sheet, TICKS_MARK) or "[]"))
    seq = int(state.mark(sheet, EVENTS_MARK) or 0)
    events = state.events_after(seq)
    if not events:
        return frozenset(ticks)
    match = Rows(rows, items["campaigns"], items["prospects"])
    known = state.outcomes(sheet)
    changed: dict[str, Outcome] = {}
    prospects = {p.key for p in rows.prospects}
    while events:
        for stored in events:
            event = read_event(stored)
            if event is None:
                continue
            for key in match.keys(event.email, event.prospect_id, event.campaign_id):
                changed[key] = advance(changed.get(key) or known.get(key), event.outcome, event.at)
            who = event.email or match.email_of(event.prospect_id or "")
            if stop_on_reply and event.type == "reply.received" and who in prospects:
                if who not in rows.stopped:
                    ticks.add(who)
        seq = events[-1].seq
        events = state.events_after(seq)
    with state.transaction():
        state.put_outcomes(sheet, changed)
        state.set_mark(sheet, EVENTS_MARK, str(seq))
        state.set_mark(sheet, TICKS_MARK, json.dumps(sorted(ticks)) if ticks else None)
    cutoff = datetime.strptime(now_iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - KEEP_EVENTS
    state.prune_events(cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return frozenset(ticks)


def ticked(state: Store, sheet: str, done: Iterable[str]) -> None:
    """The write-back put TRUE in these prospects' Stop cells: their ticks are done."""
    done = set(done)
    if not done:
        return
    left = set(json.loads(state.mark(sheet, TICKS_MARK) or "[]")) - done
    state.set_mark(sheet, TICKS_MARK, json.dumps(sorted(left)) if left else None)
