"""Outcomes without webhooks: what the REST API can tell, read within the rate budget.

Two reads that resume where they stopped (their cursor is a mark of the sheet), at most PAGES
pages per cycle and only with budget left after the cycle's own work:

- prospects: GET /prospects, page after page; a bounced, unsubscribed or suppressed prospect
  gives that Outcome to each of its Enrollments rows. A pass starts `monitor_seconds` after the
  previous one started, while the sheet has rows enrolled in a running (or scheduled) campaign
  of its Campaigns tab (the first pass `monitor_seconds` after they appear).
- sent: per campaign of the sheet whose `sent` count (monitoring reads it) grew since its last
  pass, GET /emails/sent?campaignId= gives `sent` to the rows of the prospects it lists. Where
  the API has no such route (404, 405), it is not asked again for a day.

Opens, clicks and replies only come with webhooks ([webhooks] in the config).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sheetsync.clock import utc_iso
from sheetsync.config import SheetConfig
from sheetsync.errors import NotFound, RateLimited, RowError
from sheetsync.rows.records import SheetRows
from sheetsync.state import Item
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor, Stop
from sheetsync.sync.outcomes import RANK, Outcome, Rows, advance, utc
from sheetsync.sync.plan import RUNNING, enrollment_target

PAGES = 5
NOT_OFFERED_S = 86400
PROSPECTS_MARK = "rest:prospects"
SENT_MARK = "rest:sent:"  # + campaign id
NO_SENT_MARK = "rest:sent"  # when the API answered that it has no GET /emails/sent


def refresh(ex: Executor, rows: SheetRows, sheet: SheetConfig) -> None:
    """Advance the reads that are due by at most PAGES pages (see the module docstring)."""
    running = {
        key: it
        for key, it in ex.items["campaigns"].items()
        if it.remote_id and it.data.get("api_status") in RUNNING
    }
    if not running or not _due(ex, running.values(), sheet):
        return  # (the marks say so first: the rows are scanned only when a read may happen)
    eitems = ex.items["enrollments"]
    recs = {c.key: c for c in rows.campaigns}
    live = any(
        e.email
        and (target := enrollment_target(e, recs)).startswith("sheet:")
        and target[6:] in running
        and (it := eitems.get(e.key)) is not None
        and it.status in (statuses.ENROLLED, statuses.SUPPRESSED)
        for e in rows.enrollments
    )
    if not live:
        return
    match = Rows(rows, ex.items["campaigns"], ex.items["prospects"])
    known = ex.state.outcomes(ex.sheet)  # kept current by _save as the pages are read
    budget = [PAGES]
    try:
        _prospects(ex, match, known, sheet, budget)
        for it in running.values():
            sent = (it.data.get("stats") or {}).get("sent")
            if isinstance(sent, int) and budget[0] > 0:
                _sent(ex, match, known, it.remote_id or "", sent, budget)
    except (Stop, RateLimited):
        return  # the budget is spent: the reads resume from their marks next cycle


def _due(ex: Executor, running: Iterable[Item], sheet: SheetConfig) -> bool:
    """Whether the marks let a read (or the first prospects mark) happen this cycle."""
    now = ex.clock.time()
    mark = _load(ex, PROSPECTS_MARK)
    if mark is None or _pass_due(mark, now, sheet):
        return True
    if not _sent_offered(ex, now):
        return False
    for it in running:
        sent = (it.data.get("stats") or {}).get("sent")
        if isinstance(sent, int) and _sweep_due(_sent_mark(ex, it.remote_id or ""), sent):
            return True
    return False


def _pass_due(mark: dict[str, Any], now: float, sheet: SheetConfig) -> bool:
    """A prospects pass is under way, or one is to start."""
    return bool(mark["running"]) or now - float(mark["started"]) >= sheet.monitor_seconds


def _sweep_due(mark: dict[str, Any], sent: int) -> bool:
    """A sent read of a campaign is under way, or its `sent` count grew since the last one."""
    return bool(mark["running"]) or sent > int(mark["swept"])


def _sent_mark(ex: Executor, campaign_id: str) -> dict[str, Any]:
    return _load(ex, SENT_MARK + campaign_id) or {"cursor": None, "swept": 0, "running": False}


def _sent_offered(ex: Executor, now: float) -> bool:
    """False for a day after the API answered that it has no GET /emails/sent."""
    refused = _load(ex, NO_SENT_MARK)
    return refused is None or now - float(refused["at"]) >= NOT_OFFERED_S


def _prospects(
    ex: Executor, match: Rows, known: dict[str, Outcome], sheet: SheetConfig, budget: list[int]
) -> None:
    now = ex.clock.time()
    mark = _load(ex, PROSPECTS_MARK)
    if mark is None:  # enrolled rows just appeared: the first pass waits a monitor interval
        _save(ex, PROSPECTS_MARK, {"cursor": None, "started": now, "running": False}, {}, known)
        return
    if not mark["running"] and _pass_due(mark, now, sheet):
        mark = {"cursor": None, "started": now, "running": True}
    while mark["running"] and budget[0] > 0:
        ex.slot()
        found, cursor = ex.api.prospects_page(mark["cursor"])
        budget[0] -= 1
        changed: dict[str, Outcome] = {}
        at = utc_iso(ex.clock)
        for p in found:
            if p.status not in ("bounced", "unsubscribed", "suppressed"):
                continue
            for key in match.keys(p.email.strip().lower() or None, p.id, None):
                current = changed.get(key) or known.get(key)
                if current is None or RANK[p.status] > RANK.get(current[0], 0):
                    changed[key] = advance(current, p.status, at)
        mark = {**mark, "cursor": cursor, "running": cursor is not None}
        _save(ex, PROSPECTS_MARK, mark, changed, known)


def _sent(
    ex: Executor,
    match: Rows,
    known: dict[str, Outcome],
    campaign_id: str,
    sent: int,
    budget: list[int],
) -> None:
    now = ex.clock.time()
    if not _sent_offered(ex, now):
        return
    mark = _sent_mark(ex, campaign_id)
    if not mark["running"] and _sweep_due(mark, sent):
        mark = {"cursor": None, "swept": sent, "running": True}
    while mark["running"] and budget[0] > 0:
        ex.slot()
        try:
            lines, cursor = ex.api.sent_emails_page(campaign_id, mark["cursor"])
        except RowError as exc:
            if isinstance(exc, NotFound) or exc.status == 405:
                _save(ex, NO_SENT_MARK, {"at": now}, {}, known)
                return
            raise
        budget[0] -= 1
        changed: dict[str, Outcome] = {}
        for line in lines:
            at = utc(line.sent_at) or utc_iso(ex.clock)
            for key in match.keys(line.email, line.prospect_id, campaign_id):
                current = changed.get(key) or known.get(key)
                after = advance(current, "sent", at)
                if after != current:
                    changed[key] = after
        mark = {**mark, "cursor": cursor, "running": cursor is not None}
        _save(ex, SENT_MARK + campaign_id, mark, changed, known)


def _load(ex: Executor, name: str) -> dict[str, Any] | None:
    raw = ex.state.mark(ex.sheet, name)
    value = json.loads(raw) if raw else None
    return value if isinstance(value, dict) else None


def _save(
    ex: Executor,
    name: str,
    mark: dict[str, Any],
    changed: dict[str, Outcome],
    known: dict[str, Outcome],
) -> None:
    """Store a read's new mark with the Outcomes it changed, and note them in `known`."""
    with ex.state.transaction():
        ex.state.put_outcomes(ex.sheet, changed)
        ex.state.set_mark(ex.sheet, name, json.dumps(mark))
    known.update(changed)
