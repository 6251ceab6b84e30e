"""XlsxSource specifics: atomic saves that survive a crash, a workbook open elsewhere, missing or
corrupt files, what a write keeps intact, and `init`'s tab creation."""

from __future__ import annotations

import os
import posixpath
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from xml.etree.ElementTree import fromstring

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.worksheet.datavalidation import DataValidation

from sheetsync.errors import SheetError, SheetNotFound, SheetUnavailable, TabNotFound
from sheetsync.sheet.base import CellWrite, TabLayout
from sheetsync.sheet.xlsx import XlsxSource


def make_book(path: Path, rows: list[list[object]], title: str = "Prospects") -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def package_problems(path: Path) -> list[str]:
    """What makes Excel offer to repair the workbook at `path`, of what `init` could break: a
    part without a content type (no Override, no Default for its extension), two Overrides of
    one part, a relationship to no part, an r:id (in the workbook, a worksheet …) that its
    part's relationships lack, two sheets of one sheetId or of one name ignoring case."""
    ns_types = "{http://schemas.openxmlformats.org/package/2006/content-types}"
    ns_pkg = "{http://schemas.openxmlformats.org/package/2006/relationships}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    problems = []
    with zipfile.ZipFile(path) as z:
        parts = {n.casefold(): n for n in z.namelist() if not n.endswith("/")}
        types = fromstring(z.read("[Content_Types].xml"))
        defaults = {d.get("Extension", "").lower() for d in types.iter(f"{ns_types}Default")}
        overrides = [o.get("PartName", "").lstrip("/").casefold() for o in types.iter()]
        overrides = [o for o in overrides if o]
        if len(overrides) != len(set(overrides)):
            problems.append(f"an Override twice: {sorted(overrides)}")
        for key, name in parts.items():
            ext = name.rsplit(".", 1)[-1].lower()  # not splitext: ".rels" has extension rels
            if key not in overrides and ext not in defaults and name != "[Content_Types].xml":
                problems.append(f"no content type: {name}")
        for rels in [n for n in parts.values() if n.endswith(".rels")]:
            folder = posixpath.dirname(posixpath.dirname(rels))
            source = posixpath.join(folder, posixpath.basename(rels)[: -len(".rels")])
            ids = set()
            for rel in fromstring(z.read(rels)).iter(f"{ns_pkg}Relationship"):
                ids.add(rel.get("Id"))
                target = rel.get("Target", "")
                if rel.get("TargetMode") == "External":
                    continue
                if target.startswith("/"):
                    part = posixpath.normpath(target[1:])
                else:
                    part = posixpath.normpath(posixpath.join(folder, target))
                if part.casefold() not in parts:
                    problems.append(f"{rels}: {target} is no part")
            if source.endswith(".xml") and source.casefold() in parts:
                for element in fromstring(z.read(parts[source.casefold()])).iter():
                    for attr, value in element.attrib.items():
                        if attr.startswith(ns_rel) and value not in ids:
                            problems.append(f"{source}: r:id {value} is not in {rels}")
        workbook = fromstring(z.read("xl/workbook.xml"))
        sheets = list(workbook.iter(f"{ns_main}sheet"))
        ids = [s.get("sheetId") for s in sheets]
        names = [s.get("name", "").casefold() for s in sheets]
        if len(set(ids)) != len(ids) or len(set(names)) != len(names):
            problems.append(f"sheetIds {ids}, names {names}")
    return problems


