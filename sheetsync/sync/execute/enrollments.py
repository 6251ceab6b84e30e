"""The Enrollments tab's writes: enroll/unenroll in batches of at most BATCH rows per campaign,
each row's outcome written to its status, and the campaign's enrolled count and Last Change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sheetsync.errors import RowError
from sheetsync.rows.records import ProspectRecord
from sheetsync.state import Intent, Item, fresh_key
from sheetsync.sync.plan import Action

if TYPE_CHECKING:
    from sheetsync.sync.execute.executor import Executor

SUPPRESSED = ("bounced", "unsubscribed", "suppressed")
BATCH = 100


class EnrollmentOps:
    def __init__(self, ex: Executor) -> None:
        self.ex = ex

    def _campaign_id(self, target: str) -> str | None | RowError:
        kind, ref = target.split(":", 1)
        if kind == "sheet":
            return self.ex.item("campaigns", ref).remote_id
        if any(c.id == ref for c in self.ex.remote_campaigns()):
            return ref
        return RowError(
            f"no campaign {ref!r}: use a name from the Campaigns tab or a WarmySender campaign id"
        )

    def act_enroll(self, a: Action) -> None:
        self._batch(a, "enroll")

    def act_unenroll(self, a: Action) -> None:
        self._batch(a, "unenroll")

    def _batch(self, a: Action, op: str) -> None:
        ex = self.ex
        cid = self._campaign_id(a.key)
        rows: dict[str, dict[str, Any]] = {}
        waiting: list[Item] = []
        for key in a.rows:
            it = ex.item("enrollments", key)
            rec = ex.enrollments.get(key)
            h = rec.hash if rec else it.hash
            if isinstance(cid, RowError):
                it.hash = h
                ex.set_status(it, f"error: {cid.message}")
                waiting.append(it)
                continue
            if cid is None:
                name = a.key.split(":", 1)[1]
                ex.set_status(it, f"waiting: campaign {name!r} is not created yet")
                waiting.append(it)
                continue
            email = rec.email if rec else it.data.get("email")
            row: dict[str, Any] = {"hash": h, "email": email, "list_id": rec and rec.list_id}
            if email and email in ex.bad_prospects:
                row_no = ex.bad_prospects[email]
                ex.set_status(it, f"waiting: {_PROSPECT_ROW.format(row=row_no)}")
                waiting.append(it)
                continue
            if email and email in ex.prospects:
                p = ex.items["prospects"].get(email)
                if p is None or p.remote_id is None:
                    ex.set_status(it, _why_no_prospect(ex.prospects[email], p))
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
            payload = {"target": a.key, "campaign_id": cid, "rows": part}
            ex.send(op, payload, fresh_key(op))

    def do_enroll(self, intent: Intent) -> None:
        ex, b = self.ex, intent.body
        pids, emails, lists = _ids(b["rows"])
        res = ex.api.enroll(
            b["campaign_id"],
            prospect_ids=pids,
            emails=emails,
            list_ids=lists,
            idempotency_key=intent.idempotency_key,
        )
        by_id = {o.prospect_id: o.status for o in res.outcomes or () if o.prospect_id}
        by_email = {(o.email or "").lower(): o.status for o in res.outcomes or () if o.email}
        missing = {m.strip().lower() for m in res.not_found} | set(res.not_found)
        its: list[Item] = []
        enrolled = suppressed = 0
        for key, row in b["rows"].items():
            it = ex.item("enrollments", key)
            it.hash = row["hash"]
            it.data.update(target=b["target"], email=row["email"])
            it.data["prospect_id"] = row.get("prospect_id")
            outcome = by_id.get(row.get("prospect_id")) or by_email.get(row["email"] or "")
            if outcome is None and missing & {row.get("prospect_id"), row["email"]}:
                outcome = "not_found"
            if outcome is None and res.outcomes is None and not row["list_id"]:
                bad = row.get("global_status") in SUPPRESSED
                outcome = "suppressed" if bad else "enrolled"
            status, active = _enroll_status(outcome, row)
            it.data["active"] = active
            enrolled += status == "enrolled" and outcome != "already_enrolled"
            suppressed += status == "suppressed"
            ex.set_status(it, status)
            its.append(it)
        n_enrolled = res.enrolled if res.enrolled is not None else enrolled
        n_supp = res.suppressed if res.suppressed is not None else suppressed
        ex.counts.enrolled += n_enrolled
        ex.counts.suppressed += n_supp
        self._note_change(b["target"], f"+{n_enrolled} enrolled, {n_supp} suppressed")
        its.extend(self._bump(b["target"], n_enrolled))
        ex.done(intent, *its)

    def do_unenroll(self, intent: Intent) -> None:
        ex, b = self.ex, intent.body
        pids, emails, _ = _ids(b["rows"])
        res = ex.api.unenroll(
            b["campaign_id"],
            prospect_ids=pids,
            emails=emails,
            idempotency_key=intent.idempotency_key,
        )
        its: list[Item] = []
        for key, row in b["rows"].items():
            it = ex.item("enrollments", key)
            it.hash = row["hash"]
            it.data["active"] = False
            ex.set_status(it, "unenrolled")
            its.append(it)
        ex.counts.unenrolled += res.unenrolled_count
        k, t = res.unenrolled_count, res.total_processed
        self._note_change(b["target"], f"\u2212{k} unenrolled ({k} of {t} processed)")
        its.extend(self._bump(b["target"], -res.unenrolled_count))
        ex.done(intent, *its)

    def _note_change(self, target: str, text: str) -> None:
        self.ex.changes.setdefault(target, []).append(text)

    def _bump(self, target: str, n: int) -> list[Item]:
        """The campaign row's enrolled count and Last Change (campaigns of this sheet only)."""
        if not target.startswith("sheet:"):
            return []
        it = self.ex.item("campaigns", target[6:])
        it.data["enrolled"] = max(0, int(it.data.get("enrolled", 0)) + n)
        it.data["last_change"] = ", ".join(self.ex.changes[target])
        return [it]


def _ids(rows: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    pids = [r["prospect_id"] for r in rows.values() if r.get("prospect_id")]
    emails = [r["email"] for r in rows.values() if r["email"] and not r.get("prospect_id")]
    lists = [r["list_id"] for r in rows.values() if r.get("list_id")]
    return pids, emails, lists


def _enroll_status(outcome: str | None, row: Mapping[str, Any]) -> tuple[str, bool]:
    if outcome in (None, "enrolled", "already_enrolled", "alreadyEnrolled"):
        return "enrolled", True
    if outcome == "suppressed":
        return "suppressed", True
    if outcome in ("not_found", "notFound"):
        who = row["email"] or row.get("prospect_id")
        return f"error: {who} is not a WarmySender prospect: add it to the Prospects tab", False
    return f"error: WarmySender did not enroll it ({outcome})", False


_PROSPECT_ROW = "the prospect's row {row} in the Prospects tab has an error; fix it"


def _why_no_prospect(rec: ProspectRecord, item: Item | None) -> str:
    """The enrollment waits for its prospect: say what holds the prospect back."""
    if rec.sync_off:
        return "waiting: the prospect's Sync box is not ticked in the Prospects tab"
    if item is not None and item.status.startswith("error:"):
        return f"waiting: {_PROSPECT_ROW.format(row=rec.row)}"
    return "waiting: the prospect is not created yet"
