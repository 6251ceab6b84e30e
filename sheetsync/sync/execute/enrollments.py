"""The Enrollments tab's steps: enroll/unenroll in batches of at most BATCH rows per campaign,
each row's outcome written to its status, and the campaign's enrolled count and Last Change.
Rows unenrolled for a ticked Stop box (the action's `stop` keys) say so in their status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sheetsync.api.client import Request, enroll_request, unenroll_request
from sheetsync.errors import RowError
from sheetsync.rows.records import ProspectRecord
from sheetsync.state import Intent, Item, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.plan import Action

SUPPRESSED = ("bounced", "unsubscribed", "suppressed")
BATCH = 100


def _campaign_id(ex: Executor, target: str) -> str | None | RowError:
    kind, ref = target.split(":", 1)
    if kind == "sheet":
        return ex.item("campaigns", ref).remote_id
    if any(c.id == ref for c in ex.remote_campaigns()):
        return ref
    return RowError(statuses.no_campaign(ref))


def _channel(ex: Executor, target: str) -> str | None:
    kind, ref = target.split(":", 1)
    if kind == "sheet":
        c = ex.campaigns.get(ref)
        return c.channel if c else None
    return next((c.channel for c in ex.remote_campaigns() if c.id == ref), None)


def act_enroll(ex: Executor, a: Action) -> None:
    _batch(ex, a, "enroll")


def act_unenroll(ex: Executor, a: Action) -> None:
    _batch(ex, a, "unenroll")


def _batch(ex: Executor, a: Action, op: str) -> None:
    cid = _campaign_id(ex, a.key)
    # a LinkedIn or multichannel campaign enrolls a sheet prospect once it has a profile URL
    linkedin = op == "enroll" and _channel(ex, a.key) in ("linkedin", "multichannel")
    stop = set(a.fields.get("stop", ()))
    rows: dict[str, dict[str, Any]] = {}
    waiting: list[Item] = []
    for key in a.rows:
        it = ex.item("enrollments", key)
        rec = ex.enrollments.get(key)
        h = rec.hash if rec else it.hash
        if isinstance(cid, RowError):
            it.hash = h
            it.data["target"] = a.key  # acted on again once the reference names another
            ex.set_status(it, statuses.error(cid.message))
            waiting.append(it)
            continue
        if cid is None:
            ref = a.key.split(":", 1)[1]
            named = ex.campaigns[ref].name if ref in ex.campaigns else ref
            ex.set_status(it, statuses.campaign_not_created(named))
            waiting.append(it)
            continue
        email = rec.email if rec else it.data.get("email")
        row: dict[str, Any] = {"hash": h, "email": email, "list_id": rec and rec.list_id}
        if key in stop:
            row["stop"] = True
        if email and email in ex.bad_prospects:
            ex.set_status(it, statuses.prospect_row_error(ex.bad_prospects[email]))
            waiting.append(it)
            continue
        if email and email in ex.prospects:
            p = ex.items["prospects"].get(email)
            if p is None or p.remote_id is None:
                ex.set_status(it, _why_no_prospect(ex.prospects[email], p))
                waiting.append(it)
                continue
            if linkedin and not p.data.get("body", {}).get("linkedinUrl"):
                channel = str(_channel(ex, a.key))
                ex.set_status(it, statuses.needs_linkedin(channel, ex.prospects[email].row))
                waiting.append(it)
                continue
            row["prospect_id"] = p.remote_id
            row["global_status"] = p.data.get("global_status")
        elif email is None and not row["list_id"]:
            row["prospect_id"] = it.data.get("prospect_id")
        rows[key] = row
    if waiting:
        ex.save(*waiting)
    keys = list(rows)
    for start in range(0, len(keys), BATCH):
        part = {k: rows[k] for k in keys[start : start + BATCH]}
        payload = {"target": a.key, "campaign_id": cid, "rows": part, **a.fields}  # `by`: a release
        ex.send(op, payload, fresh_key(op))


def request_enroll(b: dict[str, Any]) -> Request:
    pids, emails, lists = _ids(b["rows"])
    return enroll_request(b["campaign_id"], prospect_ids=pids, emails=emails, list_ids=lists)


def request_unenroll(b: dict[str, Any]) -> Request:
    pids, emails, _ = _ids(b["rows"])
    return unenroll_request(b["campaign_id"], prospect_ids=pids, emails=emails)


def do_enroll(ex: Executor, intent: Intent) -> None:
    b = intent.body
    res = ex.call(intent).enroll_result()
    by_id = {o.prospect_id: o.status for o in res.outcomes or () if o.prospect_id}
    by_email = {(o.email or "").lower(): o.status for o in res.outcomes or () if o.email}
    missing = {m.strip().lower() for m in res.not_found} | set(res.not_found)
    its: list[Item] = []
    enrolled = suppressed = 0
    for key, row in b["rows"].items():
        it = ex.item("enrollments", key)
        it.hash = row["hash"]
        it.data.update(target=b["target"], email=row["email"], list_id=row["list_id"])
        it.data["prospect_id"] = row.get("prospect_id")
        outcome = by_id.get(row.get("prospect_id")) or by_email.get(row["email"] or "")
        if outcome is None and missing & {row.get("prospect_id"), row["email"]}:
            outcome = "not_found"
        if outcome is None and res.outcomes is None and not row["list_id"]:
            bad = row.get("global_status") in SUPPRESSED
            outcome = "suppressed" if bad else "enrolled"
        status, active = _enroll_status(outcome, row)
        it.data["active"] = active
        enrolled += status == statuses.ENROLLED and outcome != "already_enrolled"
        suppressed += status == statuses.SUPPRESSED
        ex.set_status(it, status)
        its.append(it)
    n_enrolled = res.enrolled if res.enrolled is not None else enrolled
    n_supp = res.suppressed if res.suppressed is not None else suppressed
    ex.counts.enrolled += n_enrolled
    ex.counts.suppressed += n_supp
    _note_change(ex, b["target"], statuses.enrolled_change(n_enrolled, n_supp))
    its.extend(_bump(ex, b["target"], n_enrolled))
    ex.done(intent, *its)


def do_unenroll(ex: Executor, intent: Intent) -> None:
    b = intent.body
    res = ex.call(intent).unenroll_result()
    its: list[Item] = []
    for key, row in b["rows"].items():
        it = ex.item("enrollments", key)
        it.hash = row["hash"]
        it.data["active"] = False
        ex.set_status(it, statuses.STOPPED if row.get("stop") else statuses.UNENROLLED)
        its.append(it)
    ex.counts.unenrolled += res.unenrolled_count
    change = statuses.unenrolled_change(res.unenrolled_count, res.total_processed, b.get("by"))
    _note_change(ex, b["target"], change)
    its.extend(_bump(ex, b["target"], -res.unenrolled_count))
    ex.done(intent, *its)


def _note_change(ex: Executor, target: str, text: str) -> None:
    ex.changes.setdefault(target, []).append(text)


def _bump(ex: Executor, target: str, n: int) -> list[Item]:
    """The campaign row's enrolled count and Last Change (campaigns of this sheet only)."""
    if not target.startswith("sheet:"):
        return []
    it = ex.item("campaigns", target[6:])
    it.data["enrolled"] = max(0, int(it.data.get("enrolled", 0)) + n)
    it.data["last_change"] = ", ".join(ex.changes[target])
    return [it]


def _ids(rows: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    pids = [r["prospect_id"] for r in rows.values() if r.get("prospect_id")]
    emails = [r["email"] for r in rows.values() if r["email"] and not r.get("prospect_id")]
    lists = [r["list_id"] for r in rows.values() if r.get("list_id")]
    return pids, emails, lists


def _enroll_status(outcome: str | None, row: Mapping[str, Any]) -> tuple[str, bool]:
    if outcome in (None, "enrolled", "already_enrolled", "alreadyEnrolled"):
        return statuses.ENROLLED, True
    if outcome == "suppressed":
        return statuses.SUPPRESSED, True
    if outcome in ("not_found", "notFound"):
        return statuses.not_a_prospect(str(row["email"] or row.get("prospect_id"))), False
    return statuses.not_enrolled(str(outcome)), False


def _why_no_prospect(rec: ProspectRecord, item: Item | None) -> str:
    """The enrollment waits for its prospect: say what holds the prospect back."""
    if rec.sync_off:
        return statuses.PROSPECT_SYNC_OFF
    if item is not None and statuses.is_error(item.status):
        return statuses.prospect_row_error(rec.row)
    return statuses.PROSPECT_NOT_CREATED