def crash_child(path: Path, mode: str) -> subprocess.Popen[bytes]:
    """A child process that writes cells to the workbook and dies mid-save: `kill` SIGKILLs
    itself after the third part of the new workbook is written to its temp file;
    `before-rename` exits hard once the temp file is complete, right before the rename."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys, zipfile
        from sheetsync.sheet.base import CellWrite
        from sheetsync.sheet.xlsx import XlsxSource
        if {mode!r} == "before-rename":
            os.replace = lambda *a, **k: os._exit(9)
        else:
            parts = []
            writestr = zipfile.ZipFile.writestr
            def dying(self, *a, **k):
                writestr(self, *a, **k)
                parts.append(1)
                if len(parts) == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
            zipfile.ZipFile.writestr = dying
        cells = [CellWrite("Prospects", r, c, "new value %d %d" % (r, c))
                 for r in range(2, 4) for c in range(20)]
        XlsxSource({str(path)!r}).write(cells)
        """
    )
    return subprocess.Popen([sys.executable, "-c", code])


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".book.xlsx.*.sheetsync-tmp"))


def test_killed_mid_save_leaves_the_old_workbook_intact(tmp_path: Path) -> None:
    path = make_book(tmp_path / "book.xlsx", [["Email", "Status"], ["a@x.io", "old"]])
    before = path.read_bytes()
    child = crash_child(path, "kill")
    assert child.wait(timeout=120) == -signal.SIGKILL
    assert path.read_bytes() == before
    [tmp] = leftovers(tmp_path)  # named after the dead process: .book.xlsx.<pid>.<random>…
    assert tmp.name.startswith(f".book.xlsx.{child.pid}.") and tmp.stat().st_size > 0
    src = XlsxSource(path)
    assert src.read(["Prospects"]).tabs["Prospects"] == [["Email", "Status"], ["a@x.io", "old"]]
    src.write([CellWrite("Prospects", 2, 1, "synced")])  # the leftover temp file is no obstacle
    assert src.read(["Prospects"]).tabs["Prospects"][1] == ["a@x.io", "synced"]
    assert leftovers(tmp_path) == []  # ...and the save removed it: its process is gone


def test_crash_before_the_rename_leaves_the_old_workbook_intact(tmp_path: Path) -> None:
    path = make_book(tmp_path / "book.xlsx", [["Email", "Status"], ["a@x.io", "old"]])
    child = crash_child(path, "before-rename")
    assert child.wait(timeout=120) == 9
    assert len(leftovers(tmp_path)) == 1  # the full temp file was written
    rows = XlsxSource(path).read(["Prospects"]).tabs["Prospects"]
    assert rows == [["Email", "Status"], ["a@x.io", "old"]]


def test_lock_file_of_excel_or_libreoffice_blocks_writes_not_reads(tmp_path: Path) -> None:
    path = make_book(tmp_path / "book.xlsx", [["Email"], ["a@x.io"]])
    src = XlsxSource(path)
    for lock_name in ("~$book.xlsx", ".~lock.book.xlsx#"):
        lock = tmp_path / lock_name
        lock.write_text("someone", encoding="utf-8")
        assert src.read(["Prospects"]).tabs["Prospects"][1] == ["a@x.io"]
        with pytest.raises(SheetUnavailable) as err:
            src.write([CellWrite("Prospects", 2, 1, "x")])
        assert "open in another program" in str(err.value) and lock_name in str(err.value)
        lock.unlink()
    src.write([CellWrite("Prospects", 2, 1, "x")])
    assert src.read(["Prospects"]).tabs["Prospects"][1] == ["a@x.io", "x"]


def test_missing_workbook(tmp_path: Path) -> None:
    src = XlsxSource(tmp_path / "nope.xlsx")
    with pytest.raises(SheetNotFound) as err:
        src.read(["Prospects"])
    assert "nope.xlsx" in str(err.value) and "sheetsync init" in str(err.value)


@pytest.mark.parametrize(
    "content", [b"Email,Name\na@x.io,Ann\n", b"PK\x03\x04 truncated zip", b""], ids=str
)
def test_unreadable_workbook_is_a_clear_sheet_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "book.xlsx"
    path.write_bytes(content)
    with pytest.raises(SheetError) as err:
        XlsxSource(path).read(["Prospects"])
    assert "not a readable .xlsx workbook" in str(err.value)
    assert "save it as .xlsx" in str(err.value)


