"""`sheetsync import FILE.csv`: append a lead export to the Prospects tab, in one write.

The CSV's header row is matched like the tab's (`sheet.layout.match_headers`: the alias table
of `sheet.aliases`, `[sheet.columns.prospects]` and `custom_fields`), so the exports sheetsync
recognises import without a mapping; each imported row fills the tab's columns with the value
a sync would take from it (the first filled-in column in order of preference). A column the
tab lacks is added at the end of its header row; CSV columns no field matches are not imported.

- Only new emails are added. A row whose email is already in the tab, or repeats an earlier
  line of the file, is skipped and reported; so is a row without a usable email (empty,
  malformed or a placeholder such as `email_not_unlocked@domain.com`).
- With a campaign, every valid email of the file (added or already in the tab) gets a ticked
  Enrollments row for it, unless the tab already has that (email, campaign) row.
- The file is read as a stream (a progress callback gets bytes read and the file size). Text
  must be UTF-8 (with or without a BOM) or UTF-16 with a BOM; the delimiter may be `,`, `;` or a
  tab. Lines before the header row (LinkedIn's Connections.csv starts with notes) are skipped:
  the header row is the first of the first ten rows that has an email column.
- Nothing is written until the whole file has been read: a file that turns out unreadable
  halfway changes nothing.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sheetsync.config import SheetConfig
from sheetsync.errors import UsageError
from sheetsync.rows import cells
from sheetsync.rows.reader import Line, Tab, find_tab
from sheetsync.sheet.base import CellWrite, SheetData, SheetSource
from sheetsync.sheet.layout import TabSpec, describe_columns, match_headers

HEADER_SEARCH = 10  # rows looked at for the header row
PROGRESS_EVERY = 500  # rows between progress callbacks
Progress = Callable[[int, int], None]
CsvRow = list[str]


@dataclass(frozen=True)
class Skipped:
    line: int  # line of the file (1-based)
    reason: str


@dataclass
class ImportReport:
    tab: str  # the Prospects tab's title
    added: int = 0
    first_row: int = 0  # sheet row of the first added prospect
    enrolled: int = 0  # Enrollments rows added
    already_enrolled: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    invalid: int = 0  # skipped for a missing or unusable email
    columns: str = ""  # which CSV headers feed which column of the tab (`describe_columns`)
    ignored: list[str] = field(default_factory=list)  # CSV headers not imported
    new_headers: list[str] = field(default_factory=list)  # headers added to the tab


def import_csv(
    source: SheetSource,
    sheet: SheetConfig,
    path: Path,
    *,
    campaign: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Append the lead export at `path` to the Prospects tab of `sheet` (and ticked Enrollments
    rows for `campaign`), with one read and one write of `source`; the read asks for the
    Campaigns and Enrollments tabs only with a `campaign`."""
    spec = sheet.tab("prospects")
    with _CsvFile(path) as csv_file:
        header, rows = csv_file.header_and_rows(spec)
        csv_map = match_headers(spec, header)
        csv_tab = Tab(spec, path.name, csv_map, list(header), [])  # a Line per row reads it
        roles = ["prospects"] + (["campaigns", "enrollments"] if campaign is not None else [])
        data = source.read([sheet.tab(r).title for r in roles])
        prospects = find_tab(data, spec, sheet=sheet.name)
        assert prospects is not None
        plan = _Appender(prospects, [c.field for c in spec.inputs if csv_map.all(c.field)])
        report = ImportReport(tab=prospects.title, first_row=plan.next_row)
        report.columns = describe_columns(spec, csv_map, header)
        used = {i for f in plan.fields for i in csv_map.all(f)}
        report.ignored = [h.strip() for i, h in enumerate(header) if i not in used and h.strip()]
        enroll = _Enrollments(sheet, data, campaign) if campaign is not None else None
        known = _keys(prospects)
        seen: dict[str, int] = {}
        for n, (line_no, row) in enumerate(rows, start=1):
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(csv_file.done, csv_file.size)
            line = Line(csv_tab, line_no, row)  # the file's row, read as a sync reads the tab
            try:
                key = line.email("email")
                if not key:
                    raise cells.Problem(f"{line.label('email')} is empty")
            except cells.Problem as p:
                report.skipped.append(Skipped(line_no, p.message))
                report.invalid += 1
                continue
            if key in seen:
                report.skipped.append(Skipped(line_no, f"{key} repeats line {seen[key]}"))
                continue
            seen[key] = line_no
            if key in known:
                where = f"row {known[key]} of the {prospects.title} tab"
                report.skipped.append(Skipped(line_no, f"{key} is already in {where}"))
            else:
                values: dict[str, str | bool] = {f: str(line.raw(f) or "") for f in plan.fields}
                if "phone" in values:  # the apostrophe exports put first for spreadsheets
                    values["phone"] = str(values["phone"]).strip().removeprefix("'")
                plan.add(values)
                report.added += 1
            if enroll is not None:
                enroll.add(key)
        if not seen and not report.skipped:
            raise UsageError(f"{path} has a header row but no leads under it; export them again")
        if progress is not None:
            progress(csv_file.size, csv_file.size)
    writes = plan.writes()
    report.new_headers = plan.new_headers
    if enroll is not None:
        writes += enroll.writes()
        report.enrolled, report.already_enrolled = len(enroll.added), enroll.already
    source.write(writes)
    return report


