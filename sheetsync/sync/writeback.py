"""Status cells as a projection of state. Pure: what each row's status cells should say, which of
them differ from the sheet as read, and where they are now (re-addressed by key after a fresh
read of the key columns, so a row sorted or inserted between read and write still gets its own
status). Missing status headers are added at the end of the header row; the optional Sync Log
tab gets the newest cycle under its header. Enrollments rows show their Outcome and Last Event
At; a Stop tick due for a replied prospect (stop_on_reply) writes TRUE into its Stop cell, the
Stop header added when the tab has none. Everything goes out in ONE write.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sheetsync.config import SheetConfig
from sheetsync.rows.records import SheetRows
from sheetsync.sheet.base import CellValue, CellWrite, KeyColumns, SheetData
from sheetsync.sheet.layout import PROGRESS_FIELDS, match_headers
from sheetsync.state import Item
from sheetsync.sync import statuses
from sheetsync.sync.plan import HOLDS, steps_locked
from sheetsync.sync.statuses import STEPS_LOCKED

KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "prospects": ("email",),
    "campaigns": ("name",),
    "steps": ("campaign", "step"),
    "enrollments": ("email", "list_id", "campaign"),
}
STATUS_FIELD = {"enrollments": "enrollment_status"}
STATUS_ROLES = tuple(KEY_FIELDS)
Value = str | int | float | bool | None
Identity = tuple[str, ...]


@dataclass
class Target:
    """Status values for one row, found again by its key cells and their occurrence."""

    role: str
    identity: Identity
    occurrence: int
    values: dict[str, Value]
    row: int = 0  # the sheet row as read (used only when the key cells are all empty)


@dataclass
class Projection:
    targets: list[Target] = field(default_factory=list)
    headers: list[CellWrite] = field(default_factory=list)  # new status headers (row 1)
    extra: list[CellWrite] = field(default_factory=list)  # positional (the Sync Log tab)
    columns: dict[str, dict[str, int]] = field(default_factory=dict)  # tab -> field -> index
    read_header: dict[str, list[str]] = field(default_factory=dict)  # tab -> header as read
    titles: dict[str, str] = field(default_factory=dict)  # role -> tab title
    ticked: set[str] = field(default_factory=set)  # prospects whose Stop tick this write makes

    def key_columns(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for t in {x.role for x in self.targets}:
            tab = self.titles[t]
            out[tab] = [self.columns[tab][f] for f in KEY_FIELDS[t] if f in self.columns[tab]]
        return out


def norm(v: CellValue) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip().casefold()


def same(a: CellValue, b: Value) -> bool:
    # Equal values of one type are the same cell (the common case: a status written before);
    # only then is normalising needed (1 == True in Python, but not in a cell).
    return (a.__class__ is b.__class__ and a == b) or norm(a) == norm(b)


def identity(row: Sequence[CellValue], cols: Sequence[int]) -> Identity:
    return tuple(norm(row[i]) if i < len(row) else "" for i in cols)


def project(
    data: SheetData,
    rows: SheetRows,
    sheet: SheetConfig,
    items: Mapping[str, Mapping[str, Item]],
    *,
    now_iso: str,
    log_row: Sequence[Value] | None = None,
    only: Mapping[str, Iterable[int]] | None = None,
    clear: Collection[str] = (),
    outcomes: Mapping[str, tuple[str, str]] | None = None,
    stop_ticks: Collection[str] = (),
) -> Projection:
    """The cells whose value should change, with their tab's new status headers. `only` names,
    per tab title, the sheet rows to compare: the engine's row cache knows that the tab's
    other rows want status values and show them already. A tab it does not name is compared
    whole when some row wants a value in it. `clear`: campaign keys whose Confirm box was acted
    on; their box is set to FALSE. `outcomes`: enrollment key -> (Outcome, Last Event At);
    `stop_ticks`: prospect keys whose Stop box sheetsync ticks (stop_on_reply). These two
    boxes are the only input cells sheetsync writes."""
    out = Projection()
    outcomes = outcomes or {}
    wanted: dict[str, dict[int, dict[str, Value]]] = {}  # role -> sheet row -> values

    def want(role: str, row: int, values: dict[str, Value]) -> None:
        wanted.setdefault(role, {}).setdefault(row, {}).update(values)

    campaign_recs = {c.key: c for c in rows.campaigns}
    seen: set[tuple[str, str]] = set()
    pitems = items["prospects"]
    pwanted = wanted.setdefault("prospects", {})
    pseen: set[str] = set()  # ("p", key) of `seen`, without a tuple per row
    for p in rows.prospects:
        it = pitems.get(p.key)
        if p.sync_off or it is None or not it.status or p.key in pseen:
            continue
        pseen.add(p.key)
        values: dict[str, Value] = {
            "sync_status": statuses.left_out(it.status, p.left_out) if p.left_out else it.status,
            "synced_at": it.synced_at,
            "prospect_id": it.remote_id or "",
        }
        if (earlier := pwanted.get(p.row)) is None:  # want(), inline: one call less per row
            pwanted[p.row] = values
        else:
            earlier.update(values)
    for p in rows.prospects if stop_ticks else ():
        if p.key in stop_ticks and p.key not in out.ticked:
            out.ticked.add(p.key)
            pwanted.setdefault(p.row, {})["stop"] = True
    if not pwanted:
        del wanted["prospects"]  # as if want() was never called for it
    holds = items.get(HOLDS, {})
    for c in rows.campaigns:
        if c.key in clear:
            want("campaigns", c.row, {"confirm": False})
        it = items["campaigns"].get(c.key)
        if it is None or not it.status:
            continue
        status = it.status
        steps_changed = it.remote_id and steps_locked(c, it.data)
        target = f"sheet:{c.key}"
        hold = holds[target].data if target in holds else {}
        if hold.get("status"):
            status = str(hold["status"])
        elif steps_changed:
            status = STEPS_LOCKED
        if hold.get("nothing_held"):
            status = statuses.nothing_held(status, sheet.tab("campaigns").column("confirm").header)
        stats = it.data.get("stats") or {}
        values = {"sync_status": status, "synced_at": it.synced_at}
        values.update(campaign_id=it.remote_id or "", api_status=it.data.get("api_status", ""))
        values.update(enrolled=it.data.get("enrolled", 0) if it.remote_id else "")
        values["last_change"] = it.data.get("last_change", "")
        for f, _ in PROGRESS_FIELDS:
            values[f] = stats.get(f, "") if it.remote_id else ""
        want("campaigns", c.row, values)
        for s in c.steps:
            if it.remote_id:
                step_status = STEPS_LOCKED if steps_changed else statuses.SYNCED
            else:
                step_status = status if status.startswith(("waiting", "error")) else ""
            want("steps", s.row, {"sync_status": step_status})
    for s in rows.steps:
        if s.campaign_key not in campaign_recs:
            want("steps", s.row, {"sync_status": statuses.no_step_campaign(s.campaign_key)})
    for e in rows.enrollments:
        it = items["enrollments"].get(e.key)
        if it is None or not it.status or ("e", e.key) in seen:
            continue
        seen.add(("e", e.key))
        outcome, last_event_at = outcomes.get(e.key, ("", ""))
        values = {"enrollment_status": it.status, "synced_at": it.synced_at}
        values.update(outcome=outcome, last_event_at=last_event_at)
        want("enrollments", e.row, values)
    for issue in rows.issues:
        if issue.row <= 1:
            continue  # about the header row: shown by plan and the Sync Log, never written
        f = STATUS_FIELD.get(issue.role, "sync_status")
        want(issue.role, issue.row, {f: statuses.error(issue.message)})
    for w in rows.waiting:
        status = statuses.uncomputed(w.labels, w.tab, w.source_row)
        want(w.role, w.row, {STATUS_FIELD.get(w.role, "sync_status"): status})

    for role in STATUS_ROLES:
        tab = rows.titles.get(role, sheet.tab(role).title)
        table = data.tabs.get(tab)
        rows_to_check = only.get(tab) if only is not None else None
        by_row = wanted.get(role, {})
        if not table or (role not in wanted and rows_to_check is None):
            continue
        header = list(table[0])
        out.read_header[tab] = [norm(h) for h in header]
        out.titles[role] = tab
        hm = match_headers(sheet.tab(role), header)
        cols = dict(hm.index)
        width = len(header)
        added = list(sheet.tab(role).statuses)
        if role == "prospects" and out.ticked:
            added.append(sheet.tab(role).column("stop"))  # the Stop box to tick
        for col in added:
            if col.field not in cols:
                cols[col.field] = width
                out.headers.append(CellWrite(tab, 1, width, col.header))
                width += 1
        out.columns[tab] = cols
        key_cols = [cols[f] for f in KEY_FIELDS[role] if f in cols]
        status_cols = [cols[c.field] for c in sheet.tab(role).statuses if c.field in hm.index]
        changes: list[tuple[int, dict[str, Value]]] = []
        status_field = STATUS_FIELD.get(role, "sync_status")
        for row in range(2, len(table) + 1) if rows_to_check is None else rows_to_check:
            cells = table[row - 1]
            vals = by_row.get(row)
            if vals is None:
                if any(identity(cells, key_cols)):
                    continue
                # a row emptied of its keys: stale statuses
                if not any(i < len(cells) and cells[i] not in (None, "") for i in status_cols):
                    continue
                vals = {c.field: None for c in sheet.tab(role).statuses}
            current = cells[cols[status_field]] if cols[status_field] < len(cells) else None
            if "synced_at" in cols and "synced_at" not in vals:
                old = cells[cols["synced_at"]] if cols["synced_at"] < len(cells) else None
                if not same(current, vals.get(status_field)):
                    vals = {**vals, "synced_at": now_iso}
                elif old is not None:
                    vals = {**vals, "synced_at": old}  # type: ignore[dict-item]
            changed = {
                f: v
                for f, v in vals.items()
                if f in cols and not same(cells[cols[f]] if cols[f] < len(cells) else None, v)
            }
            if changed:
                changes.append((row, changed))
        if not changes:
            continue
        counter: dict[Identity, int] = {}
        occurrences: dict[int, tuple[Identity, int]] = {}
        for n, r in enumerate(table[1:], start=2):
            ident = identity(r, key_cols)
            counter[ident] = counter.get(ident, 0) + 1
            occurrences[n] = (ident, counter[ident] - 1)
        for row, changed in changes:
            ident, occ = occurrences[row]
            out.targets.append(Target(role, ident, occ, changed, row))
    if log_row is not None:
        out.extra = _log_cells(data, rows, sheet, log_row)
    return out


def address(proj: Projection, fresh: Mapping[str, KeyColumns]) -> list[CellWrite] | None:
    """The cell writes at the rows where the keys are now; None when a header changed under
    us (skip this write: the next poll heals)."""
    cells: list[CellWrite] = []
    keyed = proj.key_columns()
    rows_now: dict[str, dict[tuple[Identity, int], int]] = {}
    lengths: dict[str, int] = {}  # tab -> rows of key cells read (trailing empty ones dropped)
    for tab, key_cols in keyed.items():
        kc = fresh.get(tab)
        if kc is None or [norm(h) for h in kc.header] != proj.read_header.get(tab):
            return None
        length = max((len(v) for v in kc.columns.values()), default=0)
        counter: dict[Identity, int] = {}
        found: dict[tuple[Identity, int], int] = {}
        for i in range(length):
            ident = tuple(
                norm(kc.columns[c][i]) if i < len(kc.columns.get(c, [])) else "" for c in key_cols
            )
            occ = counter.get(ident, 0)
            counter[ident] = occ + 1
            found[(ident, occ)] = i + 2
        rows_now[tab] = found
        lengths[tab] = length
    cells.extend(proj.headers)
    for t in proj.targets:
        tab = proj.titles[t.role]
        row = rows_now[tab].get((t.identity, t.occurrence))
        if row is None and not any(t.identity) and t.row > lengths[tab] + 1:
            row = t.row  # no key (e.g. an empty Email) below the last key: still where it was
        if row is None:
            continue  # the row was deleted since the read
        for f, v in t.values.items():
            cells.append(CellWrite(tab, row, proj.columns[tab][f], v))
    cells.extend(proj.extra)
    return cells


def _log_cells(
    data: SheetData, rows: SheetRows, sheet: SheetConfig, log_row: Sequence[Value]
) -> list[CellWrite]:
    """The Sync Log tab with `log_row` first under the header, kept to `log_rows` rows."""
    spec = sheet.tab("sync_log")
    title = rows.titles.get("sync_log", spec.title)
    table = data.tabs.get(title)
    if table is None or sheet.log_rows == 0:
        return []
    out: list[CellWrite] = []
    header = list(table[0]) if table else []
    hm = match_headers(spec, header)
    cols = dict(hm.index)
    width = len(header)
    for col in spec.columns:
        if col.field not in cols:
            cols[col.field] = width
            out.append(CellWrite(title, 1, width, col.header))
            width += 1
    order = [cols[c.field] for c in spec.columns]
    old = [list(r) for r in table[1:]]
    new_rows: list[list[Value]] = []
    for r in old:
        full: list[Value] = [None] * width
        for i, v in enumerate(r[:width]):
            full[i] = v if isinstance(v, str | int | float | bool) or v is None else str(v)
        new_rows.append(full)
    first: list[Value] = [None] * width
    for i, v in zip(order, log_row, strict=True):
        first[i] = v
    layout = [first, *new_rows][: sheet.log_rows]
    for n, line in enumerate(layout, start=2):
        before = new_rows[n - 2] if n - 2 < len(new_rows) else []
        for i in order:
            cur = before[i] if i < len(before) else None
            if not same(cur, line[i]):
                out.append(CellWrite(title, n, i, line[i]))
    for n in range(len(layout) + 2, len(old) + 2):  # rows beyond the limit: clear them
        for i in order:
            if n - 2 < len(old) and i < len(old[n - 2]) and old[n - 2][i] not in (None, ""):
                out.append(CellWrite(title, n, i, None))
    return out
