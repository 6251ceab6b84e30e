"""A tab of a read: found by title, headers matched, data rows handed out one `Line` at a time.

A `Line` reads its cells by field name through the tab's header map and coerces them with the
functions of `cells`, labelling every problem with the header as it appears in the sheet.
Blank lines are skipped: a line is blank when every *input* cell it has is empty (status
columns and columns sheetsync does not know are not input; an unticked checkbox counts as
empty, because Google sends FALSE for every unticked box of a checkbox column). A row with an
UNCOMPUTED input cell (a formula the file holds no result for) is not data either: it is
listed in `Tab.waiting` and never parsed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from sheetsync.errors import HeaderError, TabNotFound
from sheetsync.rows import cells
from sheetsync.rows.records import RowIssue
from sheetsync.sheet.base import CellValue, Row, SheetData, Uncomputed, column_letter
from sheetsync.sheet.layout import HeaderMap, TabSpec, header_key, match_headers


@dataclass(frozen=True)
class Tab:
    spec: TabSpec
    title: str  # as found in the spreadsheet
    headers: HeaderMap
    header_row: Row
    rows: list[Row]  # data rows only (sheet row 2 is rows[0])
    pending: bool = False  # the source found UNCOMPUTED cells in this tab

    @property
    def role(self) -> str:
        return self.spec.role

    def label(self, field: str, column: int | None = None) -> str:
        """The header of `field` (of its `column`) as typed in the sheet (the configured header
        if absent)."""
        i = self.headers.get(field) if column is None else column
        if i is not None and i < len(self.header_row) and (text := self.texts[i]):
            return text
        return self.spec.column(field).header

    @cached_property
    def texts(self) -> list[str]:
        """The header row's cells as text, trimmed."""
        return [cells.clean(str(h)) for h in self.header_row]

    def has(self, field: str) -> bool:
        return self.headers.get(field) is not None

    @cached_property
    def lines(self) -> list[Line]:
        """The non-blank data rows, with their 1-based sheet row numbers."""
        return [Line(self, n, row) for n, row in self.numbered]

    @cached_property
    def numbered(self) -> list[tuple[int, Row]]:
        """The non-blank data rows as (1-based sheet row, cells): `lines` without the Line
        objects, for a caller that makes one only for a row it parses."""
        return list(self._numbered())

    @cached_property
    def waiting(self) -> list[tuple[Line, list[str]]]:
        """The rows left out of `numbered` because input cells of theirs are UNCOMPUTED, with
        the fields of those cells."""
        if not self.pending:
            return []
        out = []
        for n, row in enumerate(self.rows, start=2):
            fields = self._uncomputed(row)
            if fields:
                out.append((Line(self, n, row), fields))
        return out

    def _uncomputed(self, row: Row) -> list[str]:
        return [
            c.field
            for c in self.spec.inputs
            if (i := self.headers.get(c.field)) is not None
            and i < len(row)
            and isinstance(row[i], Uncomputed)
        ]

    def _numbered(self) -> Iterator[tuple[int, Row]]:
        inputs = [
            (i, c.kind == "bool") for c in self.spec.inputs for i in self.headers.all(c.field)
        ]
        edges = cells.EDGES
        for n, row in enumerate(self.rows, start=2):
            if self.pending and self._uncomputed(row):
                continue  # in `waiting`
            for i, is_bool in inputs:
                value = row[i] if i < len(row) else None
                if value is None or (is_bool and value is False):
                    continue
                if isinstance(value, str) and not value.strip(edges):
                    continue  # cells.is_empty, inline: it runs for every row of every read
                yield n, row
                break

    def header_issues(self) -> list[RowIssue]:
        """A header that appears twice: the first column is used; say so on row 1."""
        issues = []
        for hits in self.headers.duplicates.values():
            text = cells.clean(str(self.header_row[hits[0]]))
            letters = [column_letter(i) for i in hits]
            times = "twice" if len(hits) == 2 else f"{len(hits)} times"
            message = (
                f"header {text!r} appears {times} (columns {_and(letters)}); rename or delete one"
            )
            issues.append(RowIssue(self.role, 1, message))
        return issues


@dataclass(frozen=True)
class Line:
    """One data row of a tab."""

    tab: Tab
    row: int  # 1-based sheet row
    values: Sequence[CellValue]

    def column(self, field: str) -> int | None:
        """The column that fills `field` on this row: the first of its columns (in order of
        preference) whose cell is filled in (`cells.is_blank`), else the first of them."""
        cols = self.tab.headers.columns.get(field)
        if cols is None:
            return None
        if len(cols) > 1:
            for i in cols:
                if i < len(self.values) and not cells.is_blank(self.values[i]):
                    return i
        return cols[0]

    def raw(self, field: str) -> CellValue:
        i = self.column(field)
        return self.values[i] if i is not None and i < len(self.values) else None

    def label(self, field: str) -> str:
        return self.tab.label(field, self.column(field))

    def empty(self, field: str) -> bool:
        return cells.is_empty(self.raw(field))

    def text(self, field: str, limit: int = cells.LIMIT_TEXT) -> str:
        return cells.as_text(self.raw(field), self.label(field), limit)

    def required(self, field: str, limit: int = cells.LIMIT_TEXT) -> str:
        text = self.text(field, limit)
        if not text:
            raise cells.Problem(f"{self.label(field)} is empty")
        return text

    def email(self, field: str) -> str:
        return cells.as_email(self.raw(field), self.label(field))

    def phone(self, field: str) -> str:
        return cells.as_phone(self.raw(field), self.label(field))

    def flag(self, field: str) -> bool | None:
        return cells.as_bool(self.raw(field), self.label(field))

    def whole(self, field: str) -> int | None:
        return cells.as_int(self.raw(field), self.label(field))

    def day(self, field: str) -> date | None:
        return cells.as_date(self.raw(field), self.label(field))

    def items(self, field: str) -> tuple[str, ...]:
        return cells.as_list(self.raw(field), self.label(field))

    def scalar(self, field: str) -> str | int | float | bool:
        return cells.as_scalar(self.raw(field), self.label(field))


def find_tab(data: SheetData, spec: TabSpec, *, sheet: str) -> Tab | None:
    """The tab whose title matches `spec.title` case- and space-insensitively, its required
    headers checked. None for a missing optional tab; TabNotFound for a missing required one."""
    title = find_title(data, spec)
    if title is None:
        if spec.optional:
            return None
        raise TabNotFound(spec.title, list(data.titles or data.tabs), sheet=sheet)
    rows = data.tabs[title]
    header_row: Row = list(rows[0]) if rows else []
    headers = match_headers(spec, header_row)
    for col in spec.columns:
        if col.required and headers.get(col.field) is None:
            raise HeaderError(title, col.header, sheet=sheet)
    return Tab(spec, title, headers, header_row, rows[1:], pending=title in data.uncomputed)


def find_title(data: SheetData, spec: TabSpec) -> str | None:
    """The title of the tab of the read that `spec` names (case- and space-insensitively)."""
    want = header_key(spec.title)
    return next((t for t in data.tabs if header_key(t) == want), None)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
