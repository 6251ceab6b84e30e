"""One sync cycle of one sheet: read → parse → diff → plan → perform → write back → record.

`open_sync(config, sheet)` builds a SheetSync that owns its state, client and source (unless
they are given); `cycle()` is the unit the CLI, the daemon and the tests drive; `plan()` is the
dry run (API reads only; no API writes, no sheet writes, no state changes).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.ratelimit import Limiter
from sheetsync.clock import Clock, SystemClock, utc_iso
from sheetsync.config import Config, SheetConfig
from sheetsync.errors import ApiError, SheetChanged, StateError
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.records import RowIssue, SheetRows, WaitingRow
from sheetsync.sheet.base import SheetData, SheetSource
from sheetsync.sheet.connect import open_source
from sheetsync.sheet.google.quota import Quota
from sheetsync.state import Item
from sheetsync.state.base import Store
from sheetsync.state.connect import open_state
from sheetsync.sync.counts import CycleReport, sync_log_row
from sheetsync.sync.execute import outcomes as rest_outcomes
from sheetsync.sync.execute.campaigns import resolve_mailboxes
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.execute.steps import STEPS
from sheetsync.sync.outcomes import project_events, ticked
from sheetsync.sync.plan import HOLDS, Note, Plan, make_plan, steps_locked
from sheetsync.sync.rowcache import RowCache
from sheetsync.sync.writeback import address, project

log = logging.getLogger(__name__)
ROLES = ("prospects", "campaigns", "steps", "enrollments")
READ_ROLES = (*ROLES, "sync_log")
Items = dict[str, dict[str, Item]]


@dataclass
class DryRun:
    """What `plan()` found: the actions the next cycle would take and the rows in error."""

    sheet: str
    plan: Plan
    issues: list[RowIssue] = field(default_factory=list)
    rows_read: int = 0
    names: dict[str, str] = field(default_factory=dict)  # campaign key -> name as typed
    waiting: list[WaitingRow] = field(default_factory=list)  # rows with uncomputed formulas
    left_out: dict[str, tuple[str, ...]] = field(default_factory=dict)  # prospect key -> why


class SheetSync:
    """Syncs one sheet. A context manager; closes what it opened."""

    def __init__(
        self,
        sheet: SheetConfig,
        *,
        state: Store,
        api: WarmySenderClient,
        source: SheetSource,
        clock: Clock,
        owned: tuple[Any, ...] = (),
        rest_outcomes: bool = False,
    ) -> None:
        self.sheet = sheet
        self.rest_outcomes = rest_outcomes  # no webhooks: Outcome from REST reads
        self.state = state
        self.api = api
        self.source = source
        self.clock = clock
        self._owned = owned
        # The sheet's items, read from the store at the first poll and kept current by the puts
        # of the executor (which changes them in place); read again after a failed cycle or when
        # another process (`sheetsync sync`, another worker) recorded a run of this sheet since
        # this one's last.
        self._items: Items | None = None
        self._run_id = 0
        self._cache = RowCache()

    def __enter__(self) -> SheetSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close what this sync opened, each on its own: one that fails to close (a connection
        already gone) is logged and keeps none of the others open."""
        for thing in reversed(self._owned):
            try:
                thing.close()
            except Exception as exc:  # noqa: BLE001 - closing must not stop a daemon or worker
                log.warning("%s: closing the sheet's connections failed: %s", self.sheet.name, exc)
        self._owned = ()

    # --- the cycle -----------------------------------------------------------------------------

    def _read(self) -> SheetData:
        return self.source.read([self.sheet.tab(r).title for r in READ_ROLES])

    def _load(self) -> Items:
        name = self.sheet.name
        run_id = self.state.last_run_id(name)  # read before the items: never newer than they
        if self._items is None or run_id != self._run_id:
            self._items = {r: self.state.items(name, r) for r in (*ROLES, HOLDS)}
            self._run_id = run_id
            self._cache.clear()
            self.state.written(name)
        return self._items

    def plan(self) -> DryRun:
        rows = parse_sheet(self._read(), self.sheet)
        plan = make_plan(
            rows,
            self._load(),
            self.sheet,
            first_poll=not self.state.known(self.sheet.name),
            confirm_unenroll=False,
            now=self.clock.time(),
        )
        self._check_mailboxes(plan, rows)
        names = {c.key: c.name for c in rows.campaigns}
        left_out = {p.key: p.left_out for p in rows.prospects if p.left_out and not p.sync_off}
        return DryRun(
            self.sheet.name,
            plan,
            list(rows.issues),
            rows.rows_read,
            names,
            list(rows.waiting),
            left_out,
        )

    def _check_mailboxes(self, plan: Plan, rows: SheetRows) -> None:
        """Dry run: a campaign that would be refused for its mailboxes shows the error instead
        (one GET /mailboxes, only when some campaign would be created)."""
        creates = [a for a in plan.actions if a.kind == "create_campaign"]
        if not creates:
            return
        boxes = list(self.api.list_mailboxes())
        campaigns = {c.key: c for c in rows.campaigns}
        for action in creates:
            found = resolve_mailboxes(campaigns[action.key], boxes)
            if isinstance(found, str):
                plan.actions.remove(action)
                plan.notes.append(Note("campaigns", action.key, found))

    def cycle(
        self,
        *,
        confirm_unenroll: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> CycleReport:
        """One poll, while holding the sheet (`Store.exclusive`: one cycle of it at a time)."""
        with self.state.exclusive(self.sheet.name):
            try:
                return self._cycle(confirm_unenroll, progress)
            except BaseException:
                self._items = None  # in memory may differ from the state: read it again next time
                raise

    def _cycle(
        self, confirm_unenroll: bool, progress: Callable[[int, int], None] | None
    ) -> CycleReport:
        name = self.sheet.name
        t0 = self.clock.monotonic()
        started_at = utc_iso(self.clock)
        calls0 = self.api.total_calls
        reads0, writes0 = self.source.counts.reads, self.source.counts.writes
        first_poll = not self.state.known(name)

        items = self._load()
        sizes = {role: len(known) for role, known in items.items()}
        data = self._read()
        look = self._cache.look(data, self.sheet)
        rows, focus = look.parse()
        self.source.check_writable()  # e.g. a workbook open in Excel: stop before any API call
        ticks = project_events(
            self.state,
            name,
            rows,
            items,
            stop_on_reply=self.sheet.stop_on_reply,
            now_iso=started_at,
        )
        ex = Executor(
            self.api,
            self.state,
            name,
            rows,
            items,
            clock=self.clock,
            limiter=self.api.limiter,
            deadline=t0 + self.sheet.poll_seconds,
            steps=STEPS,
            progress=progress,
        )
        touched: set[tuple[str, str]] = set()
        fatal: Exception | None = None
        confirmed: set[str] = set()  # Confirm boxes acted on: the write-back clears them
        stops = rows.stopped | ticks  # emails whose Stop box is ticked, or is to be
        try:
            ex.replay()  # when cut short by the budget, the plan below is deferred whole
            # Quiet rows the plan must see after all: their items changed (a replay, an event's
            # Outcome), their Stop box is to be ticked, or their person is stopped.
            touched = self.state.written(name) | {("prospects", k) for k in ticks}
            if look.forget(touched, emails=stops):
                rows, focus = look.parse()
            plan = make_plan(
                focus,
                items,
                self.sheet,
                first_poll=first_poll,
                confirm_unenroll=confirm_unenroll,
                now=self.clock.time(),
                stopped=ticks,
                unchanged=look.unchanged(),
            )
            self._bookkeep(plan, items, ex)
            confirmed = plan.confirmed
            ex.run(plan)
            if self.rest_outcomes:
                rest_outcomes.refresh(ex, rows, self.sheet)
        except (ApiError, StateError) as exc:
            # a refused key, retries run out, an answer that cannot be read, the state file
            # failing (disk full, I/O error): what was done is still written back, then raised
            fatal = exc

        report = CycleReport(sheet=name, started_at=started_at, **asdict(ex.counts))
        report.rows_read = rows.rows_read
        report.errors = _errors(focus, items)
        report.api_calls = self.api.total_calls - calls0
        log_row = None
        if report.changed:
            report.duration_s = round(self.clock.monotonic() - t0, 3)
            reads = self.source.counts.reads - reads0 + 1
            names = {f"sheet:{c.key}": c.name for c in rows.campaigns}
            requests = reads + self.source.counts.writes - writes0 + 1
            log_row = sync_log_row(report, ex.changes, requests, names)
        touched |= self.state.written(name)
        if look.forget(touched):  # e.g. Outcomes the REST reads found for quiet rows
            rows, focus = look.parse()
        proj = project(
            data,
            focus,
            self.sheet,
            items,
            now_iso=utc_iso(self.clock),
            log_row=log_row,
            only=look.only(),
            clear=confirmed,
            outcomes=self.state.outcomes(name),
            stop_ticks=ticks,
        )
        written = True
        if proj.targets or proj.headers or proj.extra:
            keyed = proj.key_columns()
            fresh = self.source.read_keys(keyed) if keyed else {}
            cells = address(proj, fresh)
            written = cells is not None
            if cells:
                try:
                    self.source.write(cells)
                except SheetChanged as exc:  # saved by someone else: theirs is kept
                    written = False
                    log.warning("%s: %s", name, exc)
        if written:
            ticked(self.state, name, proj.ticked)
        report.sheets_reads = self.source.counts.reads - reads0
        report.sheets_writes = self.source.counts.writes - writes0
        report.duration_s = round(self.clock.monotonic() - t0, 3)
        if fatal is not None:
            raise fatal  # the caller records the failure (record_failure) with its message
        touched |= self.state.written(name)
        _drop_unsaved(items, sizes, touched)
        self._cache.remember(look, focus, plan, proj, items, touched, stops)
        scopes = sorted(ex.missing_scopes)
        self._run_id = self.state.record_run(
            name, {**report.to_json(), "issues": _issue_lines(rows), "missing_scopes": scopes}
        )
        return report

    def _bookkeep(self, plan: Plan, items: Items, ex: Executor) -> None:
        """Settle counters, statuses set without a call, and the safety brake, in state."""
        dirty: dict[tuple[str, str], Item] = {(it.role, it.key): it for it in plan.moved}
        for role, d in plan.diffs.items():
            known = items[role]
            for key, ch in d.changes.items():
                it = known.get(key)
                if it is not None and it.seen_hash == ch.seen_hash and it.settle == ch.settle:
                    continue  # the common case, without a method call per row
                it = ex.item(role, key)
                if (it.seen_hash, it.settle) != (ch.seen_hash, ch.settle):
                    it.seen_hash, it.settle = ch.seen_hash, ch.settle
                    dirty[(role, key)] = it
        for note in plan.notes:
            it = ex.item(note.role, note.key)
            ex.set_status(it, note.status)
            if note.done:
                it.hash = plan.diffs[note.role].changes[note.key].seen_hash
            if note.status.startswith("held:"):
                ex.counts.held += 1
            dirty[(note.role, note.key)] = it
        for target, record in plan.holds.items():
            it = ex.item(HOLDS, target)
            if it.data != record:
                it.data = record
                dirty[(HOLDS, target)] = it
        if dirty:
            ex.save(*dirty.values())


def _drop_unsaved(items: Items, sizes: dict[str, int], written: set[tuple[str, str]]) -> None:
    """Drop the items the executor added in memory during a cycle and never stored (e.g. the
    lookup of a campaign not created yet): the next poll sees the state file's rows, no more."""
    for role, known in items.items():
        added = list(itertools.islice(reversed(known), len(known) - sizes[role]))
        for key in added:
            if (role, key) not in written:
                del known[key]


def _errors(rows: SheetRows, items: Items) -> int:
    n = len(rows.issues)
    pitems = items["prospects"]
    errors = {
        p.key
        for p in rows.prospects
        if not p.sync_off and (it := pitems.get(p.key)) is not None and it.status[:6] == "error:"
    }
    n += len(errors)
    for role, recs in (
        ("campaigns", [c.key for c in rows.campaigns]),
        ("enrollments", [e.key for e in rows.enrollments]),
    ):
        for key in set(recs):
            it = items[role].get(key)
            if it is not None and it.status.startswith("error:"):
                n += 1
    for c in rows.campaigns:
        it = items["campaigns"].get(c.key)
        if it and it.remote_id and steps_locked(c, it.data):
            n += 1
    return n


def _issue_lines(rows: SheetRows) -> list[str]:
    return [f"{i.role} row {i.row}: error: {i.message}" for i in rows.issues]


def open_sync(
    config: Config,
    sheet: SheetConfig,
    *,
    clock: Clock | None = None,
    limiter: Limiter | None = None,
    http: httpx.Client | None = None,
    source: SheetSource | None = None,
    state: Store | None = None,
    read_only: bool = False,
    quota: Quota | None = None,
) -> SheetSync:
    """A SheetSync for `sheet`, opening the state (unless given), the API client and the
    source. `read_only` (for `plan()`): the state is never created or changed. `quota`: the
    Google quota shared with the other sheets of the credential."""
    clock = clock or SystemClock()
    owned: list[Any] = []
    if state is None:
        state = open_state(config, clock=clock, read_only=read_only)
        owned.append(state)
    try:
        api = WarmySenderClient(
            config.warmysender.base_url,
            config.warmysender.require_key(),
            http=http,
            limiter=limiter,
            clock=clock,
            timeout_s=config.warmysender.timeout_s,
        )
        owned.append(api)
        if source is None:
            source = open_source(sheet, config.google, clock=clock, quota=quota)
            owned.append(source)
    except BaseException:
        for thing in reversed(owned):
            thing.close()
        raise
    assert source is not None
    return SheetSync(
        sheet,
        state=state,
        api=api,
        source=source,
        clock=clock,
        owned=tuple(owned),
        rest_outcomes=config.webhooks is None,
    )
