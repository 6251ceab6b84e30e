"""Performs a plan through the WarmySender client, within the cycle's rate budget.

Every write is an intent: recorded in state (operation, body, Idempotency-Key) BEFORE it is
sent, and resolved together with its outcome in one transaction. Pending intents of a crashed or
cut-off cycle are replayed first with the SAME key, so the server answers with the original
result and nothing is created twice. Creates use content-derived keys; every other write gets a
fresh key per intent (`state.content_key`, `state.fresh_key`).

This module keeps the order of the work (`run`), the rate budget (`slot`), the intents (`send`,
`replay`, `done`) and the reads shared by the roles; what each role sends and how its answer
lands in state are plain functions in `prospects`, `campaigns` and `enrollments`, which `steps`
maps to the action and intent kinds. The role modules import this one, never the reverse.
"""

from __future__ import annotations

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
from sheetsync.sync import statuses
from sheetsync.sync.counts import Counts
from sheetsync.sync.plan import Action, Plan

# The scope each action needs for its write (or, for a monitor, its read). A key refused for
# a scope stops only the actions that need it; the rest of the cycle runs.
SCOPES = {
    "create_prospect": "prospects:write",
    "update_prospect": "prospects:write",
    "create_campaign": "campaigns:write",
    "update_campaign": "campaigns:write",
    "start": "campaigns:write",
    "pause": "campaigns:write",
    "monitor": "campaigns:read",
    "reconcile": "campaigns:read",
    "enroll": "enrollments:write",
    "unenroll": "enrollments:write",
}


class Budget(Protocol):
    def wait_time(self) -> float: ...


class Stop(Exception):
    """Internal: the rate budget of this cycle is spent."""


@dataclass(frozen=True)
class Steps:
    """What the executor does per kind: `acts` turn a planned Action into intents (or a status),
    `dos` perform one intent's call and store its outcome (also when it is replayed)."""

    acts: Mapping[str, Callable[[Executor, Action], None]]
    dos: Mapping[str, Callable[[Executor, Intent], None]]


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
        steps: Steps,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.steps = steps
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
        self.missing_scopes: set[str] = set()  # scopes the key was refused for this cycle

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
            try:
                self._perform(intent)
            except ScopeError as exc:
                self._refused(exc, SCOPES.get(intent.op, ""), self._intent_items(intent))

    def done(self, intent: Intent, *its: Item) -> None:
        """Save the outcome of `intent` and resolve it, in one transaction."""
        with self.state.transaction():
            for it in its:
                self.state.put(self.sheet, it)
            self.state.resolve_intent(intent.id)

    def _perform(self, intent: Intent) -> None:
        try:
            self.steps.dos[intent.op](self, intent)
        except (AuthError, ScopeError):
            self.state.resolve_intent(intent.id)  # refused before any work: nothing to replay
            raise
        except RetriableError:
            raise  # may have been done: left open, replayed next cycle with the same key
        except IdempotencyConflict as exc:
            self._fail(intent, statuses.internal(exc.message))
        except RowError as exc:
            self._fail(intent, statuses.error(_plain(exc)), exc)

    def _intent_items(self, intent: Intent) -> list[Item]:
        b = intent.body
        if intent.op in ("enroll", "unenroll"):
            return [self.item("enrollments", key) for key in b["rows"]]
        return [self.item("prospects" if intent.op.endswith("prospect") else "campaigns", b["key"])]

    def _refused(self, exc: ScopeError, scope: str, its: list[Item]) -> None:
        """The key lacks a scope: the rows say which (their content is not marked as acted on,
        so they go again once the key has it)."""
        scope = exc.missing_scope or scope
        self.missing_scopes.add(scope)
        for it in its:
            self.set_status(it, statuses.missing_scope(scope))
        self.save(*its)

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
                    self.set_status(it, statuses.PAUSE_FIRST)  # started under us: not done yet
                elif (
                    intent.op == "update_prospect" and exc is not None and exc.status in (404, 405)
                ):
                    it.hash = b["hash"]
                    self.set_status(it, statuses.NO_PROSPECT_ROUTE.format(status=exc.status))
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
            scope = SCOPES.get(action.kind, "")
            try:
                if scope in self.missing_scopes:
                    raise ScopeError(statuses.missing_scope(scope), missing_scope=scope)
                self.steps.acts[action.kind](self, action)
            except ScopeError as exc:
                self._refused(exc, scope, self._action_items(action))
            except (Stop, RateLimited):
                # a 429 that outlasts the retry deadline: WarmySender's budget is spent (others
                # share the workspace); its intent stays open and is replayed next poll
                self._defer(work[i:])
                return
            if self.progress is not None:
                self.progress(i + 1, len(work))

    def _action_items(self, a: Action) -> list[Item]:
        if a.kind in ("enroll", "unenroll"):
            return [self.item("enrollments", k) for k in a.rows]
        return [self.item("prospects" if a.kind.endswith("prospect") else "campaigns", a.key)]

    def _defer(self, rest: list[Action]) -> None:
        for a in rest:
            if a.kind == "monitor":
                continue
            its = self._action_items(a)
            for it in its:
                self.set_status(it, statuses.DEFERRED)
            self.counts.deferred += len(its)
            self.save(*its)


def _plain(exc: RowError) -> str:
    text = statuses.in_sheet_terms(exc.message.rstrip("."))
    return f"{text}: {exc.fix}" if exc.fix else text
