"""New tabs for `sheetsync init`, in a new workbook or in an existing one.

openpyxl builds each tab (`new_workbook`): the header row as text, a TRUE/FALSE list validation
on the checkbox columns from row 2 down, the header row frozen, and a note on each status header
saying that sheetsync writes it.

A workbook that does not exist yet is that openpyxl workbook, saved: it holds no formulas to
lose. An existing workbook is never loaded and saved by openpyxl, which cannot save a formula
together with its cached result (see xlsx_write). Its new tabs are added to its package instead
(`add_tabs`): openpyxl builds them in a workbook of their own, and each new worksheet part, with
the parts it relates to (the notes' comments part and their VML drawing), is copied in under a
part name the package does not use yet. openpyxl (3.1 and later) writes text as inline strings
and these tabs use no styles, so a copied worksheet refers to nothing else of the workbook it was
built in. Three parts of the existing package change: the workbook's `<sheets>` gets a `<sheet>`
per new tab (with a sheetId not used yet), the workbook's relationships a worksheet relationship
each (with an unused rId), and `[Content_Types].xml` the content type of each part added. Every
other part keeps its bytes: formulas with their cached results, shared strings, styles, the
other tabs. `docProps/app.xml` (the list of tab titles that Excel and LibreOffice write when
they save, and do not read when they open) is left as it was: out of date until the next save
in Excel, never inconsistent with itself (an app.xml whose counts and titles disagree is what
makes Excel offer to repair a workbook).

A tab is missing when no worksheet reads as its title (`missing_tabs`). A missing title that
another sheet's name already holds but for case (a chart sheet "Steps", or "prospects" beside
"Pro spects", which both read as "Prospects") is never added: Excel repairs a workbook whose
sheet names differ in case only. `init` says what to rename instead.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.writer.excel import ExcelWriter

from sheetsync.sheet.base import CellValue, TabLayout, match_titles
from sheetsync.sheet.xlsx_read import MAIN, PKG_REL, REL, Package, PackageError, rels_path
from sheetsync.sheet.xlsx_write import clean_text, escape_xml

TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
# The last word of a <sheet>'s relationship type -> what Excel calls that kind of sheet.
KINDS = {
    "worksheet": "tab",
    "chartsheet": "chart sheet",
    "dialogsheet": "dialog sheet",
    "xlMacrosheet": "macro sheet",
    "xlIntlMacrosheet": "macro sheet",
}


class TabClash(Exception):
    """A missing tab's title is taken by a sheet sheetsync cannot read as that tab."""


def missing_tabs(pkg: Package, layouts: Sequence[TabLayout]) -> list[TabLayout]:
    """The layouts whose tab `pkg` lacks: none of its worksheets reads as the title (the exact
    title, else the one title equal but for case and spaces: `match_titles`). A missing title
    that equals (ignoring case) the name of a sheet already there cannot be added, since a
    workbook's sheet names differ in more than case: TabClash says why and what to do."""
    titles = list(pkg.sheets)
    names = _sheet_names(pkg)
    missing = []
    for layout in layouts:
        title = layout.title
        if match_titles([title], titles)[0] in titles:
            continue
        taken = names.get(title.casefold())
        if taken is None:
            missing.append(layout)
            continue
        name, kind = taken
        if kind != "tab":
            raise TabClash(
                f"sheet {name!r} is a {kind}, not a tab of rows, and no tab {title!r} can "
                f"be added beside it; rename the {kind}, or give sheetsync's tab another "
                f"title in [sheet.tabs]"
            )
        hits = " and ".join(repr(t) for t in titles if match_titles([title], [t]) == [t])
        raise TabClash(
            f"tabs {hits} each read as {title!r} (tab titles match ignoring case and spaces), "
            f"so sheetsync would read none of them; rename or remove all but one"
        )
    return missing


