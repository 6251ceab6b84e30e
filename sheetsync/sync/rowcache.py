"""The engine's row cache: what each row of the long tabs (Prospects, Enrollments) came to at the
previous poll, so that a row that needs nothing costs one dict lookup.

An entry is keyed by a row's raw cells as read (every cell, status cells included, with their
types when some cell is not text: `True`, `1` and `1.0` are equal in Python, not in a cell) and
holds the record the row parsed to. A row gets an entry only when, at the end of the poll that
read it, it needed nothing: it parsed without an issue, its change against state was
`unchanged` (settled, nothing planned), its item is not in error, and its status cells showed
what the write-back wanted. While its cells and its item stay as they were, the next poll would
find the same, so a hit is left out of parsing, planning and the write-back (they see the other
rows: `focus`) and its record is reused where every row is needed (the executor: `rows`).

Dropped: the entries of a row whose item is put (`State.written`); every entry of a tab whose
header row changes; everything when the engine reads its items again (a failed cycle, another
process that synced the sheet). A poll keeps only the entries of the rows it read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import cast

from sheetsync.config import SheetConfig
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.reader import find_title
from sheetsync.rows.records import EnrollmentRecord, ProspectRecord, SheetRows
from sheetsync.sheet.base import CellValue, Row, SheetData
from sheetsync.state import Item
from sheetsync.sync.plan import Plan
from sheetsync.sync.writeback import Projection

CACHED = ("prospects", "enrollments")
Cells = tuple[CellValue, ...]
Record = ProspectRecord | EnrollmentRecord
_BLANK: Row = []
_row = attrgetter("row")


@dataclass(slots=True)
class Entry:
    record: Record
    types: tuple[type, ...] | None  # the cells' types; None when every cell is text
    wants: bool  # the row wants status values (a sync_off prospect wants none)


@dataclass
class TabCache:
    header: object  # the header row's cells and types when the entries were made
    rows: dict[Cells, Entry]


@dataclass
class TabLook:
    """One cached tab of one read: the rows the cache answers and the rows still to parse."""

    role: str
    title: str
    table: list[Row]
    header: object
    hits: dict[Cells, Entry] = field(default_factory=dict)  # this read's quiet rows
    quiet: dict[int, Record] = field(default_factory=dict)  # sheet row -> its cached record
    claimed: dict[str, int] = field(default_factory=dict)  # key -> the quiet row holding it
    dirty: dict[int, Cells] = field(default_factory=dict)  # sheet row -> cells, to parse
    wants: bool = False  # some quiet row wants status values
    silent: bool = False  # some quiet row wants none (a prospect whose Sync box is unticked)

    def unquiet(self, row: int) -> None:
        record = self.quiet.pop(row, None)
        if record is None:
            return
        cells = tuple(self.table[row - 1])
        self.hits.pop(cells, None)
        self.dirty[row] = cells
        if self.claimed.get(record.key) == row:
            del self.claimed[record.key]

    def to_parse(self) -> list[Row]:
        """The tab as read, its quiet rows blanked (a blank row parses to nothing) and those
        after the last row to parse left out."""
        if not self.dirty:
            return self.table[:1]
        out = [self.table[0], *[_BLANK] * (max(self.dirty) - 1)]
        for row in self.dirty:
            out[row - 1] = self.table[row - 1]
        return out


class Look:
    """What the row cache knows of one read; `parse()` parses the rest."""

    def __init__(self, data: SheetData, sheet: SheetConfig, tabs: dict[str, TabLook]) -> None:
        self.data = data
        self.sheet = sheet
        self.tabs = tabs

    def parse(self) -> tuple[SheetRows, SheetRows]:
        """(rows, focus): every row's record, and the records and issues of the rows parsed
        (the others are quiet). A parsed row whose key a quiet row holds too makes that row
        parsed as well (which of them is a duplicate is the parse's to say)."""
        while True:
            tabs = dict(self.data.tabs)
            for t in self.tabs.values():
                tabs[t.title] = t.to_parse()
            focus = parse_sheet(dataclasses.replace(self.data, tabs=tabs), self.sheet)
            clashes = False
            for t in self.tabs.values():
                keys = {r.key for r in _records(focus, t.role)}
                keys.update(i.key for i in focus.issues if i.role == t.role and i.key)
                for key in keys & t.claimed.keys():
                    t.unquiet(t.claimed[key])
                    clashes = True
            if not clashes:
                break
        prospects, enrollments = focus.prospects, focus.enrollments
        quiet = 0
        for t in self.tabs.values():
            quiet += len(t.quiet)
            merged = sorted([*t.quiet.values(), *_records(focus, t.role)], key=_row)
            if t.role == "prospects":
                prospects = cast(list[ProspectRecord], merged)
            else:
                enrollments = cast(list[EnrollmentRecord], merged)
        rows = dataclasses.replace(
            focus,
            prospects=prospects,
            enrollments=enrollments,
            rows_read=focus.rows_read + quiet,
        )
        return rows, focus

    def forget(self, keys: Collection[tuple[str, str]]) -> bool:
        """Parse the quiet rows of these (role, key) again (their items changed); whether any."""
        hit = False
        for role, key in keys:
            t = self.tabs.get(role)
            if t is not None and key in t.claimed:
                t.unquiet(t.claimed[key])
                hit = True
        return hit

    def unchanged(self) -> dict[str, Collection[str]]:
        """Per role, the keys of the quiet rows that want a status (for the planner's diff)."""
        out: dict[str, Collection[str]] = {}
        for t in self.tabs.values():
            out[t.role] = t.claimed
            if t.silent:
                out[t.role] = {r.key for r in t.quiet.values() if not _sync_off(r)}
        return out

    def only(self) -> dict[str, list[int]]:
        """Per tab with quiet rows that want a status, the rows the write-back must compare."""
        return {t.title: sorted(t.dirty) for t in self.tabs.values() if t.wants}


class RowCache:
    def __init__(self) -> None:
        self.tabs: dict[str, TabCache] = {}

    def clear(self) -> None:
        self.tabs.clear()

    def look(self, data: SheetData, sheet: SheetConfig) -> Look:
        tabs: dict[str, TabLook] = {}
        for role in CACHED:
            title = find_title(data, sheet.tab(role))
            if title is not None:
                tabs[role] = self._look(role, title, data.tabs[title])
        return Look(data, sheet, tabs)

    def _look(self, role: str, title: str, table: list[Row]) -> TabLook:
        header = tuple(table[0]) if table else ()
        signature = (header, tuple(map(type, header)))
        cached = self.tabs.get(role)
        t = TabLook(role, title, table, signature)
        if cached is None or cached.header != signature:
            for n in range(2, len(table) + 1):
                if table[n - 1]:
                    t.dirty[n] = tuple(table[n - 1])
            return t
        get = cached.rows.get
        hits, quiet, claimed, dirty = t.hits, t.quiet, t.claimed, t.dirty
        wants = silent = False
        n = 1
        for row in table[1:]:
            n += 1
            if not row:
                continue
            cells = tuple(row)
            e = get(cells)
            if e is None or (e.types is not None and e.types != tuple(map(type, cells))):
                dirty[n] = cells
                continue
            record = e.record
            key = record.key
            if key in claimed:  # the same key on two rows: both are parsed
                t.unquiet(claimed[key])
                dirty[n] = cells
                continue
            if record.row != n:  # the row moved: the same record, at its new row
                record = e.record = dataclasses.replace(record, row=n)
            claimed[key] = n
            hits[cells] = e
            quiet[n] = record
            if e.wants:
                wants = True
            else:
                silent = True
        t.wants, t.silent = wants, silent
        return t

    def remember(
        self,
        look: Look,
        focus: SheetRows,
        plan: Plan,
        proj: Projection,
        items: Mapping[str, Mapping[str, Item]],
        written: Collection[tuple[str, str]],
    ) -> None:
        """Keep the entries of the rows that needed nothing in this poll (the quiet rows whose
        items were not put, and the parsed rows that turn out quiet) for the next poll."""
        self.tabs = {}
        for t in look.tabs.values():
            role = t.role
            gone = {key for r, key in written if r == role}
            entries = t.hits
            if gone:
                entries = {c: e for c, e in entries.items() if e.record.key not in gone}
            wrote = {x.row for x in proj.targets if x.role == role}
            diff = plan.diffs.get(role)
            known = items[role]
            for record in _records(focus, role):
                if record.row in wrote or record.key in gone:
                    continue
                wants = not _sync_off(record)
                if wants:
                    ch = diff.changes.get(record.key) if diff is not None else None
                    it = known.get(record.key)
                    if ch is None or ch.kind != "unchanged" or it is None:
                        continue
                    if not it.status or it.status.startswith("error:"):
                        continue
                cells = t.dirty[record.row]
                types = None if all(type(c) is str for c in cells) else tuple(map(type, cells))
                entries[cells] = Entry(record, types, wants)
            self.tabs[role] = TabCache(t.header, entries)


def _sync_off(record: Record) -> bool:
    return isinstance(record, ProspectRecord) and record.sync_off


def _records(rows: SheetRows, role: str) -> list[Record]:
    return list(rows.prospects) if role == "prospects" else list(rows.enrollments)
