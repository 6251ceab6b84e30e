"""Performs a plan through the WarmySender client, within the cycle's rate budget.

Every write is an intent: recorded in state (operation, body, Idempotency-Key) BEFORE it is
sent, and resolved together with its outcome in one transaction. Pending intents of a crashed or
cut-off cycle are replayed first with the SAME key, so the server answers with the original
result and nothing is created twice. Creates use content-derived keys; every other write gets a
fresh key per intent (`state.content_key`, `state.fresh_key`).

This module keeps the order of the work (`run`), the rate budget (`slot`), the intents (`send`,
`replay`, `done`) and the reads shared by the roles; what each role sends and how its answer
lands in state is in exec_prospects, exec_campaigns and exec_enrollments.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.models import (
    Campaign,
    Mailbox,
)
from sheetsync.clock import Clock, utc_iso
from sheetsync.errors import (
    AuthError,
    IdempotencyConflict,
    PaymentRequired,
    RateLimited,
    RetriableError,
    RowError,
    ScopeError,
    StateConflict,
)
from sheetsync.rows.records import CampaignRecord, EnrollmentRecord, ProspectRecord, SheetRows
from sheetsync.state import Intent, Item, State
from sheetsync.sync.execute.campaigns import CampaignOps
from sheetsync.sync.execute.enrollments import EnrollmentOps
from sheetsync.sync.execute.prospects import ProspectOps
from sheetsync.sync.plan import PAUSE_FIRST, Action, Plan

DEFERRED = "waiting: rate budget spent; continues next poll"


class Budget(Protocol):
    def wait_time(self) -> float: ...


class Stop(Exception):
    """Internal: the rate budget of this cycle is spent."""


@dataclass(kw_only=True)
class Counts:
    """The counters of one cycle (engine.CycleReport extends them; this order is theirs in
    `sync --json`). `errors` is counted by the engine, every other one here."""

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
    errors: int = 0
    held: int = 0
    deferred: int = 0

    @property
    def changed(self) -> bool:
        """Whether the cycle changed anything in WarmySender (a Sync Log row is due)."""
        return any(getattr(self, f) > 0 for f in CHANGES)


CHANGES = (
    "prospects_created",
    "prospects_existing",
    "prospects_updated",
    "campaigns_created",
    "campaigns_updated",
    "campaigns_started",
    "campaigns_paused",
    "enrolled",
    "unenrolled",
    "suppressed",
)


class Executor:
    def __init__(
        self,
        api: WarmySenderClient,
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
        self.changes: dict[str, list[str]] = {}  # enrollment target -> Last Change parts
        # the first row of each key: later rows are overwritten by earlier ones (no per-row call)
        self.prospects: dict[str, ProspectRecord] = {p.key: p for p in reversed(rows.prospects)}
        # emails whose only Prospects row is in error: their enrollments wait for the fix
        self.bad_prospects: dict[str, int] = {
            i.key: i.row
            for i in rows.issues
            if i.role == "prospects" and i.key and i.key not in self.prospects
        }
        self.campaigns: dict[str, CampaignRecord] = {c.key: c for c in rows.campaigns}
        self.enrollments: dict[str, EnrollmentRecord] = {}
        for e in rows.enrollments:
            self.enrollments.setdefault(e.key, e)
        self._mailboxes: list[Mailbox] | None = None
        self._remote: list[Campaign] | None = None
        me = weakref.proxy(self)  # no executor <-> ops cycle: a cycle's rows die with it
        prospects, self.campaign_ops, enrollments = (
            ProspectOps(me),
            CampaignOps(me),
            EnrollmentOps(me),
        )
        camps = self.campaign_ops
        self._acts: dict[str, Callable[[Action], None]] = {
            "create_prospect": prospects.act_create,
            "update_prospect": prospects.act_update,
            "create_campaign": camps.act_create,
            "update_campaign": camps.act_update,
            "start": camps.act_start,
            "pause": camps.act_pause,
            "monitor": camps.act_monitor,
            "enroll": enrollments.act_enroll,
            "unenroll": enrollments.act_unenroll,
        }
        self._dos: dict[str, Callable[[Intent], None]] = {
            "create_prospect": prospects.do_create,
            "update_prospect": prospects.do_update,
            "create_campaign": camps.do_create,
            "update_campaign": camps.do_update,
            "start": camps.do_start,
            "pause": camps.do_pause,
            "enroll": enrollments.do_enroll,
            "unenroll": enrollments.do_unenroll,
        }

    # --- budget and state ----------------------------------------------------------------------

    def slot(self) -> None:
        """Raise Stop when the next call cannot start before the cycle's deadline."""
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

    # --- reads shared by the roles (at most one call each per cycle) ---------------------------

    def mailboxes(self) -> list[Mailbox]:
        if self._mailboxes is None:
            self.slot()
            self._mailboxes = list(self.api.list_mailboxes())
        return self._mailboxes

    def remote_campaigns(self) -> list[Campaign]:
        if self._remote is None:
            self.slot()
            self._remote = list(self.api.list_campaigns())
        return self._remote

    # --- intents -------------------------------------------------------------------------------

    def send(self, op: str, body: dict[str, Any], key: str) -> None:
        """Record the intent, perform it, apply the outcome and resolve it in one commit."""
        self.slot()
        intent_id = self.state.add_intent(self.sheet, op, body, key)
        self._perform(Intent(intent_id, op, body, key))

    def replay(self) -> None:
        """Re-send the intents a previous cycle left open, with their original keys."""
        for intent in self.state.pending_intents(self.sheet):
            self.slot()
            self._perform(intent)

    def done(self, intent: Intent, *its: Item) -> None:
        """Save the outcome of `intent` and resolve it, in one transaction."""
        with self.state.transaction():
            for it in its:
                self.state.put(self.sheet, it)
            self.state.resolve_intent(intent.id)

    def _perform(self, intent: Intent) -> None:
        try:
            self._dos[intent.op](intent)
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
                    intent.op == "update_prospect" and exc is not None and exc.status in (404, 405)
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
                    if "wanted" in b and not isinstance(exc, PaymentRequired):
                        # a start refused for the subscription (402) is tried again next poll:
                        # renewing it in WarmySender is the fix the status asks for
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
                self._acts[action.kind](action)
            except (Stop, RateLimited):
                # a 429 that outlasts the retry deadline: WarmySender's budget is spent (others
                # share the workspace); its intent stays open and is replayed next poll
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


def _plain(exc: RowError) -> str:
    text = exc.message.rstrip(".")
    return f"{text}: {exc.fix}" if exc.fix else text