def summary(
    report: ImportReport, path: Path, campaign: str | None, *, shown: int = 10
) -> list[str]:
    """What `sheetsync import` prints: what was added, enrolled and skipped, and the columns."""
    first, last = report.first_row, report.first_row + report.added - 1
    rows = f" (rows {first}-{last})" if report.added > 1 else f" (row {first})" * report.added
    out = [f"Imported {path.name} into the {report.tab} tab:"]
    out.append(f"  added {report.added} prospect{'s' * (report.added != 1)}{rows}")
    if campaign is not None:
        out.append(
            f"  ticked {report.enrolled} Enrollments row{'s' * (report.enrolled != 1)} for "
            f"{campaign!r}"
            + (f" ({report.already_enrolled} had one already)" if report.already_enrolled else "")
        )
    if report.skipped:
        out.append(f"  skipped {len(report.skipped)}:")
        out += [f"    line {s.line}: {s.reason}" for s in report.skipped[:shown]]
        if len(report.skipped) > shown:
            out.append(f"    … and {len(report.skipped) - shown} more")
    out.append("  columns: " + report.columns)
    if report.new_headers:
        out.append(
            f"  added the column{'s' * (len(report.new_headers) != 1)} "
            + ", ".join(repr(h) for h in report.new_headers)
            + f" to the {report.tab} tab"
        )
    if report.ignored:
        out.append(
            "  not imported: "
            + ", ".join(repr(h) for h in report.ignored)
            + " (name one in custom_fields to import it as a custom field)"
        )
    if report.added or report.enrolled:
        out.append(
            "The next sync sends them to WarmySender; `sheetsync plan` shows what it will send."
        )
    return out


def _keys(tab: Tab) -> dict[str, int]:
    """The normalised emails of a tab -> the first sheet row with each."""
    out: dict[str, int] = {}
    for n, values in tab.numbered:
        try:
            key = Line(tab, n, values).email("email")
        except cells.Problem:
            continue
        if key:
            out.setdefault(key, n)
    return out


class _Appender:
    """New rows at the end of a tab: cell writes, and the headers the tab lacks."""

    def __init__(self, tab: Tab, fields: list[str]) -> None:
        self.tab = tab
        self.fields = fields
        self.next_row = len(tab.rows) + 2  # under the last row read (row 1 is the header)
        self.new_headers: list[str] = []
        self.cols: dict[str, int] = {}
        width = len(tab.header_row)
        for f in fields:
            col = tab.headers.get(f)
            if col is None:
                col = width
                width += 1
                self.new_headers.append(tab.spec.column(f).header)
            self.cols[f] = col
        self._writes = [
            CellWrite(tab.title, 1, self.cols[f], tab.spec.column(f).header)
            for f in fields
            if self.cols[f] >= len(tab.header_row)
        ]

    def add(self, values: dict[str, str | bool]) -> None:
        for f, value in values.items():
            if not cells.is_empty(value):
                value = cells.clean(value) if isinstance(value, str) else value
                self._writes.append(CellWrite(self.tab.title, self.next_row, self.cols[f], value))
        self.next_row += 1

    def writes(self) -> list[CellWrite]:
        return self._writes


