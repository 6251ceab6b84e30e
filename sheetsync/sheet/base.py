"""The one contract between sheetsync and a spreadsheet.

A source reads every configured tab at once and writes a set of cells at once. Rows come back
as Google returns them: row 0 is the header row, each row trimmed of trailing empty cells,
trailing empty rows dropped, an empty row in the middle as ``[]``. Cell values are typed:

    str        text (never a formula: formulas are read as their computed value)
    int/float  numbers (Google date cells arrive as serial numbers; the row normaliser turns
               them into dates only in date columns)
    bool       checkboxes and TRUE/FALSE cells
    datetime   date cells of an xlsx workbook
    None       an empty cell inside a row (xlsx); Google sends "" instead
    UNCOMPUTED a formula cell whose result the file does not hold (an xlsx workbook saved by a
               program that does not calculate, e.g. openpyxl): its value is unknown, not empty

Sheet row numbers are 1-based (row 1 = header); column indexes are 0-based.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from sheetsync.errors import TabNotFound


class Uncomputed:
    """The type of UNCOMPUTED, the value of a formula cell that has no computed result."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNCOMPUTED"

    def __str__(self) -> str:
        return "(formula not computed)"


UNCOMPUTED = Uncomputed()
CellValue = str | int | float | bool | datetime | date | Uncomputed | None
Row = list[CellValue]


def column_letter(index: int) -> str:
    """A 0-based column index in A1 notation: 0 → A, 25 → Z, 26 → AA."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def trim_row(row: Sequence[CellValue]) -> Row:
    """The row without its trailing empty cells (None or ""), as Google sends rows."""
    end = len(row)
    while end and (row[end - 1] is None or row[end - 1] == ""):
        end -= 1
    return list(row[:end])


def trim_rows(rows: list[Row]) -> list[Row]:
    """The rows without trailing empty rows, as Google sends a range."""
    end = len(rows)
    while end and not rows[end - 1]:
        end -= 1
    return rows[:end]


@dataclass(frozen=True)
class SheetData:
    """One read of the spreadsheet: the rows of every requested tab that exists."""

    tabs: dict[str, list[Row]]  # by exact tab title, in the order requested
    titles: list[str]  # every tab title in the spreadsheet, for "tab not found" messages
    uncomputed: frozenset[str] = frozenset()  # titles of the tabs holding an UNCOMPUTED cell

    def require(self, tab: str, *, sheet: str | None = None) -> list[Row]:
        """The rows of `tab`, or TabNotFound naming the tabs that exist."""
        if tab not in self.tabs:
            raise TabNotFound(tab, list(self.titles), sheet=sheet)
        return self.tabs[tab]


@dataclass(frozen=True)
class KeyColumns:
    """A fresh read of a tab's header row and a few columns, taken right before writing."""

    header: Row
    columns: dict[int, list[CellValue]]  # column index -> values from row 2 down (index 0 = row 2)
    # In `columns` an empty cell is None (both sources) and trailing empty cells are dropped.


@dataclass(frozen=True)
class CellWrite:
    tab: str
    row: int  # 1-based sheet row
    col: int  # 0-based column index
    value: str | int | float | bool | None  # None clears the cell; strings are written RAW


@dataclass
class RequestCounts:
    """Requests a source made, by kind. `reads` and `writes` are what PRODUCT.md reports."""

    reads: int = 0
    writes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, *, write: bool) -> None:
        if write:
            self.writes += 1
        else:
            self.reads += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1


@dataclass(frozen=True)
class TabLayout:
    """A tab for `sheetsync init` to create: headers, checkboxes, protected status columns."""

    title: str
    headers: list[str]
    checkbox_columns: list[int]  # 0-based; checkbox validation on rows 2 and down
    status_columns: list[int]  # written by sheetsync: protected with a warning (Google) + a note
    note: str  # the explanatory note put on the status headers


def match_titles(wanted: Sequence[str], titles: Sequence[str]) -> list[str]:
    """The tab titles to read for `wanted`: the exact title when it exists, else the one title
    that matches it case- and space-insensitively (" prospects " for "Prospects"), else as is."""

    def key(t: str) -> str:
        return "".join(t.split()).casefold()

    out = []
    for w in wanted:
        hits = [t for t in titles if key(t) == key(w)]
        out.append(w if w in titles or len(hits) != 1 else hits[0])
    return out


class SheetSource(Protocol):
    """Google Sheets, an xlsx workbook, or anything else that holds tabs of rows."""

    counts: RequestCounts

    @property
    def label(self) -> str:
        """Human name for messages: the spreadsheet id or the workbook path."""

    def read(self, tabs: Sequence[str]) -> SheetData:
        """Read every tab in `tabs` that exists, in ONE request. Missing tabs are left out of
        `SheetData.tabs` (the caller decides whether that is an error)."""

    def read_keys(self, columns: Mapping[str, Sequence[int]]) -> dict[str, KeyColumns]:
        """Re-read the header row and the given columns of each tab, in ONE request."""

    def check_writable(self) -> None:
        """Raise SheetUnavailable when a write would be refused now (the workbook is open in
        Excel or LibreOffice); the cycle asks right after reading, before any API call."""

    def write(self, cells: Sequence[CellWrite]) -> None:
        """Write every cell in ONE request, values RAW (text stays text, never a formula).
        Writing beyond the last column or row grows the tab. An empty list does nothing."""

    def create_tabs(self, layouts: Sequence[TabLayout]) -> list[str]:
        """Create the tabs that do not exist yet (headers, checkbox validation, frozen header
        row, status columns protected with a warning and noted). Existing tabs and their data
        are never touched. Returns the titles created."""

    def close(self) -> None:
        """Release what the source holds (an HTTP session); the source is not used after."""
