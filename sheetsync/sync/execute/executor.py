"""Performs a plan through the WarmySender client, within the cycle's rate budget.

Every write is an intent: recorded in state (operation, body, Idempotency-Key, and the request
exactly as it goes on the wire) BEFORE it is sent, and resolved together with its outcome in one
transaction. Pending intents of a crashed or cut-off cycle are replayed first: the SAME bytes
with the SAME key, so the server answers with the original result and nothing is created twice.
Every intent gets a fresh key (`state.fresh_key`; why not one derived from the content: see
there). Should WarmySender still refuse a key as used with another body (409; an intent kept by
an older sheetsync, or a key the server forgot and another request reused), the intent heals:
the object is read back, or the request is sent again under a fresh key; it is never turned
into a row error.

This module keeps the order of the work (`run`), the rate budget (`slot`), the intents (`send`,
`replay`, `done`) and the reads shared by the roles; what each role sends and how its answer
lands in state are plain functions in `prospects`, `campaigns` and `enrollments`, which `steps`
maps to the action and intent kinds. The role modules import this one, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sheetsync.api.client import Answer, Request, WarmySenderClient
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
from sheetsync.state import Intent, Item, fresh_key
from sheetsync.state.base import Store
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
    `requests` build an intent's request from its body, `dos` perform one intent's call and
    store its outcome (also when it is replayed), and `heals` read the object back after a 409
    for a reused key (True: its outcome is stored; False: the write is sent again)."""

    acts: Mapping[str, Callable[[Executor, Action], None]]
    requests: Mapping[str, Callable[[dict[str, Any]], Request]]
    dos: Mapping[str, Callable[[Executor, Intent], None]]
    heals: Mapping[str, Callable[[Executor, Intent], bool]]


class Executor:
    def __init__(
        self,
        api: WarmySenderClient,
        state: Store,
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
        self.replay_cut = False  # the budget ran out before every open intent was replayed

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

    def supersede(self, it: Item, status: str) -> None:
        """After an action that succeeded without redoing the row (a start, a pause): `status`
        replaces what the action made obsolete, its earlier refusal (`error:`) or its deferral,
        and nothing else: a status about the row's fields (`waiting: pause the campaign…`, a
        field the API cannot change) still holds after a start or a pause."""
        if (statuses.is_error(it.status) and not statuses.is_drift(it.status)) or (
            it.status == statuses.DEFERRED
        ):
            self.set_status(it, status)

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
        request = self.steps.requests[op](body)
        pending = Intent(0, op, body, key, request.endpoint, request.path, request.body)
        self._perform(self.state.add_intent(self.sheet, pending))

    def replay(self) -> None:
        """Re-send the intents a previous cycle left open: their bytes, with their keys. When
        the budget runs out first, the rest stay open and `run` sends nothing new this cycle:
        a plan made while an intent is open would do its work again, under a key of its own."""
        try:
            for intent in self.state.pending_intents(self.sheet):
                self.slot()
                if intent.content is None:  # kept by an older sheetsync: the request is rebuilt
                    intent = self._rekeyed(intent, intent.idempotency_key)
                try:
                    self._perform(intent)
                except ScopeError as exc:
                    self._refused(exc, SCOPES.get(intent.op, ""), self._rows_of(intent))
        except (Stop, RateLimited):
            self.replay_cut = True

    def call(self, intent: Intent) -> Answer:
        """Send the intent's request, as kept, with its key."""
        assert intent.endpoint is not None and intent.path is not None
        assert intent.content is not None
        request = Request(intent.endpoint, intent.path, intent.content)
        return self.api.send(request, intent.idempotency_key)

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
        except IdempotencyConflict:
            self._heal(intent)
        except RowError as exc:
            self._fail(intent, statuses.error(_plain(exc)), exc)

    def _heal(self, intent: Intent) -> None:
        """WarmySender refused the intent's key as used with another request. Read the object
        back and store what it shows; if it shows nothing done, send the request again under a
        fresh key (a create that is not there is created once; the other writes set a state,
        so doing them again is harmless). A second refusal leaves the intent open, and its rows
        say so."""
        self.slot()
        heal = self.steps.heals.get(intent.op)
        if heal is not None and heal(self, intent):
            return
        again = self._rekeyed(intent, fresh_key(intent.op.replace("_", "-")))
        try:
            self.steps.dos[again.op](self, again)
        except IdempotencyConflict as exc:
            self._fail(again, statuses.replay_refused(exc.message), resolve=False)
        except RowError as exc:
            self._fail(again, statuses.error(_plain(exc)), exc)

    def _rekeyed(self, intent: Intent, key: str) -> Intent:
        """The intent with `key` and its request built from its body, stored before it is sent."""
        request = self.steps.requests[intent.op](intent.body)
        again = replace(intent, idempotency_key=key, endpoint=request.endpoint,
                        path=request.path, content=request.body)  # fmt: skip
        self.state.update_intent(again)
        return again

    def _rows_of(self, intent: Intent) -> list[Item]:
        return self._items_of(intent.op, intent.body.get("key", ""), intent.body.get("rows", ()))

    def _items_of(self, kind: str, key: str, rows: Sequence[str]) -> list[Item]:
        """The items an action or intent of `kind` is about: its Enrollments rows for an
        enroll or unenroll, else its prospect or campaign."""
        if kind in ("enroll", "unenroll"):
            return [self.item("enrollments", k) for k in rows]
        return [self.item("prospects" if kind.endswith("prospect") else "campaigns", key)]

    def _refused(self, exc: ScopeError, scope: str, its: list[Item]) -> None:
        """The key lacks a scope: the rows say which (their content is not marked as acted on,
        so they go again once the key has it)."""
        scope = exc.missing_scope or scope
        self.missing_scopes.add(scope)
        for it in its:
            self.set_status(it, statuses.missing_scope(scope))
        self.save(*its)

    def _fail(
        self, intent: Intent, status: str, exc: RowError | None = None, *, resolve: bool = True
    ) -> None:
        """The intent's rows get `status` and count as acted on (the planner leaves them); the
        intent is resolved, or left open (`resolve=False`) to be replayed next poll."""
        b = intent.body
        with self.state.transaction():
            if intent.op in ("enroll", "unenroll"):
                for it in self._rows_of(intent):
                    it.hash = b["rows"][it.key]["hash"]
                    self.set_status(it, status)
                    self.state.put(self.sheet, it)
            else:
                (it,) = self._rows_of(intent)
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
            if resolve:
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
        if self.replay_cut:
            self._defer(work)
            return
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
        return self._items_of(a.kind, a.key, a.rows)

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