class _Enrollments:
    """Ticked Enrollments rows for one campaign of the Campaigns tab."""

    def __init__(self, sheet: SheetConfig, data: SheetData, campaign: str) -> None:
        campaigns = find_tab(data, sheet.tab("campaigns"), sheet=sheet.name)
        tab = find_tab(data, sheet.tab("enrollments"), sheet=sheet.name)
        assert campaigns is not None and tab is not None
        names: dict[str, str] = {}
        for line in campaigns.lines:
            try:
                name = line.required("name")
            except cells.Problem:
                continue
            names.setdefault(name.casefold(), name)
        wanted = campaign.strip().casefold()
        if wanted not in names:
            shown = ", ".join(repr(n) for n in names.values())
            raise UsageError(
                f"no campaign {campaign!r} in the {campaigns.title} tab; add it there first"
                + (f" or pass one of its campaigns to --campaign: {shown}" if shown else "")
            )
        self.name = names[wanted]
        self.appender = _Appender(tab, ["email", "campaign", "enrolled"])
        self.have: set[str] = set()
        for n, values in tab.numbered:
            line = Line(tab, n, values)
            try:
                email, ref = line.email("email"), line.text("campaign")
            except cells.Problem:
                continue
            if email and ref.casefold() == wanted:
                self.have.add(email)
        self.added: list[str] = []
        self.already = 0

    def add(self, email: str) -> None:
        if email in self.have:
            self.already += 1
            return
        self.have.add(email)
        self.added.append(email)
        self.appender.add({"email": email, "campaign": self.name, "enrolled": True})

    def writes(self) -> list[CellWrite]:
        return self.appender.writes()


class _CsvFile:
    """A CSV file read as a stream of rows, with the errors a person can fix."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.raw: BinaryIO = path.open("rb")
            self.size = path.stat().st_size
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise UsageError(f"{path} is a folder; give the CSV file itself") from None
        except OSError as exc:
            raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
        bom = self.raw.read(2)
        self.raw.seek(0)
        utf16 = bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        encoding = "utf-16" if utf16 else "utf-8-sig"
        self.text = io.TextIOWrapper(self.raw, encoding=encoding, newline="")

    def __enter__(self) -> _CsvFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.text.close()

    @property
    def done(self) -> int:
        return self.raw.tell()

    def header_and_rows(self, spec: TabSpec) -> tuple[CsvRow, Iterator[tuple[int, CsvRow]]]:
        """The header row (the first of the first rows with an email column) and the data rows
        under it as (line of the file, cells)."""
        with _readable(self.path):
            sample = self.text.read(64 * 1024)
            self.text.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, ",;\t")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(self.text, dialect)
            looked: list[CsvRow] = []
            for row in reader:
                if any(c.strip() for c in row) and match_headers(spec, row).all("email"):
                    return row, self._rows(reader)
                looked.append(row)
                if len(looked) >= HEADER_SEARCH:
                    break
        filled = [r for r in looked if any(c.strip() for c in r)]
        if not filled:
            raise UsageError(f"{self.path} is empty; export the leads again")
        shown = ", ".join(repr(c.strip()) for c in filled[0][:8] if c.strip())
        names = ", ".join(repr(n) for n in spec.column("email").names()[:4])
        raise UsageError(
            f"{self.path} has no email column (its first row: {shown}); name it {names}, … or "
            f'map yours with [sheet.columns.prospects] email = "<header>"'
        )

    def _rows(self, reader: Any) -> Iterator[tuple[int, CsvRow]]:
        with _readable(self.path):
            for row in reader:
                if any(c.strip() for c in row):
                    yield reader.line_num, row


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Decoding and CSV errors as one clear line."""
    try:
        yield
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        raise UsageError(
            f"{path} is not UTF-8 text (it has the byte 0x{bad}); save it as CSV UTF-8 (in "
            f"Excel: Save As > CSV UTF-8) and import it again"
        ) from None
    except csv.Error as exc:
        raise UsageError(
            f"{path} is not a readable CSV file ({exc}); export it as CSV again"
        ) from None
