"""An xlsx workbook read at the level of its package (ECMA-376 Part 1, SpreadsheetML).

A workbook is a zip of XML parts. `_rels/.rels` names the workbook part (`xl/workbook.xml`),
whose `<sheets>` list the tabs in order (name and relationship id); the workbook's relationships
(`xl/_rels/workbook.xml.rels`) map each id to a worksheet part (`xl/worksheets/sheet1.xml`) and
name the shared strings and styles parts. A worksheet holds its cells row by row:

    <sheetData><row r="2"><c r="B2" s="3" t="s"><v>7</v></c>…</row>…</sheetData>

`t` is the type of the value in `<v>`: `n` (number, the default; a date when its style `s` has
a date format, counted from 1899-12-30, or 1904-01-01 when the workbook says `date1904`), `s`
(an index into the shared strings), `str` (text computed by a formula), `inlineStr` (text in
`<is>` instead of `<v>`), `b` (0/1), `e` (an error such as `#N/A`), `d` (ISO 8601). A formula
cell has `<f>` beside the `<v>` that caches its result; the program that saved the file wrote
that result. A formula cell without a result (saved by a program that does not calculate, such
as openpyxl: `<f>…</f><v/>`) reads as UNCOMPUTED, never as empty. Text escapes `_xHHHH_` are
decoded (`_x000D_` is a carriage return).

Values are what a spreadsheet shows: text, int or float, bool, datetime (or time, or timedelta
for a duration format), None for an empty cell. Nothing is evaluated.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO
from xml.etree.ElementTree import Element, fromstring, iterparse

from openpyxl.styles.numbers import builtin_format_code, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel, from_ISO8601

from sheetsync.sheet.base import UNCOMPUTED, CellValue, Row, trim_row

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
ROW, C, V, F, IS, T, R = (f"{{{MAIN}}}{n}" for n in ("row", "c", "v", "f", "is", "t", "r"))
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


class PackageError(ValueError):
    """The file is a zip but not a workbook sheetsync can read (a part missing or malformed)."""


def unescape(text: str) -> str:
    """ST_Xstring: `_xHHHH_` is the character HHHH (`_x005F_` a literal underscore)."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve(source_part: str, target: str) -> str:
    """A relationship target as a part name (no leading slash), relative to its source part."""
    if target.startswith("/"):
        return posixpath.normpath(target[1:])
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


