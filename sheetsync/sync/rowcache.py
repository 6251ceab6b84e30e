"""The engine's row cache: what each row of the long tabs (Prospects, Enrollments) came to at the
previous poll, so that a row that needs nothing costs one lookup.

An entry belongs to a row's raw cells as read (every cell, status cells included, with their
types when some cell is not text: `True`, `1` and `1.0` are equal in Python, not in a cell) and
holds the record the row parsed to. A row gets an entry only when, at the end of the poll that
read it, it needed nothing: it parsed without an issue, its change against state was
`unchanged` (settled, nothing planned), its item is not in error, and its status cells showed
what the write-back wanted. While its cells and its item stay as they were, the next poll would
find the same, so a hit is left out of parsing, planning and the write-back (they see the other
rows: `focus`) and its record is reused where every row is needed (the executor: `rows`).

The lookup: a tab read exactly as at the previous poll (the common case) is one comparison of
the two lists of rows, in C, and every entry holds as it was; otherwise a row is compared with
the previous read's row at the same position, and a row that moved (a sort, an inserted row) is
looked up by its cells among all the previous read's rows. Two rows that find the same entry (a
row pasted twice) are both parsed.

Dropped: the entries of a row whose item is put (`State.written`); every entry of a tab whose
header row changes; everything when the engine reads its items again (a failed cycle, another
process that synced the sheet). The cache keeps only the rows of the latest read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import cast

from sheetsync.config import SheetConfig
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.reader import find_title
from sheetsync.rows.records import EnrollmentRecord, ProspectRecord, SheetRows
from sheetsync.sheet.base import CellValue, Row, SheetData
from sheetsync.state import Item
from sheetsync.sync import statuses
from sheetsync.sync.plan import Plan
from sheetsync.sync.writeback import Projection

CACHED = ("prospects", "enrollments")
Record = ProspectRecord | EnrollmentRecord
_BLANK: Row = []
_row = attrgetter("row")


@dataclass(slots=True)
class Entry:
    record: Record
    types: tuple[type, ...] | None  # the cells' types; None when every cell is text
    wants: bool  # the row wants status values (a prospect with an unticked Sync box wants none)
    seen: int = 0  # the poll that last found it
    at: int = 0  # the sheet row it was found at then


@dataclass
class TabCache:
    header: object  # the header row's cells and types when the entries were made
    rows: list[Row]  # the data rows of that read
    entries: list[Entry | None]  # by position in `rows`: None for a row that needed something
    quiet: list[Record] = field(default_factory=list)  # the entries' records, in row order
    wanting: int = 0  # entries that want status values
    typed: list[tuple[int, tuple[type, ...]]] = field(default_factory=list)  # (position, types)
    pending: list[int] = field(default_factory=list)  # positions of rows to parse (no entry)

    @classmethod
    def of(cls, header: object, rows: list[Row], entries: list[Entry | None]) -> TabCache:
        kept = [(i, e) for i, e in enumerate(entries) if e is not None]
        return cls(
            header,
            rows,
            entries,
            quiet=[e.record for _, e in kept],
            wanting=sum(1 for _, e in kept if e.wants),
            typed=[(i, e.types) for i, e in kept if e.types is not None],
            pending=[i for i, (r, e) in enumerate(zip(rows, entries, strict=True)) if r and not e],
        )

    def same(self, rows: list[Row]) -> bool:
        """Whether `rows` are these rows, cell for cell and type for type (one comparison of
        the two lists, in C, and the types of the rows that hold more than text)."""
        return rows == self.rows and all(
            tuple(map(type, rows[i])) == types for i, types in self.typed
        )

    def by_cells(self) -> dict[tuple[CellValue, ...], Entry]:
        return {tuple(r): e for r, e in zip(self.rows, self.entries, strict=True) if e}


class QuietKeys(Collection[str]):
    """The keys of a tab's quiet rows that want a status, counted as they are found and made a
    set only when a membership is asked (the diff needs none when every row is quiet)."""

    def __init__(self, records: list[Record], dropped: set[int], count: int) -> None:
        self._records, self._dropped, self._count = records, dropped, count
        self._set: set[str] | None = None

    def _keys(self) -> set[str]:
        if self._set is None:
            self._set = {
                r.key for r in self._records if r.row not in self._dropped and not _sync_off(r)
            }
        return self._set

    def __len__(self) -> int:
        return self._count if self._set is None else len(self._set)

    def __contains__(self, key: object) -> bool:
        return key in self._keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())


@dataclass
class TabLook:
    """One cached tab of one read: the rows the cache answers and the rows still to parse."""

    role: str
    title: str
    table: list[Row]
    header: object
    quiet: list[Record] = field(default_factory=list)  # the quiet rows' records, in row order
    entries: list[Entry | None] = field(default_factory=list)  # by position, as TabCache
    dirty: dict[int, Row] = field(default_factory=dict)  # sheet row -> cells, to parse
    dropped: set[int] = field(default_factory=set)  # rows of `quiet` found to need parsing
    wanting: int = 0  # quiet rows that want status values (keys the diff may ask about)
    unchanged: TabCache | None = None  # the previous read's cache, when this read is the same

    def unquiet(self, row: int) -> None:
        e = self.entries[row - 2]
        if e is None:
            return
        self.entries[row - 2] = None
        self.dirty[row] = self.table[row - 1]
        self.dropped.add(row)
        if e.wants:
            self.wanting -= 1

    def unquiet_keys(self, keys: set[str]) -> bool:
        """Parse the quiet rows holding these keys too; whether there were any."""
        if not keys:
            return False
        claimed = {r.key: r.row for r in self.quiet if r.row not in self.dropped}
        hit = keys & claimed.keys()
        for key in hit:
            self.unquiet(claimed[key])
        return bool(hit)

    def records(self) -> list[Record]:
        if not self.dropped:
            return self.quiet
        return [r for r in self.quiet if r.row not in self.dropped]

    def to_parse(self) -> list[Row]:
        """The tab as read, its quiet rows blanked (a blank row parses to nothing) and those
        after the last row to parse left out."""
        if not self.dirty:
            return self.table[:1]
        out = [self.table[0], *[_BLANK] * (max(self.dirty) - 1)]
        for row, cells in self.dirty.items():
            out[row - 1] = cells
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
            unknown = any(w.role == "prospects" and w.key is None for w in focus.waiting)
            for t in self.tabs.values():
                if unknown:  # a prospect row's email waits for a formula: the plan needs all
                    for r in t.records():
                        t.unquiet(r.row)
                        clashes = True
                    continue
                keys = {r.key for r in _records(focus, t.role)}
                keys.update(i.key for i in focus.issues if i.role == t.role and i.key)
                clashes |= t.unquiet_keys(keys)
            if not clashes:
                break
        prospects, enrollments = focus.prospects, focus.enrollments
        quiet = 0
        for t in self.tabs.values():
            kept = t.records()
            quiet += len(kept)
            parsed = _records(focus, t.role)
            merged = sorted([*kept, *parsed], key=_row) if parsed else kept
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

    def forget(self, keys: Collection[tuple[str, str]], *, emails: Collection[str] = ()) -> bool:
        """Parse the quiet rows of these (role, key) again (their items changed), and the quiet
        Enrollments rows of these emails (stopped people); whether there were any."""
        hit = False
        for t in self.tabs.values():
            hit |= t.unquiet_keys({key for role, key in keys if role == t.role})
            if emails and t.role == "enrollments":
                for r in t.records():
                    if getattr(r, "email", None) in emails:
                        t.unquiet(r.row)
                        hit = True
        return hit

    def unchanged(self) -> dict[str, Collection[str]]:
        """Per role, the keys of the quiet rows that want a status (for the planner's diff)."""
        return {t.role: QuietKeys(t.quiet, t.dropped, t.wanting) for t in self.tabs.values()}

    def only(self) -> dict[str, list[int]]:
        """Per tab with quiet rows that want a status, the rows the write-back must compare."""
        return {t.title: sorted(t.dirty) for t in self.tabs.values() if t.wanting}


class RowCache:
    def __init__(self) -> None:
        self.tabs: dict[str, TabCache] = {}
        self.polls = 0

    def clear(self) -> None:
        self.tabs.clear()

    def look(self, data: SheetData, sheet: SheetConfig) -> Look:
        self.polls += 1
        tabs: dict[str, TabLook] = {}
        for role in CACHED:
            title = find_title(data, sheet.tab(role))
            if title is not None:
                tabs[role] = self._look(role, title, data.tabs[title])
        return Look(data, sheet, tabs)

    def _look(self, role: str, title: str, table: list[Row]) -> TabLook:
        header = tuple(table[0]) if table else ()
        t = TabLook(role, title, table, (header, tuple(map(type, header))))
        rows = table[1:]
        cached = self.tabs.get(role)
        if cached is None or cached.header != t.header:
            t.entries = [None] * len(rows)
            t.dirty = {n: row for n, row in enumerate(rows, start=2) if row}
            return t
        if cached.same(rows):  # the whole tab as at the previous poll: every entry holds
            t.quiet, t.entries, t.wanting = list(cached.quiet), cached.entries, cached.wanting
            t.dirty = {i + 2: rows[i] for i in cached.pending}
            t.unchanged = cached
            return t
        stamp = self.polls
        before, known = cached.rows, cached.entries
        size = len(before)
        moved: dict[tuple[CellValue, ...], Entry] | None = None
        quiet, entries, dirty = t.quiet, t.entries, t.dirty
        wanting = 0
        n = 1
        for row in rows:
            n += 1
            if n - 2 < size and row == before[n - 2]:  # as at the previous poll, in its place
                e = known[n - 2]
            elif not row:
                e = None
            else:  # changed, or moved: look for its cells among the previous read's rows
                if moved is None:
                    moved = cached.by_cells()
                e = moved.get(tuple(row))
            if e is not None and e.types is not None and e.types != tuple(map(type, row)):
                e = None
            if e is None or e.seen == stamp:
                entries.append(None)
                if row:
                    dirty[n] = row
                if e is not None:  # the same cells on two rows: both are parsed
                    t.unquiet(e.at)
                continue
            e.seen, e.at = stamp, n
            record = e.record
            if record.row != n:  # the row moved: the same record, at its new row
                record = e.record = dataclasses.replace(record, row=n)
            quiet.append(record)
            entries.append(e)
            if e.wants:
                wanting += 1
        t.wanting += wanting
        return t

    def remember(
        self,
        look: Look,
        focus: SheetRows,
        plan: Plan,
        proj: Projection,
        items: Mapping[str, Mapping[str, Item]],
        written: Collection[tuple[str, str]],
        stops: Collection[str] = (),
    ) -> None:
        """Keep the entries of the rows that needed nothing in this poll (the quiet rows whose
        items were not put, and the parsed rows that turn out quiet) for the next poll. The rows
        of people whose Stop box is ticked (`stops`), and rows stopped so, are never quiet: the
        plan looks at them whatever their change."""
        self.tabs = {}
        for t in look.tabs.values():
            role = t.role
            gone = {key for r, key in written if r == role}
            wrote = {x.row for x in proj.targets if x.role == role}
            diff, known = plan.diffs.get(role), items[role]
            made = []  # (record, wants) of the parsed rows that turn out quiet
            for record in _records(focus, role):
                if record.row in wrote or record.key in gone:
                    continue
                if (record.email if isinstance(record, EnrollmentRecord) else record.key) in stops:
                    continue
                wants = not _sync_off(record)
                if wants:
                    ch = diff.changes.get(record.key) if diff is not None else None
                    it = known.get(record.key)
                    if ch is None or ch.kind != "unchanged" or it is None:
                        continue
                    if not it.status or it.status.startswith("error:"):
                        continue
                    if it.status == statuses.STOPPED:
                        continue
                made.append((record, wants))
            entries = t.entries
            dropped = bool(t.dropped)
            if gone:
                for i, e in enumerate(entries):
                    if e is not None and e.record.key in gone:
                        entries[i] = None
                        dropped = True
            if t.unchanged is not None and not made and not dropped:
                self.tabs[role] = t.unchanged  # no entry made or dropped: as it was
                continue
            for record, wants in made:
                cells = t.dirty[record.row]
                types = None if all(type(c) is str for c in cells) else tuple(map(type, cells))
                entries[record.row - 2] = Entry(record, types, wants)
            self.tabs[role] = TabCache.of(t.header, t.table[1:], entries)


def _sync_off(record: Record) -> bool:
    return isinstance(record, ProspectRecord) and record.sync_off


def _records(rows: SheetRows, role: str) -> list[Record]:
    return list(rows.prospects) if role == "prospects" else list(rows.enrollments)