def _sheet_names(pkg: Package) -> dict[str, tuple[str, str]]:
    """Every sheet of the workbook, tabs or not: its name casefolded -> (name, kind)."""
    return {name.casefold(): (name, KINDS.get(k, "sheet")) for name, k in pkg.kinds.items()}


def new_workbook(layouts: Sequence[TabLayout]) -> bytes:
    """A workbook holding the tabs of `layouts` and nothing else."""
    wb = Workbook()
    placeholder = wb.active
    for layout in layouts:
        _build_tab(wb, layout)
    wb.remove(placeholder)
    out = io.BytesIO()
    # Not wb.save(): it leaves its zip open (an error again when collected) when writing one of
    # its temp files fails (a full disk).
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    return out.getvalue()


def add_tabs(pkg: Package, layouts: Sequence[TabLayout]) -> dict[str, bytes]:
    """The parts to change or add in `pkg` to give it the tabs of `layouts`, after its own."""
    graft = _Graft(pkg, Package(new_workbook(layouts)))
    for layout in layouts:
        graft.add_sheet(layout.title)
    return graft.finish()


class _Graft:
    """Parts of `src` (the new tabs' workbook) copied into `pkg` under free part names."""

    def __init__(self, pkg: Package, src: Package) -> None:
        self.pkg, self.src = pkg, src
        self.out: dict[str, bytes] = {}
        overrides, self.defaults = _content_types(pkg)  # extension -> type, as pkg says
        # Part names ignore case; an Override may name a part the package no longer holds.
        self.taken = {name.casefold() for name in pkg.zip.namelist()} | set(overrides)
        self.src_types = _content_types(src)
        self.type_xml: list[str] = []  # Default / Override elements to add, without a prefix
        workbook = pkg.xml(pkg.workbook)
        if workbook.tag != f"{{{MAIN}}}workbook":  # Strict Open XML: sheetsync reads no tab
            raise PackageError(f"the workbook part is not SpreadsheetML ({workbook.tag})")
        ids = [s.get("sheetId", "") for s in workbook.iterfind(f"{{{MAIN}}}sheets/{{{MAIN}}}sheet")]
        self.sheet_id = max((int(i) for i in ids if i.isdigit()), default=0)
        rels = pkg.zip.read(rels_path(pkg.workbook)).decode("utf-8")
        self.rel_ids = set(re.findall(r"""\bId\s*=\s*["']([^"']*)["']""", rels))
        self.sheets: list[str] = []  # <sheet> elements to add, without a prefix
        self.rels: list[str] = []  # <Relationship> elements to add, without a prefix

    def add_sheet(self, title: str) -> None:
        part = self.src.sheets[title]
        kind = next(t for t, target in self.src.workbook_rels.values() if target == part)
        n = 1
        while f"rId{n}" in self.rel_ids:
            n += 1
        rid = f"rId{n}"
        self.rel_ids.add(rid)
        self.sheet_id += 1
        self.rels.append(_relationship(rid, kind, self.copy(part)))
        self.sheets.append(
            f'<sheet xmlns:r="{REL}" name="{_attr(title)}" sheetId="{self.sheet_id}" r:id="{rid}"/>'
        )

    def copy(self, part: str) -> str:
        """Copy `part` of `src`, and the parts it relates to; returns its name in `pkg`."""
        name = self._free(part)
        related = self.src.relationships(part)
        if related:
            items = "".join(
                _relationship(rid, kind, self.copy(target))
                for rid, (kind, target) in related.items()
            )
            xml = f'<Relationships xmlns="{PKG_REL}">{items}</Relationships>'
            self.out[rels_path(name)] = xml.encode("utf-8")  # typed by the Default for .rels
        self.out[name] = self.src.zip.read(part)
        self._type(part, name)
        return name

    def _free(self, part: str) -> str:
        """`xl/worksheets/sheet1.xml` -> the first of sheet1.xml, sheet2.xml, … not taken."""
        folder, base = posixpath.split(part)
        stem, ext = posixpath.splitext(base)
        stem = stem.rstrip("0123456789") or "part"
        n = 1
        while True:
            name = posixpath.join(folder, f"{stem}{n}{ext}")
            if name.casefold() not in self.taken and rels_path(name).casefold() not in self.taken:
                self.taken.update({name.casefold(), rels_path(name).casefold()})
                return name
            n += 1

    def _type(self, part: str, name: str) -> None:
        """Type `name` as `src` types `part`: an Override, or a Default for its extension."""
        overrides, defaults = self.src_types
        ext = posixpath.splitext(part)[1][1:].lower()
        if part.casefold() in overrides:
            kind = overrides[part.casefold()]
        else:
            kind = defaults[ext]
            if self.defaults.get(ext) == kind:
                return
            if ext not in self.defaults:
                self.defaults[ext] = kind
                self.type_xml.append(f'<Default Extension="{ext}" ContentType="{kind}"/>')
                return
        self.type_xml.append(f'<Override PartName="/{_attr(name)}" ContentType="{kind}"/>')

    def finish(self) -> dict[str, bytes]:
        pkg = self.pkg
        self.out[pkg.workbook] = _append(pkg, pkg.workbook, "sheets", self.sheets)
        rels = rels_path(pkg.workbook)
        self.out[rels] = _append(pkg, rels, "Relationships", self.rels)
        types = "[Content_Types].xml"
        self.out[types] = _append(pkg, types, "Types", self.type_xml)
        return self.out


