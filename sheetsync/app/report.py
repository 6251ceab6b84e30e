"""What `plan`, `sync` and `status` show: rich tables, one-line summaries and the progress bar.
Rendering only; the numbers come from the engine and the state file."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from sheetsync.app.pace import Pace
from sheetsync.rows import prospects
from sheetsync.state.base import Store
from sheetsync.sync.cycle import DryRun
from sheetsync.sync.plan import Action
from sheetsync.sync.statuses import uncomputed

# Prospect rows shown with their fields per kind (create, update); the rest are counted.
SHOWN = 5

if TYPE_CHECKING:
    from sheetsync.app.worker import SheetView, WorkerView


def plan_table(dry: DryRun) -> Table:
    """The actions the next cycle would take, in order (the first prospects to create or
    update with the fields they send, then how many send each field), then the rows that would
    get errors."""
    table = Table(title=f"{dry.sheet}: the next sync would", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Action")
    lines: list[str] = []
    for kind in ("create_prospect", "update_prospect"):
        lines += _prospect_lines([a for a in dry.plan.actions if a.kind == kind], dry.left_out)
    for a in dry.plan.actions:
        if a.kind not in ("want", "create_prospect", "update_prospect"):
            lines.append(a.describe(dry.names))
    for note in dry.plan.notes:
        if note.status.startswith(("waiting", "held", "error")):
            lines.append(f"{note.role} {dry.names.get(note.key, note.key)}: {note.status}")
    for issue in dry.issues:
        lines.append(f"{issue.role} row {issue.row}: error: {issue.message}")
    for w in dry.waiting:
        lines.append(f"{w.role} row {w.row}: {uncomputed(w.labels, w.tab, w.source_row)}")
    for n, line in enumerate(lines, start=1):
        table.add_row(str(n), line)
    if not lines:
        table.add_row("", "nothing: the sheet and WarmySender are in step")
    return table


def _prospect_lines(actions: list[Action], left_out: Mapping[str, tuple[str, ...]]) -> list[str]:
    """The first SHOWN prospects to create (or update) with the fields they send and what is
    left out of them, a count of the others, and how many of them send each field."""
    if not actions:
        return []
    verb = actions[0].kind.split("_")[0]
    out = []
    for a in actions[:SHOWN]:
        sent = ", ".join(f"{k} {_value(v)}" for k, v in a.fields.items() if k != "email")
        line = f"{verb} prospect {a.key}: {sent or 'email only'}"
        if a.key in left_out:
            line += "; left out: " + " | ".join(left_out[a.key])
        out.append(line)
    if len(actions) > SHOWN:
        out.append(f"… and {len(actions) - SHOWN} more prospects to {verb}")
    counts = [f"{f} {sum(1 for a in actions if a.fields.get(f))}" for _, f in prospects.FIELDS]
    custom = sum(1 for a in actions if a.fields.get("customFields"))
    if custom:
        counts.append(f"customFields {custom}")
    what = "new prospects" if verb == "create" else "changed prospects"
    out.append(f"{len(actions)} {what}; with a value: " + ", ".join(counts))
    return out


def _value(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def status_tables(state: Store, sheet: str, pace: Pace, *, runs: int = 5) -> list[Table]:
    """How often the sheet is polled, recent runs, deferred/held rows and rows in error, then
    the last failure."""
    out: list[Table] = []
    schedule = Table(title=f"{sheet}: sheetsync run polls it", title_justify="left")
    schedule.add_column("Every")
    schedule.add_row(pace.describe())
    out.append(schedule)
    recent = Table(title=f"{sheet}: recent runs", title_justify="left")
    for col in ("When", "Result", "Created", "Enrolled", "Errors", "Deferred", "API calls"):
        recent.add_column(col)
    for run in state.recent_runs(sheet, runs):
        if run.ok and run.report is not None:
            r = run.report
            created = int(r.get("prospects_created", 0)) + int(r.get("campaigns_created", 0))
            recent.add_row(
                run.at,
                "ok",
                str(created),
                str(r.get("enrolled", 0)),
                str(r.get("errors", 0)),
                str(r.get("deferred", 0)),
                str(r.get("api_calls", 0)),
            )
        else:
            recent.add_row(run.at, f"failed: {run.message}", "", "", "", "", "")
    if not recent.row_count:
        recent.add_row("never synced", "", "", "", "", "", "")
    out.append(recent)
    rows = Table(title=f"{sheet}: rows waiting or in error", title_justify="left")
    rows.add_column("Tab")
    rows.add_column("Key")
    rows.add_column("Status")
    for prefix in ("waiting:", "held:", "error:"):
        for it in state.statuses(sheet, prefix):
            rows.add_row(it.role, it.key, it.status)
    last = state.recent_runs(sheet, 1)
    if last and last[0].report:
        for line in last[0].report.get("issues", []):
            where, _, status = str(line).partition(": ")
            tab, _, row = where.partition(" ")
            rows.add_row(tab, row, status)
    if not rows.row_count:
        rows.add_row("", "", "none")
    out.append(rows)
    lacking = last[0].report.get("missing_scopes") if last and last[0].report else None
    if lacking:
        scopes = Table(title=f"{sheet}: scopes the API key lacks", title_justify="left")
        scopes.add_column("Scope")
        scopes.add_column("Fix")
        for scope in lacking:
            scopes.add_row(scope, "create a key with it in WarmySender (Settings > API Keys)")
        out.append(scopes)
    failure = state.last_failure(sheet)
    fail = Table(title=f"{sheet}: last failure", title_justify="left")
    fail.add_column("When")
    fail.add_column("Message")
    fail.add_row(failure.at if failure else "", failure.message or "" if failure else "none")
    out.append(fail)
    return out


def sheets_table(views: list[SheetView]) -> Table:
    """PostgreSQL: per sheet, who ran the last cycle and when, what comes next, failures."""
    table = Table(title="sheets on the workers", title_justify="left")
    for col in ("Sheet", "Last cycle", "By", "Next", "Failures in a row"):
        table.add_column(col)
    for v in views:
        last = f"{v.last_at} {'ok' if v.last_ok else 'failed'}" if v.last_at else "never"
        if v.running_on:
            following = f"in a cycle now on {v.running_on}"
        elif v.next_due:
            following = _stamp(v.next_due)
        else:
            following = "when a worker starts"
        table.add_row(v.sheet, last, v.last_worker or "", following, str(v.failures))
    return table


def workers_table(views: list[WorkerView]) -> Table:
    """PostgreSQL: the registered workers, their last heartbeat and what they run now."""
    table = Table(title="workers", title_justify="left")
    for col in ("Worker", "Id", "Started", "Heartbeat", "State", "In a cycle of"):
        table.add_column(col)
    for v in views:
        table.add_row(
            v.name,
            str(v.id),
            _stamp(v.started) if v.started else "",
            f"{_stamp(v.heartbeat)} ({v.heartbeat_age_s:.0f}s ago)",
            "live" if v.alive else "silent: taken for dead",
            v.running,
        )
    if not views:
        table.add_row("none", "", "", "", "", "")
    return table


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def progress_bar(
    console: Console, label: str, *, enabled: bool
) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a bar on a terminal, or None when disabled."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