def test_a_folder_is_not_a_workbook(tmp_path: Path) -> None:
    with pytest.raises(SheetError) as err:
        XlsxSource(tmp_path).read(["Prospects"])
    assert "folder" in str(err.value)


def test_write_keeps_formulas_styles_validations_comments_and_other_sheets(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = Workbook()
    ws = wb.active
    ws.title = "Prospects"
    ws.append(["Email", "Score", "Double", "Sync"])
    ws.append(["a@x.io", 21, "=B2*2", True])
    ws["A1"].font = Font(bold=True)
    ws["A1"].comment = Comment("the key", "ann")
    dv = DataValidation(type="list", formula1='"TRUE,FALSE"')
    dv.add("D2:D100")
    ws.add_data_validation(dv)
    other = wb.create_sheet("Notes")
    other["B2"] = "mine"
    wb.save(path)

    XlsxSource(path).write([CellWrite("Prospects", 2, 4, "synced")])

    wb = load_workbook(path)
    ws = wb["Prospects"]
    assert ws["C2"].value == "=B2*2" and ws["C2"].data_type == "f"  # formula kept
    assert ws["E2"].value == "synced"
    assert ws["A1"].font.bold is True
    assert ws["A1"].comment is not None and ws["A1"].comment.text == "the key"
    assert [str(v.sqref) for v in ws.data_validations.dataValidation] == ["D2:D100"]
    assert wb["Notes"]["B2"].value == "mine"
    assert wb.sheetnames == ["Prospects", "Notes"]


def test_write_to_a_missing_tab_names_the_tabs(tmp_path: Path) -> None:
    path = make_book(tmp_path / "book.xlsx", [["Email"]])
    with pytest.raises(TabNotFound) as err:
        XlsxSource(path).write([CellWrite("Campaigns", 2, 0, "x")])
    assert err.value.existing == ["Prospects"]


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = make_book(tmp_path / "book.xlsx", [["Email"]])
    os.chmod(path, 0o640)
    XlsxSource(path).write([CellWrite("Prospects", 2, 0, "a@x.io")])
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_new_workbook_gets_the_mode_of_a_new_file(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "new.xlsx"
    mask = os.umask(umask)
    try:
        XlsxSource(path).create_tabs([TabLayout("Prospects", ["Email"], [], [], "n")])
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_create_tabs_in_a_new_workbook(tmp_path: Path) -> None:
    path = tmp_path / "new.xlsx"
    src = XlsxSource(path)
    note = "Written by sheetsync."
    layouts = [
        TabLayout("Prospects", ["Email", "Sync", "Sync Status"], [1], [2], note),
        TabLayout("Campaigns", ["Campaign", "Campaign ID"], [], [1], note),
    ]
    assert src.create_tabs(layouts) == ["Prospects", "Campaigns"]
    wb = load_workbook(path)
    assert wb.sheetnames == ["Prospects", "Campaigns"]  # no stray default "Sheet"
    ws = wb["Prospects"]
    assert [c.value for c in ws[1]] == ["Email", "Sync", "Sync Status"]
    assert ws.freeze_panes == "A2"
    assert ws["C1"].comment is not None and ws["C1"].comment.text == note
    assert ws["A1"].comment is None
    rules = ws.data_validations.dataValidation
    assert len(rules) == 1 and str(rules[0].sqref) == "B2:B1048576"
    assert rules[0].formula1 == '"TRUE,FALSE"'
    assert src.counts.writes == 1


def test_create_tabs_never_touches_existing_tabs(tmp_path: Path) -> None:
    path = make_book(tmp_path / "book.xlsx", [["Email", "Mine"], ["a@x.io", "data"]])
    src = XlsxSource(path)
    layouts = [
        TabLayout("Prospects", ["Email", "Sync"], [1], [], "n"),
        TabLayout("Steps", ["Campaign", "Step"], [], [], "n"),
    ]
    assert src.create_tabs(layouts) == ["Steps"]
    data = src.read(["Prospects", "Steps"])
    assert data.tabs["Prospects"] == [["Email", "Mine"], ["a@x.io", "data"]]
    assert data.tabs["Steps"] == [["Campaign", "Step"]]
    before = path.read_bytes()
    assert src.create_tabs(layouts) == []
    assert path.read_bytes() == before  # nothing to do: not even saved


def test_create_tabs_beside_parts_and_tabs_of_the_same_names(tmp_path: Path) -> None:
    """The new tabs' parts take names the workbook does not use yet (its own notes are
    comment1.xml and commentsDrawing1.vml too), a tab sheetsync reads as "Prospects" counts as
    there, and a title is written as XML text."""
    path = make_book(tmp_path / "book.xlsx", [["Email"], ["a@x.io"]], title="prospects")
    wb = load_workbook(path)
    wb["prospects"]["A1"].comment = Comment("mine", "me")
    wb.save(path)
    layouts = [
        TabLayout("Prospects", ["Email", "Sync Status"], [], [1], "n"),
        TabLayout("Steps & <Notes>", ["Campaign", "Sync Status"], [], [1], "n"),
    ]
    assert XlsxSource(path).create_tabs(layouts) == ["Steps & <Notes>"]
    assert package_problems(path) == []
    wb = load_workbook(path)
    assert wb.sheetnames == ["prospects", "Steps & <Notes>"]
    assert wb["prospects"]["A1"].comment.text == "mine"
    assert wb["Steps & <Notes>"]["B1"].comment.text == "n"
    assert [c.value for c in wb["Steps & <Notes>"][1]] == ["Campaign", "Sync Status"]


def test_create_tabs_beside_an_override_whose_part_is_gone(tmp_path: Path) -> None:
    """A content type Override left behind for a part the workbook no longer holds keeps its
    name: a new tab's part takes another, with an Override of its own."""
    book = make_book(tmp_path / "old.xlsx", [["Email"]])
    stale = '<Override PartName="/xl/worksheets/sheet2.xml" ContentType="text/plain"/>'
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(book) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "[Content_Types].xml":
                data = data.replace(b"</Types>", stale.encode() + b"</Types>")
            new.writestr(name, data)
    layouts = [TabLayout("Steps", ["Campaign", "Sync Status"], [], [1], "n")]
    assert XlsxSource(path).create_tabs(layouts) == ["Steps"]
    assert package_problems(path) == []
    with zipfile.ZipFile(path) as z:
        assert "xl/worksheets/sheet2.xml" not in z.namelist()
    assert XlsxSource(path).read(["Steps"]).tabs["Steps"] == [["Campaign", "Sync Status"]]


def test_time_and_control_characters(tmp_path: Path) -> None:
    from datetime import time as dtime

    path = make_book(tmp_path / "book.xlsx", [["Start", "Name"], [dtime(9, 30), "x"]])
    src = XlsxSource(path)
    src.write([CellWrite("Prospects", 2, 1, "bell\x07 gone")])
    assert src.read(["Prospects"]).tabs["Prospects"][1] == ["09:30:00", "bell gone"]


def test_reads_a_large_workbook(tmp_path: Path) -> None:
    path = tmp_path / "big.xlsx"
    wb = Workbook(write_only=True)  # streams, like a large file saved by Excel
    ws = wb.create_sheet("Prospects")
    ws.append(["Email", "First", "Last", "Company", "Phone", "Sync"])
    for i in range(10_000):
        ws.append([f"p{i}@x.io", "F", "L", "Co", 5550000000 + i, True])
    wb.save(path)
    data = XlsxSource(path).read(["Prospects"])
    assert len(data.tabs["Prospects"]) == 10_001
    assert data.tabs["Prospects"][-1] == ["p9999@x.io", "F", "L", "Co", 5550009999, True]
