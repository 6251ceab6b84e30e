"""The tabs and columns of PRODUCT.md: default titles and headers, what kind of value each column
holds, which columns sheetsync owns (status columns), and header matching.

Each column has a `field` name used in code and in `[sheet.columns.<tab>]` config renames.
Headers match case-, space- and punctuation-insensitively (`header_key`), in any order. The
Prospects fields also match the headers of common lead exports (`aliases.ALIASES`); a field
that several columns of one export can fill takes, row by row, the first filled-in one in
order of preference (`HeaderMap.columns`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sheetsync.sheet.aliases import ALIASES

Kind = Literal["text", "email", "phone", "bool", "int", "date", "list"]


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    kind: Kind = "text"
    aliases: tuple[str, ...] = ()
    required: bool = False
    status: bool = False  # written by sheetsync; never input
    template: bool = True  # created by `sheetsync init` (optional columns are not)

    def names(self) -> tuple[str, ...]:
        return (self.header, *self.aliases)


@dataclass(frozen=True)
class TabSpec:
    role: str  # prospects, campaigns, steps, enrollments, sync_log
    title: str
    columns: tuple[Column, ...]
    optional: bool = False  # the tab may be absent

    def column(self, field: str) -> Column:
        for c in self.columns:
            if c.field == field:
                return c
        raise KeyError(field)

    @property
    def inputs(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.status)

    @property
    def statuses(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.status)


def _status(field: str, header: str) -> Column:
    return Column(field, header, status=True)


PROSPECTS = TabSpec(
    "prospects",
    "Prospects",
    (
        Column("email", "Email", "email", aliases=ALIASES["email"], required=True),
        Column("first_name", "First Name", aliases=ALIASES["first_name"]),
        Column("last_name", "Last Name", aliases=ALIASES["last_name"]),
        Column("company", "Company", aliases=ALIASES["company"]),
        Column("role", "Role", aliases=ALIASES["role"]),
        Column("phone", "Phone", "phone", aliases=ALIASES["phone"]),
        Column("linkedin_url", "LinkedIn URL", aliases=ALIASES["linkedin_url"]),
        Column("sync", "Sync", "bool", template=False),
        Column("stop", "Stop", "bool"),
        _status("sync_status", "Sync Status"),
        _status("prospect_id", "Prospect ID"),
        _status("synced_at", "Synced At"),
    ),
)

# Progress counts shown on campaign rows, from GET /campaigns/{id} `stats`.
PROGRESS_FIELDS: tuple[tuple[str, str], ...] = (
    ("sent", "Sent"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("replied", "Replied"),
    ("bounced", "Bounced"),
)

CAMPAIGNS = TabSpec(
    "campaigns",
    "Campaigns",
    (
        Column("name", "Campaign", required=True),
        Column("channel", "Channel"),
        Column("mailboxes", "Mailboxes", "list"),
        Column("daily_send_limit", "Daily Send Limit", "int"),
        Column("timezone", "Timezone"),
        Column("schedule_days", "Schedule Days"),
        Column("window_start", "Window Start"),
        Column("window_end", "Window End"),
        Column("track_opens", "Track Opens", "bool"),
        Column("track_clicks", "Track Clicks", "bool"),
        Column("stop_on_reply", "Stop On Reply", "bool"),
        Column("stop_on_bounce", "Stop On Bounce", "bool"),
        Column("start_date", "Start Date", "date"),
        Column("end_date", "End Date", "date"),
        Column("state", "State"),
        Column("confirm", "Confirm", "bool"),  # releases held unenrolls; cleared by sheetsync
        _status("campaign_id", "Campaign ID"),
        _status("api_status", "API Status"),
        _status("enrolled", "Enrolled"),
        _status("last_change", "Last Change"),
        *(_status(f, h) for f, h in PROGRESS_FIELDS),
        _status("sync_status", "Sync Status"),
        _status("synced_at", "Synced At"),
    ),
)

STEPS = TabSpec(
    "steps",
    "Steps",
    (
        Column("campaign", "Campaign", required=True),
        Column("step", "Step", "int", required=True),
        Column("delay_days", "Delay Days", "int"),
        Column("subject", "Subject"),
        Column("body", "Body"),
        _status("sync_status", "Sync Status"),
    ),
)

ENROLLMENTS = TabSpec(
    "enrollments",
    "Enrollments",
    (
        Column("email", "Email", "email"),
        Column("list_id", "List ID"),
        Column("campaign", "Campaign", required=True),
        Column("enrolled", "Enrolled", "bool", required=True),
        _status("enrollment_status", "Enrollment Status"),
        _status("synced_at", "Synced At"),
        _status("outcome", "Outcome"),
        _status("last_event_at", "Last Event At"),
    ),
)

SYNC_LOG = TabSpec(
    "sync_log",
    "Sync Log",
    (
        Column("time", "Time"),
        Column("sheet", "Sheet"),
        Column("created", "Created"),
        Column("updated", "Updated"),
        Column("enrolled", "Enrolled"),
        Column("unenrolled", "Unenrolled"),
        Column("suppressed", "Suppressed"),
        Column("campaign_changes", "Campaign Changes"),
        Column("errors", "Errors"),
        Column("api_calls", "API Calls"),
        Column("sheet_requests", "Sheet Requests"),
        Column("duration_s", "Duration (s)"),
    ),
    optional=True,
)

TABS: tuple[TabSpec, ...] = (PROSPECTS, CAMPAIGNS, STEPS, ENROLLMENTS, SYNC_LOG)
TAB_ROLES: dict[str, TabSpec] = {t.role: t for t in TABS}


def header_key(text: object) -> str:
    """How headers are compared: case, whitespace and punctuation ignored ("First Name",
    "first_name" and "firstName" are one header)."""
    return "".join(ch for ch in str(text).casefold() if ch.isalnum())


def customise(
    spec: TabSpec,
    *,
    title: str | None = None,
    renames: Mapping[str, str] | None = None,
    extra_inputs: Sequence[str] = (),
) -> TabSpec:
    """The spec with a renamed tab, renamed headers (field -> header; a rename replaces the
    default header and its aliases) and extra text input columns (custom fields)."""
    renames = renames or {}
    cols = [
        replace(c, header=renames[c.field], aliases=()) if c.field in renames else c
        for c in spec.columns
    ]
    first_status = next((i for i, c in enumerate(cols) if c.status), len(cols))
    extras = [Column(f"custom:{h}", h) for h in extra_inputs]
    cols[first_status:first_status] = extras
    return replace(spec, title=title or spec.title, columns=tuple(cols))


@dataclass(frozen=True)
class HeaderMap:
    """Where each field's columns are in a tab's header row (0-based), or absent."""

    index: dict[str, int]  # field -> its first column (the one statuses and labels use)
    width: int  # number of cells in the header row
    duplicates: dict[str, list[int]]  # field -> every column of a header that appears twice
    columns: dict[str, tuple[int, ...]]  # field -> every column that fills it, preferred first

    def get(self, field: str) -> int | None:
        return self.index.get(field)

    def all(self, field: str) -> tuple[int, ...]:
        return self.columns.get(field, ())


def match_headers(spec: TabSpec, header_row: Sequence[object]) -> HeaderMap:
    """Find each column of `spec` in `header_row`. A column's own header comes first, then its
    aliases in order; a header cell that is some column's own header is never another column's
    alias. The same header twice is reported in `duplicates` (the first one is used); different
    aliases of one field are not: they fill it in order of preference."""
    by_key: dict[str, list[int]] = {}
    for i, cell in enumerate(header_row):
        if cell is None:
            continue
        key = header_key(cell)
        if key:
            by_key.setdefault(key, []).append(i)
    own = {header_key(c.header) for c in spec.columns}
    columns: dict[str, tuple[int, ...]] = {}
    dups: dict[str, list[int]] = {}
    for col in spec.columns:
        found: list[int] = []
        for n, name in enumerate(col.names()):
            key = header_key(name)
            if n and key in own:
                continue  # another column's own header
            hits = by_key.get(key, [])
            if len(hits) > 1 and col.field not in dups:
                dups[col.field] = list(hits)
            found.extend(i for i in hits[:1] if i not in found)
        if found:
            columns[col.field] = tuple(found)
    index = {field: cols[0] for field, cols in columns.items()}
    return HeaderMap(index=index, width=len(header_row), duplicates=dups, columns=columns)


def describe_columns(spec: TabSpec, found: HeaderMap, header_row: Sequence[object]) -> str:
    """Which headers feed which input field, in the spec's order, as `check` and `import` show
    it: `Email \u2190 'E-mail'; First Name \u2190 'first', else 'Given Name'` ("" for none)."""
    texts = ["" if h is None else str(h).strip() for h in header_row]
    return "; ".join(
        f"{col.header} \u2190 " + ", else ".join(repr(texts[i]) for i in cols)
        for col in spec.inputs
        if (cols := found.all(col.field))
    )
