"""Writing cells into an xlsx workbook at the level of its package, changing nothing else.

openpyxl cannot save a formula together with its cached result, so a workbook it saved reads
as empty wherever Excel had computed a formula. Instead the worksheet XML of each tab written
to is patched as text, cell by cell (see xlsx_read for the format):

- a written cell replaces the `<c>` element at its address (keeping its style `s`), or is
  inserted in column order, in its `<row>` (inserted in row order when missing; the row's
  `spans` hint widened when the cell falls outside it);
- text is an inline string (`t="inlineStr"`, so the shared strings part is left as it is),
  numbers a plain `<v>`, booleans `t="b"`; None or "" clears the value (a styled cell keeps its
  style);
- the `<dimension>` grows to cover new cells;
- when a written cell held a formula, the calculation chain part (`xl/calcChain.xml`, Excel's
  list of formula cells) is dropped with its relationship and content type, as other writers
  do: Excel rebuilds it, while a stale entry makes it "repair" the workbook. A cell that was
  the anchor of a shared formula first hands its formula to the cells that shared it.

Every other byte of the worksheet, and every other part of the package, is kept as it was:
formulas and their cached results, shared strings, styles, validations, comments, other tabs.
Text is written RAW: it never becomes a formula.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from openpyxl.formula.translate import Translator, TranslatorError

from sheetsync.sheet.base import column_letter
from sheetsync.sheet.xlsx_read import Package, column_index, rels_path

EXCEL_MAX_CELL_CHARS = 32_767  # Excel refuses longer cells; longer strings are cut to fit
# characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/U+FFFF)
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LOOKS_ESCAPED = re.compile(r"_(x[0-9A-Fa-f]{4}_)")  # typed text that Excel would decode
_ATTRS = r"""((?:[^>"']|"[^"]*"|'[^']*')*?)"""
_SHEET_DATA = re.compile(r"<(?:(\w+):)?sheetData\b" + _ATTRS + r"(/?)>")
_ROW = re.compile(r"<(?:\w+:)?row\b" + _ATTRS + r"(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_CELL = re.compile(r"<(?:\w+:)?c\b" + _ATTRS + r"(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_FORMULA = re.compile(r"<(?:\w+:)?f\b" + _ATTRS + r"(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_DIMENSION = re.compile(r"(<(?:\w+:)?dimension\b[^>]*?\bref=\")([^\"]*)(\")")
_REF = re.compile(r"^([A-Z]+)(\d+)$")

Value = str | int | float | bool | None


class PatchError(ValueError):
    """A worksheet part sheetsync cannot patch (not UTF-8, no <sheetData>)."""


def attr(attrs: str, name: str) -> str | None:
    m = re.search(r"(?:^|\s)" + name + r"""\s*=\s*(?:"([^"]*)"|'([^']*)')""", attrs)
    return None if m is None else (m.group(1) if m.group(1) is not None else m.group(2))


def set_attr(attrs: str, name: str, value: str) -> str:
    pattern = r"""((?:^|\s)""" + name + r"""\s*=\s*)(?:"[^"]*"|'[^']*')"""
    if re.search(pattern, attrs):
        return re.sub(pattern, lambda m: f'{m.group(1)}"{value}"', attrs, count=1)
    return f'{attrs} {name}="{value}"'


def clean_text(text: str) -> str:
    """Text a cell can hold: without the characters XML cannot carry, cut to Excel's limit."""
    return _ILLEGAL.sub("", text)[:EXCEL_MAX_CELL_CHARS]


def escape_text(text: str) -> str:
    """Cell text as the content of an inline string's `<t>`."""
    text = _LOOKS_ESCAPED.sub(r"_x005F_\1", text)  # typed "_x0041_" stays "_x0041_"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;")  # a bare CR would be read back as a line feed


def cell_xml(prefix: str, ref: str, style: str | None, value: Value) -> str:
    """The `<c>` element for `value` at `ref` ("" for a cleared cell without a style)."""
    s = f' s="{style}"' if style is not None else ""
    if value is None or value == "":
        return f'<{prefix}c r="{ref}"{s}/>' if s else ""
    if isinstance(value, bool):
        body, t = f"<{prefix}v>{int(value)}</{prefix}v>", ' t="b"'
    elif isinstance(value, int | float) and math.isfinite(value):
        body, t = f"<{prefix}v>{value!r}</{prefix}v>", ""
    else:
        text = escape_text(clean_text(str(value)))
        t = ' t="inlineStr"'
        body = f'<{prefix}is><{prefix}t xml:space="preserve">{text}</{prefix}t></{prefix}is>'
    return f'<{prefix}c r="{ref}"{s}{t}>{body}</{prefix}c>'


def _cells(content: str) -> Iterator[tuple[int, re.Match[str]]]:
    """(0-based column, match) of each `<c>` of a row's content."""
    col = -1
    for m in _CELL.finditer(content):
        ref = attr(m.group(1), "r")
        col = column_index(ref) if ref else col + 1
        yield col, m


def _rows(content: str) -> Iterator[tuple[int, re.Match[str]]]:
    """(1-based row, match) of each `<row>` of the sheet data."""
    r = 0
    for m in _ROW.finditer(content):
        ref = attr(m.group(1), "r")
        r = int(ref) if ref else r + 1
        yield r, m


def merge(
    content: str,
    items: Iterator[tuple[int, re.Match[str]]],
    keys: Iterable[int],
    old: Callable[[int, re.Match[str]], str],
    new: Callable[[int], str],
) -> str:
    """`content` with the element of each key in `keys` replaced (by `old`) or inserted in key
    order (by `new`); elements of other keys and the text between elements are kept as is."""
    out: list[str] = []
    pos = 0
    todo = sorted(keys)
    i = 0
    for key, m in items:
        while i < len(todo) and todo[i] < key:
            out.append(content[pos : m.start()])
            pos = m.start()
            out.append(new(todo[i]))
            i += 1
        if i < len(todo) and todo[i] == key:
            out.append(content[pos : m.start()])
            out.append(old(key, m))
            pos = m.end()
            i += 1
    out.append(content[pos:])
    out.extend(new(k) for k in todo[i:])
    return "".join(out)


class _Patch:
    """The edits to one worksheet, and what they overwrote."""

    def __init__(self, prefix: str) -> None:
        self.p = prefix
        self.replaced_formula = False
        self.anchors: dict[str, tuple[str, str]] = {}  # shared formula si -> (formula, anchor)

    def row(self, r: int, values: Mapping[int, Value], m: re.Match[str] | None) -> str:
        """Row `r` (`m`, or a new row when None) with `values` written."""
        p = self.p
        attrs, content = (m.group(1), m.group(2) or "") if m is not None else ("", "")

        def old(c: int, cell: re.Match[str]) -> str:
            f = _FORMULA.search(cell.group(2) or "")
            if f is not None:
                self.replaced_formula = True
                if attr(f.group(1), "t") == "shared" and attr(f.group(1), "ref"):
                    anchor = (f.group(2) or "", f"{column_letter(c)}{r}")
                    self.anchors[attr(f.group(1), "si") or ""] = anchor
            return cell_xml(p, f"{column_letter(c)}{r}", attr(cell.group(1), "s"), values[c])

        def new(c: int) -> str:
            return cell_xml(p, f"{column_letter(c)}{r}", None, values[c])

        cells = merge(content, _cells(content), values, old, new)
        if m is None:
            return f'<{p}row r="{r}">{cells}</{p}row>' if cells else ""
        added = [c for c, v in values.items() if v not in (None, "")]
        spans = attr(attrs, "spans")
        if spans and added and ":" in spans:
            lo, hi = spans.split()[0].split(":")[0], spans.split()[-1].split(":")[-1]
            if lo.isdigit() and hi.isdigit():
                wide = f"{min(int(lo), min(added) + 1)}:{max(int(hi), max(added) + 1)}"
                attrs = set_attr(attrs, "spans", wide)
        return f"<{p}row{attrs}>{cells}</{p}row>"

    def unshare(self, content: str) -> str:
        """Each cell that shared a formula whose anchor was overwritten gets that formula,
        translated to its own address; where it cannot be translated, its cached value stays
        and the formula goes (never a cell pointing at an anchor that is gone)."""

        def fix(cell: re.Match[str]) -> str:
            body = cell.group(2) or ""
            f = _FORMULA.search(body)
            if f is None or attr(f.group(1), "t") != "shared":
                return cell.group(0)
            si = attr(f.group(1), "si") or ""
            if si not in self.anchors:
                return cell.group(0)
            formula, anchor = self.anchors[si]
            own = ""
            ref = attr(cell.group(1), "r")
            if ref:
                try:
                    text = Translator("=" + unescape_xml(formula), anchor).translate_formula(ref)
                    own = f"<{self.p}f>{escape_xml(text[1:])}</{self.p}f>"
                except TranslatorError:
                    pass
            head = cell.group(0)[: cell.start(2) - cell.start()]
            tail = cell.group(0)[cell.end(2) - cell.start() :]
            return head + body[: f.start()] + own + body[f.end() :] + tail

        return _CELL.sub(fix, content)


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape_xml(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


@dataclass
class SheetPatch:
    text: str
    replaced_formula: bool  # a written cell held a formula: the calculation chain is stale


def patch_sheet(xml: str, cells: Mapping[tuple[int, int], Value]) -> SheetPatch:
    """The worksheet `xml` with `cells` ((1-based row, 0-based column) -> value) written."""
    sd = _SHEET_DATA.search(xml)
    if sd is None:
        raise PatchError("the worksheet has no <sheetData>")
    patch = _Patch(f"{sd.group(1)}:" if sd.group(1) else "")
    if sd.group(3):  # <sheetData/>
        head, content, tail = xml[: sd.start()] + sd.group(0)[:-2] + ">", "", xml[sd.end() :]
        tail = f"</{patch.p}sheetData>" + tail
    else:
        close = xml.find(f"</{patch.p}sheetData>", sd.end())
        if close < 0:
            raise PatchError("the worksheet's <sheetData> is not closed")
        head, content, tail = xml[: sd.end()], xml[sd.end() : close], xml[close:]
    by_row: dict[int, dict[int, Value]] = {}
    for (r, c), v in cells.items():
        by_row.setdefault(r, {})[c] = v
    content = merge(
        content,
        _rows(content),
        by_row,
        lambda r, m: patch.row(r, by_row[r], m),
        lambda r: patch.row(r, by_row[r], None),
    )
    if patch.anchors:
        content = patch.unshare(content)
    return SheetPatch(_grow_dimension(head, cells) + content + tail, patch.replaced_formula)


def _grow_dimension(head: str, cells: Mapping[tuple[int, int], Value]) -> str:
    """`<dimension ref="A1:D9">` (in the part before the cells) widened to cover `cells`."""
    m = _DIMENSION.search(head)
    filled = [(r, c) for (r, c), v in cells.items() if v not in (None, "")]
    if m is None or not filled:
        return head
    corners = [_REF.match(x) for x in m.group(2).split(":")]
    if not all(corners) or len(corners) not in (1, 2):
        return head
    rows = [int(x.group(2)) for x in corners if x] + [r for r, _ in filled]
    cols = [column_index(x.group(1)) for x in corners if x] + [c for _, c in filled]
    ref = f"{column_letter(min(cols))}{min(rows)}:{column_letter(max(cols))}{max(rows)}"
    if ref == m.group(2) or (len(corners) == 1 and ref == f"{m.group(2)}:{m.group(2)}"):
        return head
    return head[: m.start(2)] + ref + head[m.end(2) :]


# --- the workbook ------------------------------------------------------------------------------


def patch_package(
    pkg: Package, writes: Mapping[str, Mapping[tuple[int, int], Value]]
) -> dict[str, bytes | None]:
    """The parts to change for `writes` (tab title -> cells): new content, or None to drop."""
    parts: dict[str, bytes | None] = {}
    stale_chain = False
    for title, cells in writes.items():
        part = pkg.sheets[title]
        try:
            xml = pkg.zip.read(part).decode("utf-8")
        except UnicodeDecodeError:
            raise PatchError(f"the worksheet part of {title!r} is not UTF-8") from None
        done = patch_sheet(xml, cells)
        parts[part] = done.text.encode("utf-8")
        stale_chain |= done.replaced_formula
    chain = pkg.related("calcChain") if stale_chain else None
    if chain is not None:
        parts[chain] = None
        rels = rels_path(pkg.workbook)
        text = pkg.zip.read(rels).decode("utf-8")
        target = re.compile(r"<(?:\w+:)?Relationship\b[^>]*/calcChain\"[^>]*/>")
        parts[rels] = target.sub("", text).encode("utf-8")
        types = pkg.zip.read("[Content_Types].xml").decode("utf-8")
        name = re.escape("/" + chain)
        override = re.compile(r"<(?:\w+:)?Override\b[^>]*PartName=\"" + name + r"\"[^>]*/>")
        parts["[Content_Types].xml"] = override.sub("", types).encode("utf-8")
    return parts
