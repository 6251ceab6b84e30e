"""What one cycle did, counted: the counters (`Counts`), the report of a cycle (`CycleReport`,
which is `sync --json`), and every rendering of them as text (the daemon's log line, the
summary `sync` prints)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(kw_only=True)
class Counts:
    """The counters of one cycle (CycleReport extends them; this order is theirs in `sync
    --json`). `errors` is counted by the cycle, every other one by the executor."""

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


@dataclass
class CycleReport(Counts):
    """What one cycle did: where and when, the counters (Counts), and the traffic.
    `to_json` is `sync --json`: the four header fields, then the counters, then the rest."""

    sheet: str
    started_at: str
    duration_s: float = 0.0
    rows_read: int = 0
    api_calls: int = 0
    sheets_reads: int = 0
    sheets_writes: int = 0

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        head = {k: d.pop(k) for k in ("sheet", "started_at", "duration_s", "rows_read")}
        return head | d


def summary(r: CycleReport) -> str:
    """One line per sheet after `sync`."""
    parts = [
        f"{r.prospects_created} prospects created",
        f"{r.prospects_existing} existing",
        f"{r.prospects_updated} updated",
        f"{r.campaigns_created} campaigns created",
        f"{r.campaigns_updated} updated",
        f"{r.campaigns_started} started",
        f"{r.campaigns_paused} paused",
        f"+{r.enrolled} enrolled",
        f"{r.suppressed} suppressed",
        f"\u2212{r.unenrolled} unenrolled",
    ]
    tail = [f"{r.errors} rows in error"]
    if r.held:
        tail.append(f"{r.held} held (a campaign's Confirm box or --confirm-unenroll releases)")
    if r.deferred:
        tail.append(f"{r.deferred} deferred to the next poll")
    tail.append(f"{r.api_calls} API calls, {r.sheets_reads + r.sheets_writes} sheet requests")
    return f"{r.sheet}: {', '.join(parts)}; {'; '.join(tail)} ({r.duration_s:g}s)"


def sync_log_row(
    report: CycleReport, changes: dict[str, list[str]], requests: int, names: dict[str, str]
) -> list[str | int | float]:
    """The Sync Log row of a cycle that changed something (its columns in order)."""
    text = "; ".join(
        f"{names.get(target, target.split(':', 1)[1])}: {', '.join(parts)}"
        for target, parts in changes.items()
    )
    started = report.campaigns_started + report.campaigns_paused
    extra = f"{report.campaigns_created} created, {started} started/paused"
    return [
        report.started_at,
        report.sheet,
        report.prospects_created + report.campaigns_created,
        report.prospects_updated + report.campaigns_updated,
        report.enrolled,
        report.unenrolled,
        report.suppressed,
        f"{extra}; {text}" if text else extra,
        report.errors,
        report.api_calls,
        requests,
        report.duration_s,
    ]


_COUNTS = (
    ("prospects_created", "prospect created", "prospects created"),
    ("prospects_existing", "prospect existing", "prospects existing"),
    ("prospects_updated", "prospect updated", "prospects updated"),
    ("campaigns_created", "campaign created", "campaigns created"),
    ("campaigns_updated", "campaign updated", "campaigns updated"),
    ("campaigns_started", "campaign started", "campaigns started"),
    ("campaigns_paused", "campaign paused", "campaigns paused"),
    ("enrolled", "enrolled", "enrolled"),
    ("unenrolled", "unenrolled", "unenrolled"),
    ("suppressed", "suppressed", "suppressed"),
    ("errors", "error", "errors"),
    ("held", "held", "held"),
    ("deferred", "deferred", "deferred"),
)


def _n(value: object, one: str, many: str) -> str:
    n = value if isinstance(value, int | float) else 0
    return f"{n:g} {one if n == 1 else many}"


def cycle_line(report: dict[str, object]) -> str:
    """`acme: 12 rows; 3 prospects created, 5 enrolled; 1.2s, 9 API calls, 1 sheet read, ...`"""
    counts = [_n(report[k], one, many) for k, one, many in _COUNTS if report.get(k)]
    duration = report.get("duration_s")
    seconds = float(duration) if isinstance(duration, int | float) else 0.0
    return (
        f"{report.get('sheet')}: {_n(report.get('rows_read'), 'row', 'rows')}; "
        f"{', '.join(counts) or 'no changes'}; {seconds:.1f}s, "
        f"{_n(report.get('api_calls'), 'API call', 'API calls')}, "
        f"{_n(report.get('sheets_reads'), 'sheet read', 'sheet reads')}, "
        f"{_n(report.get('sheets_writes'), 'sheet write', 'sheet writes')}"
    )