class Package:
    """One snapshot of a workbook: the zip read from bytes, its tabs and their parts."""

    def __init__(self, data: bytes) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            self.workbook = self._office_document()
            self.workbook_rels = self.relationships(self.workbook)
            root = self.xml(self.workbook)
        except (KeyError, zipfile.BadZipFile, SyntaxError) as exc:
            raise PackageError(str(exc)) from None
        pr = root.find(f"{{{MAIN}}}workbookPr")
        self.date1904 = pr is not None and pr.get("date1904", "0").lower() in ("1", "true")
        self.sheets: dict[str, str] = {}  # tab title -> worksheet part, in tab order
        # every sheet's name -> its kind (the relationship type's last word: worksheet,
        # chartsheet, …; "" without one)
        self.kinds: dict[str, str] = {}
        for sheet in root.iterfind(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet"):
            name = sheet.get("name", "")
            rel = self.workbook_rels.get(sheet.get(f"{{{REL}}}id", ""))
            self.kinds[name] = rel[0].rsplit("/", 1)[-1] if rel is not None else ""
            if rel is not None and rel[0].endswith("/worksheet"):
                self.sheets[name] = rel[1]
        self.uncomputed: set[str] = set()  # titles of the tabs read that hold UNCOMPUTED cells
        self._strings: list[str] | None = None
        self._styles: tuple[frozenset[int], frozenset[int]] | None = None

    def _office_document(self) -> str:
        for rel_type, part in self.relationships("").values():
            if rel_type.endswith("/officeDocument"):
                return part
        raise PackageError("no workbook part")

    def xml(self, part: str) -> Element:
        root: Element = fromstring(self.zip.read(part))
        return root

    def relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type, target part) of `part` ("" for the package itself)."""
        path = rels_path(part) if part else "_rels/.rels"
        if path not in self.zip.NameToInfo:
            return {}
        out = {}
        for rel in self.xml(path).iterfind(f"{{{PKG_REL}}}Relationship"):
            if rel.get("TargetMode") == "External":
                continue
            out[rel.get("Id", "")] = (rel.get("Type", ""), resolve(part, rel.get("Target", "")))
        return out

    def related(self, kind: str) -> str | None:
        """The workbook's part of relationship type `kind` (sharedStrings, styles, calcChain)."""
        for rel_type, part in self.workbook_rels.values():
            if rel_type.endswith("/" + kind) and part in self.zip.NameToInfo:
                return part
        return None

    # --- what cell values need -------------------------------------------------------------

    @property
    def strings(self) -> list[str]:
        if self._strings is None:
            part = self.related("sharedStrings")
            self._strings = [] if part is None else [_text(si) for si in self.xml(part)]
        return self._strings

    @property
    def styles(self) -> tuple[frozenset[int], frozenset[int]]:
        """(style indexes with a date format, those with a duration format like [h]:mm)."""
        if self._styles is None:
            dates: set[int] = set()
            durations: set[int] = set()
            part = self.related("styles")
            if part is not None:
                root = self.xml(part)
                custom = {
                    int(n.get("numFmtId", "-1")): n.get("formatCode", "")
                    for n in root.iterfind(f"{{{MAIN}}}numFmts/{{{MAIN}}}numFmt")
                }
                for i, xf in enumerate(root.iterfind(f"{{{MAIN}}}cellXfs/{{{MAIN}}}xf")):
                    fid = int(xf.get("numFmtId", "0"))
                    fmt = custom.get(fid) or builtin_format_code(fid)
                    if is_date_format(fmt):
                        dates.add(i)
                    if is_timedelta_format(fmt):
                        durations.add(i)
            self._styles = (frozenset(dates), frozenset(durations))
        return self._styles

    # --- cells -------------------------------------------------------------------------------

    def rows(self, title: str) -> list[Row]:
        """The tab's rows as a source returns them (see sheet/base.py): row 0 is sheet row 1."""
        out: list[Row] = []
        with self.zip.open(self.sheets[title]) as fh:
            for r, cells in iter_rows(fh):
                row: Row = []
                for col, cell in cells:
                    row.extend(None for _ in range(col - len(row)))
                    value = self.value(cell)
                    if value is UNCOMPUTED:
                        self.uncomputed.add(title)
                    row.append(value)
                row = trim_row(row)
                if row:  # rows that only carry formatting are not data (nor padded up to)
                    out.extend([] for _ in range(r - 1 - len(out)))
                    out.append(row)
        return out

    def value(self, c: Element) -> CellValue:
        t = c.get("t", "n")
        f = c.find(F)
        text = c.findtext(V)
        if t == "inlineStr":
            inline = c.find(IS)
            return (_text(inline) or None) if inline is not None else None
        if not text:
            return UNCOMPUTED if f is not None and t != "str" else None
        if t == "n":
            number = float(text) if any(ch in text for ch in ".Ee") else int(text)
            style = int(c.get("s", "0"))
            dates, durations = self.styles
            if style not in dates:
                return number
            try:
                when: datetime = from_excel(
                    number,
                    MAC_EPOCH if self.date1904 else WINDOWS_EPOCH,
                    timedelta=style in durations,
                )
            except (OverflowError, ValueError):
                return "#VALUE!"
            return when if isinstance(when, datetime) else str(when)
        if t == "s":
            return self.strings[int(text)] or None
        if t == "b":
            return text.strip() in ("1", "true")
        if t == "d":
            parsed: datetime = from_ISO8601(text)
            return parsed
        return unescape(text)  # str (a formula's text), e (an error value like #N/A)


def iter_rows(fh: IO[bytes]) -> Iterator[tuple[int, list[tuple[int, Element]]]]:
    """(1-based row number, [(0-based column, <c> element)]) for each `<row>` of a worksheet,
    numbering rows and cells that omit their `r` after the one before, as Excel does."""
    r = 0
    for _, el in iterparse(fh, events=("end",)):
        if el.tag != ROW:
            continue
        r = int(el.get("r") or r + 1)
        cells = []
        col = -1
        for c in el.iter(C):
            ref = c.get("r")
            col = column_index(ref) if ref else col + 1
            cells.append((col, c))
        yield r, cells
        el.clear()


def column_index(ref: str) -> int:
    """The 0-based column of a cell reference: "B7" -> 1, "AA1" -> 26."""
    n = 0
    for ch in ref:
        if ch.isdigit():
            break
        n = n * 26 + (ord(ch.upper()) - 64)
    return n - 1


def _text(el: Element) -> str:
    """The text of a shared or inline string: its `<t>`, or the `<t>` of each rich-text run
    (phonetic runs left out)."""
    parts = [t.text or "" for t in el.findall(T)]
    parts += [t.text or "" for r in el.findall(R) for t in r.findall(T)]
    return unescape("".join(parts))
