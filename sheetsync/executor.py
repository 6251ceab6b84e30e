"""Performs a plan through the WarmySender client, within the cycle's rate budget.

Every write is an intent: recorded in state (operation, body, Idempotency-Key) BEFORE it is
sent, and resolved together with its outcome in one transaction. Pending intents of a crashed or
cut-off cycle are replayed first with the SAME key, so the server answers with the original
result and nothing is created twice. Creates use content-derived keys; every other write gets a
fresh key per intent (an enroll → unenroll → enroll within the server's key lifetime must not be
answered by the replay of the first enroll).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sheetsync.api.models import (
    Campaign,
    EnrollResult,
    Mailbox,
    ProspectResult,
    UnenrollResult,
)
from sheetsync.clock import Clock, utc_iso
from sheetsync.errors import (
    AuthError,
    IdempotencyConflict,
    RetriableError,
    RowError,
    ScopeError,
    StateConflict,
)
from sheetsync.planner import PAUSE_FIRST, RUNNING, Action, Plan
from sheetsync.records import CampaignRecord, EnrollmentRecord, ProspectRecord, SheetRows
from sheetsync.state import Intent, Item, State

DEFERRED = "waiting: rate budget spent; continues next poll"
SUPPRESSED = ("bounced", "unsubscribed", "suppressed")
BATCH = 100


class Api(Protocol):
    """The part of `sheetsync.api.client.WarmySenderClient` the executor uses."""

    def list_mailboxes(self) -> Sequence[Mailbox]: ...
    def create_prospect(self, body: dict[str, Any], *, idempotency_key: str) -> ProspectResult: ...
    def update_prospect(
        self, prospect_id: str, body: dict[str, Any], *, idempotency_key: str
    ) -> object: ...
    def create_campaign(self, body: dict[str, Any], *, idempotency_key: str) -> Campaign: ...
    def list_campaigns(self) -> Sequence[Campaign]: ...
    def get_campaign(self, campaign_id: str) -> Campaign: ...
    def update_campaign(
        self, campaign_id: str, body: dict[str, Any], *, idempotency_key: str
    ) -> Campaign: ...
    def start_campaign(self, campaign_id: str, *, idempotency_key: str) -> Campaign: ...
    def pause_campaign(self, campaign_id: str, *, idempotency_key: str) -> Campaign: ...
    def enroll(
        self,
        campaign_id: str,
        *,
        prospect_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        list_ids: Sequence[str] = (),
        idempotency_key: str,
    ) -> EnrollResult: ...
    def unenroll(
        self,
        campaign_id: str,
        *,
        prospect_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        idempotency_key: str,
    ) -> UnenrollResult: ...


class Budget(Protocol):
    def wait_time(self) -> float: ...


class Stop(Exception):
    """Internal: the rate budget of this cycle is spent."""


@dataclass
class Counts:
    prospects_created: int = 0
    prospects_existing: int = 0
    prospects_updated: int = 0
    campaigns_created: int = 0
    campaigns_updated: int = 0
    campaigns_started: int = 0
    campaigns_paused: int = 0
    enrolled: int = 0
    unenrolled: int = 0
    suppressed: int = 0
    held: int = 0
    deferred: int = 0
    changes: dict[str, list[str]] = field(default_factory=dict)  # campaign key -> Last Change


def digest(*parts: object) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Executor:
    def __init__(
        self,
        api: Api,
        state: State,
        sheet: str,
        rows: SheetRows,
        items: Mapping[str, dict[str, Item]],
        *,
        clock: Clock,
        limiter: Budget | None,
        deadline: float,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.api = api
        self.state = state
        self.sheet = sheet
        self.items = items
        self.clock = clock
        self.limiter = limiter
        self.deadline = deadline
        self.progress = progress
        self.counts = Counts()
        self.prospects: dict[str, ProspectRecord] = {}
        for p in rows.prospects:
            self.prospects.setdefault(p.key, p)
        self.campaigns = {c.key: c for c in rows.campaigns}
        self.enrollments: dict[str, EnrollmentRecord] = {}
        for e in rows.enrollments:
            self.enrollments.setdefault(e.key, e)
        self._mailboxes: list[Mailbox] | None = None
        self._remote: list[Campaign] | None = None

    # --- plumbing ------------------------------------------------------------------------------

    def _slot(self, calls: int = 1) -> None:
        """Raise Stop when the next `calls` calls cannot start before the cycle's deadline."""
        remaining = self.deadline - self.clock.monotonic()
        wait = self.limiter.wait_time() if self.limiter is not None else 0.0
        if remaining <= 0 or wait > remaining:
            raise Stop

    def item(self, role: str, key: str) -> Item:
        found = self.items[role].get(key)
        if found is None:
            found = Item(role, key)
            self.items[role][key] = found
        return found

    def set_status(self, it: Item, status: str) -> None:
        if it.status != status or not it.synced_at:
            it.status = status
            it.synced_at = utc_iso(self.clock)

    def save(self, *its: Item) -> None:
        with self.state.transaction():
            for it in its:
                self.state.put(self.sheet, it)

    def send(self, op: str, body: dict[str, Any], key: str) -> None:
        """Record the intent, perform it, apply the outcome and resolve it in one commit."""
        self._slot()
        intent_id = self.state.add_intent(self.sheet, op, body, key)
        self._perform(Intent(intent_id, op, body, key))

    def replay(self) -> None:
        """Re-send the intents a previous cycle left open, with their original keys."""
        for intent in self.state.pending_intents(self.sheet):
            self._slot()
            self._perform(intent)

    def _perform(self, intent: Intent) -> None:
        handler = getattr(self, f"_do_{intent.op}")
        try:
            handler(intent)
        except (AuthError, ScopeError):
            self.state.resolve_intent(intent.id)  # refused before any work: nothing to replay
            raise
        except RetriableError:
            raise  # may have been done: left open, replayed next cycle with the same key
        except IdempotencyConflict as exc:
            self._fail(intent, f"error: internal error, please report it: {exc.message}")
        except RowError as exc:
            self._fail(intent, f"error: {_plain(exc)}", exc)

    def _fail(self, intent: Intent, status: str, exc: RowError | None = None) -> None:
        b = intent.body
        with self.state.transaction():
            if intent.op in ("enroll", "unenroll"):
                for key, row in b["rows"].items():
                    it = self.item("enrollments", key)
                    it.hash = row["hash"]
                    self.set_status(it, status)
                    self.state.put(self.sheet, it)
            else:
                role = "prospects" if intent.op.endswith("prospect") else "campaigns"
                it = self.item(role, b["key"])
                if intent.op == "update_campaign" and isinstance(exc, StateConflict):
                    self.set_status(it, PAUSE_FIRST)  # started under us: not done yet
                elif (
                    intent.op == "update_prospect"
                    and exc is not None
                    and exc.status
                    in (
                        404,
                        405,
                    )
                ):
                    it.hash = b["hash"]
                    self.set_status(
                        it,
                        "synced: change not sent: WarmySender has no route to update a "
                        f"prospect (HTTP {exc.status}); change it in WarmySender",
                    )
                else:
                    if b.get("hash"):
                        it.hash = b["hash"]
                    if "wanted" in b:
                        it.data["wanted"] = b["wanted"]
                    self.set_status(it, status)
                self.state.put(self.sheet, it)
            self.state.resolve_intent(intent.id)

    # --- the plan ------------------------------------------------------------------------------

    def run(self, plan: Plan) -> None:
        """Perform the actions in order; on a spent budget, mark the rest deferred."""
        work = [a for a in plan.actions if a.kind != "want"]
        for a in plan.actions:
            if a.kind == "want":
                it = self.item("campaigns", a.key)
                it.data["wanted"] = a.fields["wanted"]
                self.save(it)
        for i, action in enumerate(work):
            try:
                getattr(self, f"_act_{action.kind}")(action)
            except Stop:
                self._defer(work[i:])
                return
            if self.progress is not None:
                self.progress(i + 1, len(work))

    def _defer(self, rest: list[Action]) -> None:
        for a in rest:
            if a.kind == "monitor":
                continue
            if a.kind in ("enroll", "unenroll"):
                its = [self.item("enrollments", k) for k in a.rows]
            else:
                role = "prospects" if a.kind.endswith("prospect") else "campaigns"
                its = [self.item(role, a.key)]
            for it in its:
                self.set_status(it, DEFERRED)
            self.counts.deferred += len(its)
            self.save(*its)

    # --- prospects -----------------------------------------------------------------------------

    def _act_create_prospect(self, a: Action) -> None:
        r = self.prospects[a.key]
        key = f"create-prospect:{digest(r.key, r.body)}"
        self.send("create_prospect", {"key": r.key, "body": r.body, "hash": r.hash}, key)

    def _do_create_prospect(self, intent: Intent) -> None:
        b = intent.body
        res = self.api.create_prospect(b["body"], idempotency_key=intent.idempotency_key)
        it = self.item("prospects", b["key"])
        it.remote_id = res.prospect.id
        it.hash = b["hash"]
        it.data["body"] = b["body"]
        it.data["global_status"] = res.prospect.status
        self.set_status(it, "synced" if res.created else "exists")
        if res.created:
            self.counts.prospects_created += 1
        else:
            self.counts.prospects_existing += 1
        self._done(intent, it)

    def _act_update_prospect(self, a: Action) -> None:
        r = self.prospects[a.key]
        it = self.item("prospects", a.key)
        body = {"key": r.key, "id": it.remote_id, "fields": a.fields, "body": r.body}
        body["hash"] = r.hash
        self.send("update_prospect", body, f"update-prospect:{uuid.uuid4().hex}")

    def _do_update_prospect(self, intent: Intent) -> None:
        b = intent.body
        self.api.update_prospect(b["id"], b["fields"], idempotency_key=intent.idempotency_key)
        it = self.item("prospects", b["key"])
        it.hash = b["hash"]
        it.data["body"] = b["body"]
        self.set_status(it, "synced")
        self.counts.prospects_updated += 1
        self._done(intent, it)

    def _done(self, intent: Intent, *its: Item) -> None:
        with self.state.transaction():
            for it in its:
                self.state.put(self.sheet, it)
            self.state.resolve_intent(intent.id)

    # --- campaigns -----------------------------------------------------------------------------

    def mailboxes(self) -> list[Mailbox]:
        if self._mailboxes is None:
            self._slot()
            self._mailboxes = list(self.api.list_mailboxes())
        return self._mailboxes

    def remote_campaigns(self) -> list[Campaign]:
        if self._remote is None:
            self._slot()
            self._remote = list(self.api.list_campaigns())
        return self._remote

    def resolve_mailboxes(self, c: CampaignRecord) -> list[str] | str:
        """Mailbox ids, or the `error:` status saying which mailbox is wrong."""
        ids: list[str] = []
        boxes = self.mailboxes()
        for ref in c.mailboxes:
            want = ref.strip().casefold()
            box = next((m for m in boxes if want in (m.id.casefold(), m.email.casefold())), None)
            if box is None:
                return (
                    f"error: no mailbox {ref!r} in WarmySender; use a mailbox id or address "
                    f"from WarmySender > Mailboxes"
                )
            if not box.connected:
                return f"error: mailbox {box.email} is disconnected: reconnect it in WarmySender"
            if not box.sending_enabled:
                return (
                    f"error: mailbox {box.email} has sending disabled: turn sending on in "
                    f"WarmySender"
                )
            ids.append(box.id)
        return ids

    def _act_create_campaign(self, a: Action) -> None:
        c = self.campaigns[a.key]
        it = self.item("campaigns", a.key)
        if it.remote_id is None and not it.data.get("looked_up"):
            match = [x for x in self.remote_campaigns() if x.name.strip().casefold() == c.key]
            if match:  # the state file was lost: adopt the campaign of that name
                self._adopt(it, c, match[0])
                return
        boxes = self.resolve_mailboxes(c)
        if isinstance(boxes, str):
            it.hash = c.hash
            self.set_status(it, boxes)
            self.save(it)
            return
        body: dict[str, Any] = {"name": c.name, "channel": c.channel, "mailboxIds": boxes}
        body["steps"] = [
            {
                "stepIndex": s.number - 1,
                "subject": s.subject,
                "bodyHtml": s.body_html,
                "delayDays": s.delay_days,
            }
            for s in c.steps
        ]
        body.update(c.settings)
        key = f"create-campaign:{digest(self.sheet, c.key, body)}"
        payload = {"key": c.key, "body": body, "hash": c.hash}
        payload.update(settings=c.settings, steps_hash=c.steps_hash)
        self.send("create_campaign", payload, key)
        self._patch_window(c.key)

    def _adopt(self, it: Item, c: CampaignRecord, remote: Campaign) -> None:
        it.remote_id = remote.id
        it.hash = c.hash
        it.data.update(settings=c.settings, steps_hash=c.steps_hash, api_status=remote.status)
        self._stats(it, remote)
        it.data["monitored_at"] = self.clock.time()
        if remote.status in ("running", "active", "scheduled", "paused"):
            it.data["wanted"] = "paused" if remote.status == "paused" else "running"
        self.set_status(it, "synced")
        self.save(it)

    def _do_create_campaign(self, intent: Intent) -> None:
        b = intent.body
        camp = self.api.create_campaign(b["body"], idempotency_key=intent.idempotency_key)
        it = self.item("campaigns", b["key"])
        it.remote_id = camp.id
        it.hash = b["hash"]
        it.data.update(settings=b["settings"], steps_hash=b["steps_hash"])
        it.data.update(api_status=camp.status, stats=dict(camp.stats), enrolled=0)
        self.set_status(it, "synced")
        self.counts.campaigns_created += 1
        window = {
            k: v
            for k, v in b["settings"].items()
            if k in ("sendingWindowStart", "sendingWindowEnd") and camp.raw.get(k) != v
        }
        if window:  # the create body does not carry the sending window: PATCH it right after
            it.data["window_pending"] = window
        self._done(intent, it)

    def _patch_window(self, key: str) -> None:
        it = self.item("campaigns", key)
        window = it.data.get("window_pending")
        if it.remote_id is None or not window:
            return
        payload = {"key": key, "id": it.remote_id, "fields": window, "hash": it.hash}
        payload.update(settings=it.data["settings"], window=True)
        self.send("update_campaign", payload, f"update-campaign:{uuid.uuid4().hex}")

    def _act_update_campaign(self, a: Action) -> None:
        c = self.campaigns[a.key]
        it = self.item("campaigns", a.key)
        if a.fields.get("window_pending"):
            self._patch_window(a.key)
            return
        payload = {"key": c.key, "id": it.remote_id, "fields": a.fields, "hash": c.hash}
        payload["settings"] = c.settings
        self.send("update_campaign", payload, f"update-campaign:{uuid.uuid4().hex}")

    def _do_update_campaign(self, intent: Intent) -> None:
        b = intent.body
        camp = self.api.update_campaign(
            b["id"], b["fields"], idempotency_key=intent.idempotency_key
        )
        it = self.item("campaigns", b["key"])
        it.hash = b["hash"]
        it.data["settings"] = b["settings"]
        it.data["api_status"] = camp.status
        it.data.pop("window_pending", None)
        self.set_status(it, "synced")
        if not b.get("window"):
            self.counts.campaigns_updated += 1
        self._done(intent, it)

    def _act_start(self, a: Action) -> None:
        self._state_change(a, "start")

    def _act_pause(self, a: Action) -> None:
        self._state_change(a, "pause")

    def _state_change(self, a: Action, op: str) -> None:
        it = self.item("campaigns", a.key)
        if it.remote_id is None:
            return  # not created (error or deferred): its status already says why
        running = str(it.data.get("api_status", "")) in RUNNING
        if (op == "start") == running:  # already so (e.g. adopted by name after a lost state)
            it.data["wanted"] = a.fields["wanted"]
            self.save(it)
            return
        payload = {"key": a.key, "id": it.remote_id, "wanted": a.fields["wanted"]}
        self.send(op, payload, f"{op}-campaign:{uuid.uuid4().hex}")

    def _do_start(self, intent: Intent) -> None:
        b = intent.body
        camp = self.api.start_campaign(b["id"], idempotency_key=intent.idempotency_key)
        self.counts.campaigns_started += 1
        self._changed_state(intent, camp)

    def _do_pause(self, intent: Intent) -> None:
        b = intent.body
        camp = self.api.pause_campaign(b["id"], idempotency_key=intent.idempotency_key)
        self.counts.campaigns_paused += 1
        self._changed_state(intent, camp)

    def _changed_state(self, intent: Intent, camp: Campaign) -> None:
        it = self.item("campaigns", intent.body["key"])
        it.data.update(wanted=intent.body["wanted"], api_status=camp.status)
        it.data["monitored_at"] = self.clock.time()
        self._stats(it, camp)
        if it.status.startswith("error:"):
            self.set_status(it, "synced")
        self._done(intent, it)

    @staticmethod
    def _stats(it: Item, camp: Campaign) -> None:
        """Progress counts from the server; its enrolled count wins over ours when it has one."""
        if camp.stats:
            it.data["stats"] = dict(camp.stats)
            if isinstance(camp.stats.get("enrolled"), int):
                it.data["enrolled"] = camp.stats["enrolled"]

    def _act_monitor(self, a: Action) -> None:
        it = self.item("campaigns", a.key)
        self._slot()
        camp = self.api.get_campaign(str(it.remote_id))
        it.data["api_status"] = camp.status
        self._stats(it, camp)
        it.data["monitored_at"] = self.clock.time()
        self.save(it)

    # --- enrollments ---------------------------------------------------------------------------

    def _campaign_id(self, target: str) -> str | None | RowError:
        kind, ref = target.split(":", 1)
        if kind == "sheet":
            return self.item("campaigns", ref).remote_id
        if any(c.id == ref for c in self.remote_campaigns()):
            return ref
        return RowError(
            f"no campaign {ref!r}: use a name from the Campaigns tab or a WarmySender campaign id"
        )

    def _act_enroll(self, a: Action) -> None:
        self._batch(a, "enroll")

    def _act_unenroll(self, a: Action) -> None:
        self._batch(a, "unenroll")

    def _batch(self, a: Action, op: str) -> None:
        cid = self._campaign_id(a.key)
        rows: dict[str, dict[str, Any]] = {}
        waiting: list[Item] = []
        for key in a.rows:
            it = self.item("enrollments", key)
            rec = self.enrollments.get(key)
            h = rec.hash if rec else it.hash
            if isinstance(cid, RowError):
                it.hash = h
                self.set_status(it, f"error: {cid.message}")
                waiting.append(it)
                continue
            if cid is None:
                name = a.key.split(":", 1)[1]
                self.set_status(it, f"waiting: campaign {name!r} is not created yet")
                waiting.append(it)
                continue
            email = rec.email if rec else it.data.get("email")
            row: dict[str, Any] = {"hash": h, "email": email, "list_id": rec and rec.list_id}
            if email and email in self.prospects:
                p = self.items["prospects"].get(email)
                if p is None or p.remote_id is None:
                    self.set_status(it, "waiting: the prospect is not created yet")
                    waiting.append(it)
                    continue
                row["prospect_id"] = p.remote_id
                row["global_status"] = p.data.get("global_status")
            elif email is None and not row["list_id"]:
                row["prospect_id"] = it.data.get("prospect_id")
            rows[key] = row
        if waiting:
            self.save(*waiting)
        keys = list(rows)
        for start in range(0, len(keys), BATCH):
            part = {k: rows[k] for k in keys[start : start + BATCH]}
            payload = {"target": a.key, "campaign_id": cid, "rows": part}
            self.send(op, payload, f"{op}:{uuid.uuid4().hex}")

    @staticmethod
    def _ids(rows: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[str], list[str]]:
        pids = [r["prospect_id"] for r in rows.values() if r.get("prospect_id")]
        emails = [r["email"] for r in rows.values() if r["email"] and not r.get("prospect_id")]
        lists = [r["list_id"] for r in rows.values() if r.get("list_id")]
        return pids, emails, lists

    def _do_enroll(self, intent: Intent) -> None:
        b = intent.body
        pids, emails, lists = self._ids(b["rows"])
        res = self.api.enroll(
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
            it = self.item("enrollments", key)
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
            self.set_status(it, status)
            its.append(it)
        n_enrolled = res.enrolled if res.enrolled is not None else enrolled
        n_supp = res.suppressed if res.suppressed is not None else suppressed
        self.counts.enrolled += n_enrolled
        self.counts.suppressed += n_supp
        self._note_change(b["target"], f"+{n_enrolled} enrolled, {n_supp} suppressed")
        its.extend(self._bump(b["target"], n_enrolled))
        self._done(intent, *its)

    def _do_unenroll(self, intent: Intent) -> None:
        b = intent.body
        pids, emails, _ = self._ids(b["rows"])
        res = self.api.unenroll(
            b["campaign_id"],
            prospect_ids=pids,
            emails=emails,
            idempotency_key=intent.idempotency_key,
        )
        its: list[Item] = []
        for key, row in b["rows"].items():
            it = self.item("enrollments", key)
            it.hash = row["hash"]
            it.data["active"] = False
            self.set_status(it, "unenrolled")
            its.append(it)
        self.counts.unenrolled += res.unenrolled_count
        k, t = res.unenrolled_count, res.total_processed
        self._note_change(b["target"], f"\u2212{k} unenrolled ({k} of {t} processed)")
        its.extend(self._bump(b["target"], -res.unenrolled_count))
        self._done(intent, *its)

    def _note_change(self, target: str, text: str) -> None:
        self.counts.changes.setdefault(target, []).append(text)

    def _bump(self, target: str, n: int) -> list[Item]:
        if not target.startswith("sheet:"):
            return []
        it = self.item("campaigns", target[6:])
        it.data["enrolled"] = max(0, int(it.data.get("enrolled", 0)) + n)
        it.data["last_change"] = ", ".join(self.counts.changes[target])
        return [it]


def _enroll_status(outcome: str | None, row: Mapping[str, Any]) -> tuple[str, bool]:
    if outcome in (None, "enrolled", "already_enrolled", "alreadyEnrolled"):
        return "enrolled", True
    if outcome == "suppressed":
        return "suppressed", True
    if outcome in ("not_found", "notFound"):
        who = row["email"] or row.get("prospect_id")
        return f"error: {who} is not a WarmySender prospect: add it to the Prospects tab", False
    return f"error: WarmySender did not enroll it ({outcome})", False


def _plain(exc: RowError) -> str:
    text = exc.message.rstrip(".")
    return f"{text}: {exc.fix}" if exc.fix else text
