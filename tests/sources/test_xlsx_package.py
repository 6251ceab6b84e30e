"""The xlsx package reader and patcher: a write changes the cells written and nothing else
(every other part byte for byte, every other cell's XML as it was, formulas with their cached
results); a formula with no result reads as UNCOMPUTED; a workbook saved by someone else is not
overwritten."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.styles import Font

from sheetsync.errors import SheetChanged
from sheetsync.sheet.base import UNCOMPUTED, CellWrite
from sheetsync.sheet.xlsx import XlsxSource
from tests.xlsx_books import F, excel_book, formulas

SHEET1 = "xl/worksheets/sheet1.xml"
CELL = re.compile(r'<(?:\w+:)?c r="([A-Z]+\d+)".*?(?:/>|</(?:\w+:)?c>)', re.S)


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(path: Path, new: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in new.items():
            z.writestr(name, data)
    return path


def cell_xml(xml: bytes) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in CELL.finditer(xml.decode())}


def book(tmp_path: Path) -> Path:
    return excel_book(
        tmp_path / "book.xlsx",
        {
            "Prospects": [
                ["Email", "Name", "Score", "Sync"],
                [F('=LOWER("ANN@X.IO")', "ann@x.io"), "Ann", F("=2*21", 42), F("=TRUE()", True)],
                [F('=LOWER("BOB@X.IO")', "bob@x.io"), "Bob", 7, False],
            ],
            "Notes": [["mine", F("=1+1", 2)]],
        },
    )


def test_a_write_changes_the_cells_written_and_nothing_else(tmp_path: Path) -> None:
    path = book(tmp_path)
    before, kept = parts(path), formulas(path)
    src = XlsxSource(path)
    src.read(["Prospects"])
    src.write(
        [
            CellWrite("Prospects", 1, 4, "Sync Status"),  # a new header at the end of row 1
            CellWrite("Prospects", 2, 4, "synced"),
            CellWrite("Prospects", 3, 4, "error: x"),
            CellWrite("Prospects", 3, 5, 12),
            CellWrite("Prospects", 9, 2, True),  # a row that did not exist
            CellWrite("Prospects", 3, 1, None),  # cleared
        ]
    )
    after = parts(path)
    assert {n for n in before if before[n] != after[n]} == {SHEET1}
    old, new = cell_xml(before[SHEET1]), cell_xml(after[SHEET1])
    assert {k: new[k] for k in old if k != "B3"} == {k: v for k, v in old.items() if k != "B3"}
    assert "B3" not in new and set(new) - set(old) == {"E1", "E2", "E3", "F3", "C9"}
    assert formulas(path) == kept  # formulas and their cached results
    assert b'<dimension ref="A1:F9"/>' in after[SHEET1]
    assert b'<row r="3" spans="1:6">' in after[SHEET1]
    rows = src.read(["Prospects"]).tabs["Prospects"]
    assert rows == [
        ["Email", "Name", "Score", "Sync", "Sync Status"],
        ["ann@x.io", "Ann", 42, True, "synced"],
        ["bob@x.io", None, 7, False, "error: x", 12],
        [],
        [],
        [],
        [],
        [],
        [None, None, True],
    ]
    wb = openpyxl.load_workbook(path)  # and openpyxl (like Excel) still opens it
    assert wb["Prospects"]["E2"].value == "synced" and wb["Notes"]["B1"].value == "=1+1"


@pytest.mark.parametrize(
    "text",
    ["=SUM(A1:A3)", "+1", "@me", "_x0041_ stays", "a\r\nb\rc", "<b>&amp;</b>", "  padded  "],
    ids=str,
)
def test_text_is_written_raw(tmp_path: Path, text: str) -> None:
    path = book(tmp_path)
    src = XlsxSource(path)
    src.write([CellWrite("Prospects", 2, 1, text)])
    assert src.read(["Prospects"]).tabs["Prospects"][1][1] == text
    cell = openpyxl.load_workbook(path)["Prospects"]["B2"]
    assert cell.data_type == "s"  # text for Excel too, never a formula


def test_text_a_cell_cannot_hold_is_cleaned(tmp_path: Path) -> None:
    path = book(tmp_path)
    src = XlsxSource(path)
    src.write([CellWrite("Prospects", 2, 1, "bell\x07 \ud800gone" + "x" * 40_000)])
    value = src.read(["Prospects"]).tabs["Prospects"][1][1]
    assert isinstance(value, str) and value.startswith("bell gone") and len(value) == 32_767


def test_clearing_a_styled_cell_keeps_its_style(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Prospects"
    ws.append(["Email", "Status"])
    ws.append(["a@x.io", "old"])
    ws["B2"].font = Font(bold=True)
    wb.save(path)
    XlsxSource(path).write([CellWrite("Prospects", 2, 1, None)])
    cell = openpyxl.load_workbook(path)["Prospects"]["B2"]
    assert cell.value is None and cell.font.bold is True


def with_calc_chain(path: Path) -> Path:
    """The workbook with the calculation chain Excel keeps (xl/calcChain.xml)."""
    old = parts(path)
    old["xl/calcChain.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain xmlns='
        b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main"><c r="A2" i="1"/>'
        b'<c r="C2"/><c r="D2"/><c r="A3"/><c r="B1" i="2"/></calcChain>'
    )
    rel = (
        b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships/calcChain" Target="calcChain.xml"/>'
    )
    rels = "xl/_rels/workbook.xml.rels"
    old[rels] = old[rels].replace(b"</Relationships>", rel + b"</Relationships>")
    override = (
        b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.spreadsheetml.calcChain+xml"/>'
    )
    old["[Content_Types].xml"] = old["[Content_Types].xml"].replace(
        b"</Types>", override + b"</Types>"
    )
    return rezip(path, old)


def test_overwriting_a_formula_drops_the_calculation_chain(tmp_path: Path) -> None:
    path = with_calc_chain(book(tmp_path))
    src = XlsxSource(path)
    src.write([CellWrite("Prospects", 2, 4, "synced")])  # no formula overwritten: kept
    assert "xl/calcChain.xml" in parts(path)
    src.write([CellWrite("Prospects", 2, 2, "was a formula")])
    after = parts(path)
    assert "xl/calcChain.xml" not in after
    assert b"calcChain" not in after["xl/_rels/workbook.xml.rels"]
    assert b"calcChain" not in after["[Content_Types].xml"]
    assert b"styles.xml" in after["xl/_rels/workbook.xml.rels"]  # the other relationships stay
    kept = formulas(path)["Prospects"]
    assert kept == {
        "A2": ('=LOWER("ANN@X.IO")', "ann@x.io"),
        "D2": ("=TRUE()", True),
        "A3": ('=LOWER("BOB@X.IO")', "bob@x.io"),
    }


def test_overwriting_the_anchor_of_a_shared_formula_keeps_the_cells_that_shared_it(
    tmp_path: Path,
) -> None:
    path = excel_book(
        tmp_path / "book.xlsx",
        {
            "Prospects": [
                ["N", "Double"],
                [1, F("=A2*2", 2)],
                [2, F("=A3*2", 4)],
                [3, F("=A4*2", 6)],
            ]
        },
    )
    old = parts(path)
    xml = old[SHEET1].decode()  # as Excel writes a filled-down formula
    xml = xml.replace("<f>A2*2</f>", '<f t="shared" ref="B2:B4" si="0">A2*2</f>')
    xml = xml.replace("<f>A3*2</f>", '<f t="shared" si="0"/>').replace(
        "<f>A4*2</f>", '<f t="shared" si="0"/>'
    )
    old[SHEET1] = xml.encode()
    rezip(path, old)
    XlsxSource(path).write([CellWrite("Prospects", 2, 1, "mine now")])
    assert formulas(path)["Prospects"] == {"B3": ("=A3*2", 4), "B4": ("=A4*2", 6)}
    assert b"shared" not in parts(path)[SHEET1]


def test_a_prefixed_worksheet_and_cells_without_addresses(tmp_path: Path) -> None:
    """Some writers prefix every element (<x:row>) and leave out the optional r= addresses."""
    path = book(tmp_path)
    old = parts(path)
    xml = old[SHEET1].decode()
    xml = re.sub(r"<(/?)(?!\?)(\w+)([ >/])", r"<\1x:\2\3", xml).replace("xmlns=", "xmlns:x=")
    xml = re.sub(r'<x:c r="[A-Z]+3"', "<x:c", xml)  # row 3's cells: numbered by position
    old[SHEET1] = xml.encode()
    rezip(path, old)
    src = XlsxSource(path)
    assert src.read(["Prospects"]).tabs["Prospects"][2] == ["bob@x.io", "Bob", 7, False]
    src.write([CellWrite("Prospects", 3, 2, 8), CellWrite("Prospects", 3, 4, "synced")])
    assert src.read(["Prospects"]).tabs["Prospects"][2] == ["bob@x.io", "Bob", 8, False, "synced"]
    assert b"<x:row" in parts(path)[SHEET1]
    assert openpyxl.load_workbook(path)["Prospects"]["E3"].value == "synced"


def test_formulas_without_a_result_read_as_uncomputed(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Prospects"
    ws.append(["Email", "Company", "Sync"])
    ws.append(['=LOWER("A@X.IO")', "Acme", "=TRUE()"])
    ws.append(["b@x.io", "Beta"])
    wb.create_sheet("Notes").append(["plain"])
    wb.save(path)
    data = XlsxSource(path).read(["Prospects", "Notes"])
    assert data.tabs["Prospects"][1] == [UNCOMPUTED, "Acme", UNCOMPUTED]
    assert data.tabs["Prospects"][2] == ["b@x.io", "Beta"]
    assert data.uncomputed == frozenset({"Prospects"})


def test_computed_empty_text_errors_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"date_1904": True})
    ws = wb.add_worksheet("Prospects")
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_formula(0, 0, '=IF(TRUE,"","x")', None, "")
    ws.write_formula(0, 1, "=NA()", None, "#N/A")
    ws.write_datetime(0, 2, date(2026, 3, 4), day)
    ws.write_number(0, 3, 3.5)
    wb.close()
    old = parts(path)  # an empty text result, as Excel and LibreOffice mark it: t="str"
    old[SHEET1] = old[SHEET1].replace(b'<c r="A1">', b'<c r="A1" t="str">')
    rezip(path, old)
    assert XlsxSource(path).read(["Prospects"]).tabs["Prospects"] == [
        [None, "#N/A", datetime.combine(date(2026, 3, 4), time()), 3.5]
    ]


def test_a_workbook_saved_since_the_read_is_not_overwritten(tmp_path: Path) -> None:
    path = book(tmp_path)
    src = XlsxSource(path)
    src.read(["Prospects"])
    excel_book(path, {"Prospects": [["Email"], ["theirs@x.io"]]})  # saved in Excel meanwhile
    theirs = path.read_bytes()
    with pytest.raises(SheetChanged, match="saved by someone else"):
        src.write([CellWrite("Prospects", 2, 1, "synced")])
    assert path.read_bytes() == theirs
    assert not list(tmp_path.glob(".book.xlsx.*"))
    src.read(["Prospects"])
    src.write([CellWrite("Prospects", 2, 1, "synced")])  # the next poll writes
    assert src.read(["Prospects"]).tabs["Prospects"] == [["Email"], ["theirs@x.io", "synced"]]


def test_a_save_landing_while_sheetsync_writes_is_not_overwritten(tmp_path: Path) -> None:
    """Between sheetsync's load of the workbook and its rename, Excel saves: the rename is
    skipped (the check right before it sees another file)."""
    path = book(tmp_path)
    src = XlsxSource(path)
    _, seen = src._bytes()

    def build_while_excel_saves(fh: object) -> None:
        excel_book(path, {"Prospects": [["Email"], ["theirs@x.io"]]})

    with pytest.raises(SheetChanged):
        src._save(build_while_excel_saves, expect=seen)  # type: ignore[arg-type]
    assert src.read(["Prospects"]).tabs["Prospects"] == [["Email"], ["theirs@x.io"]]
    assert not list(tmp_path.glob(".book.xlsx.*"))