def _content_types(pkg: Package) -> tuple[dict[str, str], dict[str, str]]:
    """(part name casefolded -> its Override type, extension -> its Default type)."""
    root = pkg.xml("[Content_Types].xml")
    overrides = {
        o.get("PartName", "").lstrip("/").casefold(): o.get("ContentType", "")
        for o in root.iterfind(f"{{{TYPES}}}Override")
    }
    defaults = {
        d.get("Extension", "").lower(): d.get("ContentType", "")
        for d in root.iterfind(f"{{{TYPES}}}Default")
    }
    return overrides, defaults


def _append(pkg: Package, part: str, tag: str, elements: Sequence[str]) -> bytes:
    """`part` with `elements` added at the end of its `<tag>`, in the namespace prefix that
    `<tag>` uses; every other byte as it was."""
    xml = pkg.zip.read(part).decode("utf-8")
    closing = list(re.finditer(rf"</((?:\w+:)?){tag}\s*>", xml))
    if not closing:
        raise PackageError(f"{part} has no <{tag}> element")
    close = closing[-1]
    prefix = close.group(1)
    added = "".join(re.sub(r"^<", "<" + prefix, e) for e in elements)
    return (xml[: close.start()] + added + xml[close.start() :]).encode("utf-8")


def _relationship(rid: str, kind: str, part: str) -> str:
    return f'<Relationship Id="{rid}" Type="{kind}" Target="/{_attr(part)}"/>'


def _attr(text: str) -> str:
    return escape_xml(text).replace('"', "&quot;")


def _build_tab(wb: Workbook, layout: TabLayout) -> None:
    ws = wb.create_sheet(layout.title)
    for i, header in enumerate(layout.headers):
        _set(ws.cell(row=1, column=i + 1), header)
    ws.freeze_panes = "A2"
    if layout.checkbox_columns:
        dv = DataValidation(type="list", formula1='"TRUE,FALSE"', allow_blank=True)
        for c in layout.checkbox_columns:
            letter = get_column_letter(c + 1)
            dv.add(f"{letter}2:{letter}1048576")
        ws.add_data_validation(dv)
    for c in layout.status_columns:
        ws.cell(row=1, column=c + 1).comment = Comment(layout.note, "sheetsync")


def _set(cell: Any, value: CellValue) -> None:
    if isinstance(value, str):
        cell.value = clean_text(value)
        cell.data_type = "s"  # openpyxl would otherwise store "=…" as a formula
    else:
        cell.value = value
