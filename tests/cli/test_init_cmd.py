"""`sheetsync init`: writes the config from the shipped example, creates exactly the template
tabs (headers, checkboxes, frozen header row, protected and noted status columns) on both
sources, never touches existing tabs, and never overwrites a config without --force."""

from __future__ import annotations

import os
import signal
import tomllib
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.init import STATUS_NOTE, render_config, tab_layouts, write_config
from sheetsync.config import SheetConfig, load_config
from sheetsync.sandbox import DEMO_KEY, SandboxServer
from sheetsync.sheet.base import column_letter
from sheetsync.sheet.layout import TAB_ROLES
from sheetsync.sheet.xlsx import XlsxSource
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.sources.test_xlsx import package_problems
from tests.xlsx_books import F, excel_book, formulas, literal

from .conftest import GOOGLE_TOKEN

CONFIG = Path("config/sheetsync.toml")
TITLES = ["Prospects", "Campaigns", "Steps", "Enrollments", "Sync Log"]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def expected_headers(role: str) -> list[str]:
    """The template's headers: every column but the optional Sync gate (a Sync column that
    exists holds back every unticked row, so people add it on purpose)."""
    columns = [c for c in TAB_ROLES[role].columns if c.field != "sync"]
    headers = [c.header for c in columns]
    if role == "prospects":  # the example config's custom_fields = ["Industry"]
        first_status = next(i for i, c in enumerate(columns) if c.status)
        headers.insert(first_status, "Industry")
    return headers


def assert_template_tab(wb: openpyxl.Workbook, sheet: SheetConfig, role: str) -> None:
    """The tab `init` creates for `role`: headers only, frozen, status headers noted, checkbox
    validation on the boolean columns."""
    layout = tab_layouts(sheet)[list(TAB_ROLES).index(role)]
    title = layout.title
    ws = wb[title]
    header = [c.value for c in ws[1]]
    assert header == expected_headers(role), title
    assert ws.freeze_panes == "A2"
    assert ws.max_row == 1  # headers only
    for i in layout.status_columns:
        comment = ws.cell(row=1, column=i + 1).comment
        assert comment is not None and STATUS_NOTE in comment.text, (title, header[i])
    boxes = {
        (str(r), dv.type, dv.formula1)
        for dv in ws.data_validations.dataValidation
        for r in dv.sqref.ranges
    }
    letters = {column_letter(i) for i in layout.checkbox_columns}
    assert boxes == {(f"{c}2:{c}1048576", "list", '"TRUE,FALSE"') for c in letters}, title


def test_render_config_fills_source_and_spreadsheet_and_keeps_comments() -> None:
    template = '# about\nname = "a"\nsource = "google"\n# the sheet\nspreadsheet = "x"\n'
    out = render_config(template, source="xlsx", spreadsheet='C:\\My "Leads".xlsx', name="b")
    assert tomllib.loads(out) == {
        "name": "b",
        "source": "xlsx",
        "spreadsheet": 'C:\\My "Leads".xlsx',
    }
    assert "# about" in out and "# the sheet" in out


def test_init_xlsx_writes_config_and_creates_the_template(tmp_path: Path) -> None:
    code, out = invoke("init", "--xlsx", "leads.xlsx")
    assert code == 0, out
    assert "Wrote config/sheetsync.toml" in out
    assert "created tab 'Prospects'" in out and "Next steps" in out

    config = load_config(CONFIG, env={})
    sheet = config.sheets[0]
    assert (sheet.source, sheet.name) == ("xlsx", "leads")
    assert Path(sheet.spreadsheet) == tmp_path / "leads.xlsx"
    text = CONFIG.read_text(encoding="utf-8")
    assert 'spreadsheet = "../leads.xlsx"' in text  # relative to the config's folder
    assert "# Safety brake" in text  # the example's comments are kept

    wb = openpyxl.load_workbook(tmp_path / "leads.xlsx")
    try:
        assert wb.sheetnames == TITLES
        for role in TAB_ROLES:
            assert_template_tab(wb, sheet, role)
        prospects = [c.value for c in wb["Prospects"][1]]
        assert wb["Prospects"].cell(row=1, column=prospects.index("Email") + 1).comment is None
        enrolled = [lay for lay in tab_layouts(sheet) if lay.title == "Enrollments"][0]
        assert [enrolled.headers[i] for i in enrolled.checkbox_columns] == ["Enrolled"]
        campaigns = [lay for lay in tab_layouts(sheet) if lay.title == "Campaigns"][0]
        confirm = campaigns.headers.index("Confirm")  # a checkbox, editable like an input
        assert confirm in campaigns.checkbox_columns and confirm not in campaigns.status_columns
    finally:
        wb.close()


def test_init_refuses_to_overwrite_a_config_without_force(tmp_path: Path) -> None:
    assert invoke("init", "--xlsx", "leads.xlsx")[0] == 0
    before = CONFIG.read_text(encoding="utf-8")

    code, out = invoke("init", "--xlsx", "other.xlsx")
    assert code == 2
    assert "already exists" in out and "--force" in out
    assert CONFIG.read_text(encoding="utf-8") == before
    assert not (tmp_path / "other.xlsx").exists()

    code, out = invoke("init", "--xlsx", "other.xlsx", "--force")
    assert code == 0, out
    assert load_config(CONFIG, env={}).sheets[0].name == "other"


def test_init_never_touches_existing_tabs_or_data(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Prospects"
    ws.append(["Email Address", "Notes"])
    ws.append(["ann@example.com", "met at the fair"])
    wb.create_sheet("Scratch").append(["keep", "me"])
    wb.save(tmp_path / "mine.xlsx")

    code, out = invoke("init", "--xlsx", "mine.xlsx")
    assert code == 0, out
    assert "kept tab 'Prospects' as it is" in out
    assert "created tab 'Campaigns'" in out

    wb = openpyxl.load_workbook(tmp_path / "mine.xlsx")
    try:
        rows = [[c.value for c in r] for r in wb["Prospects"].iter_rows()]
        assert rows == [["Email Address", "Notes"], ["ann@example.com", "met at the fair"]]
        assert [c.value for c in wb["Scratch"][1]] == ["keep", "me"]
        assert set(TITLES) <= set(wb.sheetnames)
    finally:
        wb.close()

    # Running init again on the existing config creates nothing and changes nothing.
    before = (tmp_path / "mine.xlsx").read_bytes()
    code, out = invoke("init")
    assert code == 0, out
    assert "created tab" not in out
    assert (tmp_path / "mine.xlsx").read_bytes() == before


def test_init_usage_errors() -> None:
    code, out = invoke("init")
    assert code == 2 and "sheetsync init --xlsx PATH" in out
    code, out = invoke("init", "--xlsx", "a.xlsx", "--spreadsheet", "abc")
    assert code == 2 and "exactly one of --xlsx PATH or --spreadsheet ID" in out
    code, out = invoke("init", "--spreadsheet", "https://example.com/not-a-sheet")
    assert code == 2 and "not a Google Sheets URL" in out
    assert not CONFIG.exists()


def test_init_google_creates_the_template_on_the_emulator(
    emulator: SheetsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = emulator.create_spreadsheet({"Prospects": [["Email"], ["ann@example.com"]]})
    url = f"https://docs.google.com/spreadsheets/d/{sid}/edit#gid=0"

    # The example config signs in with a service account key file that is not there yet:
    # the config is written, and the error says what to fix; no tab is created.
    code, out = invoke("init", "--spreadsheet", url)
    assert code == 2
    assert "Wrote config/sheetsync.toml" in out
    assert "run `sheetsync init` again" in out
    assert "service-account.json" in out
    assert emulator.counts.total() == 0
    assert load_config(CONFIG, env={}).sheets[0].spreadsheet == sid

    # The user switches to a bearer token (and here, the emulator's endpoint) and reruns init.
    text = CONFIG.read_text(encoding="utf-8")
    text = text.replace('auth = "service_account"', 'auth = "token"').replace(
        '# sheets_base_url = "http://127.0.0.1:8765"', f'sheets_base_url = "{emulator.base_url}"'
    )
    CONFIG.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SHEETSYNC_GOOGLE_TOKEN", GOOGLE_TOKEN)
    code, out = invoke("init")
    assert code == 0, out
    assert "kept tab 'Prospects' as it is" in out

    meta = emulator.metadata(sid)
    sheets = {s["properties"]["title"]: s for s in meta["sheets"]}
    assert list(sheets) == TITLES
    # The existing tab is untouched: its values, no freeze, no rules, no protection.
    assert emulator.values(sid, "Prospects") == [["Email"], ["ann@example.com"]]
    assert sheets["Prospects"]["dataValidations"] == {}
    assert not sheets["Prospects"].get("protectedRanges")

    sheet = load_config(CONFIG, env={}).sheets[0]
    for layout in tab_layouts(sheet):
        if layout.title == "Prospects":
            continue
        entry = sheets[layout.title]
        sheet_id = entry["properties"]["sheetId"]
        assert emulator.values(sid, layout.title) == [layout.headers]
        assert entry["properties"]["gridProperties"]["frozenRowCount"] == 1
        # Checkboxes on every boolean column, from row 2 down.
        rules = entry["dataValidations"]
        for i in layout.checkbox_columns:
            letter = column_letter(i)
            hits = [r for a1, r in rules.items() if a1.startswith(f"{letter}2")]
            assert hits and hits[0]["condition"]["type"] == "BOOLEAN", (layout.title, letter)
        assert all(_col(a1) in layout.checkbox_columns for a1 in rules), (
            f"no rule outside the checkbox columns of {layout.title}"
        )
        # Status columns: protected with a warning and noted.
        protected = entry.get("protectedRanges", [])
        covered = {
            c
            for p in protected
            if p["range"]["sheetId"] == sheet_id and p.get("warningOnly") is True
            for c in range(p["range"]["startColumnIndex"], p["range"]["endColumnIndex"])
        }
        assert covered == set(layout.status_columns), layout.title
        notes = entry["notes"]
        for i in layout.status_columns:
            assert notes.get(f"{column_letter(i)}1") == STATUS_NOTE, (
                layout.title,
                layout.headers[i],
            )

    # And init refuses to replace the config.
    code, out = invoke("init", "--spreadsheet", sid)
    assert code == 2 and "already exists" in out


def _col(a1: str) -> int:
    n = 0
    for ch in a1:
        if not ch.isalpha():
            break
        n = n * 26 + ord(ch.upper()) - 64
    return n - 1


def test_init_on_a_workbook_with_formulas_keeps_every_formula_and_its_result(
    tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A workbook saved by Excel (formulas with their results) with only a Prospects tab and a
    tab of the user's own: init adds the other tabs without touching a byte of what was there,
    and the next sync acts on the formula rows (nothing waits for a save in Excel)."""
    book = excel_book(
        tmp_path / "leads.xlsx",
        {
            "Prospects": [
                ["Email", "First Name", "Company", "Industry"],
                [
                    F('=LOWER("ANN@FORMULAS.EXAMPLE")', "ann@formulas.example"),
                    literal("Ann"),
                    F('=IF(TRUE,"Acme","")', "Acme"),
                    "SaaS",
                ],
                [
                    F('=LOWER("BOB@FORMULAS.EXAMPLE")', "bob@formulas.example"),
                    "Bob",
                    F('=UPPER("b")&"eta"', "Beta"),
                    literal("Retail"),
                ],
            ],
            "Scores": [
                ["Email", "Score"],
                [F("=Prospects!A2", "ann@formulas.example"), F("=LEN(Prospects!A2)*2", 40)],
            ],
        },
    )
    before = formulas(book)
    assert sum(map(len, before.values())) == 8
    with zipfile.ZipFile(book) as z:
        parts = {name: z.read(name) for name in z.namelist()}

    code, out = invoke("init", "--xlsx", "leads.xlsx")
    assert code == 0, out
    assert "kept tab 'Prospects' as it is" in out and "created tab 'Enrollments'" in out

    def kept() -> dict[str, dict[str, tuple[object, object]]]:
        """The formulas of the tabs that were there, and their cached results (openpyxl)."""
        return {title: formulas(book)[title] for title in before}

    assert kept() == before
    with zipfile.ZipFile(book) as z:
        changed = {name for name, data in parts.items() if z.read(name) != data}
    assert changed == {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    assert package_problems(book) == []
    data = XlsxSource(book).read(["Prospects", "Scores"])
    assert data.uncomputed == frozenset()
    assert data.tabs["Scores"][1] == ["ann@formulas.example", 40]
    assert data.tabs["Prospects"][1:] == [
        ["ann@formulas.example", "Ann", "Acme", "SaaS"],
        ["bob@formulas.example", "Bob", "Beta", "Retail"],
    ]
    sheet = load_config(CONFIG, env={}).sheets[0]
    wb = openpyxl.load_workbook(book)
    try:
        assert wb.sheetnames == ["Prospects", "Scores", *TITLES[1:]]
        for role in list(TAB_ROLES)[1:]:
            assert_template_tab(wb, sheet, role)
    finally:
        wb.close()

    text = CONFIG.read_text(encoding="utf-8")
    CONFIG.write_text(
        text.replace("https://warmysender.com/api/v1", sandbox.base_url), encoding="utf-8"
    )
    monkeypatch.setenv("WARMYSENDER_API_KEY", DEMO_KEY)
    code, out = invoke("sync")
    assert code == 0, out
    remote = {p["email"]: p for p in sandbox.sandbox.state()["workspaces"][0]["prospects"]}
    assert (
        remote["ann@formulas.example"]["company"],
        remote["bob@formulas.example"]["company"],
    ) == (
        "Acme",
        "Beta",
    )
    rows = XlsxSource(book).read(["Prospects"]).tabs["Prospects"]
    status = rows[0].index("Sync Status")
    assert [r[status] for r in rows[1:]] == ["synced", "synced"]
    assert kept() == before


def test_init_names_the_workbook_and_the_cause_of_an_os_error(tmp_path: Path) -> None:
    """One line, no traceback: a workbook path that is a folder, a file name the file system
    cannot hold, and a disk that fills up while the new tabs are saved."""
    long = "x" * 300 + ".xlsx"
    code, out = invoke("init", "--xlsx", long)
    assert code == 3, out
    assert out.splitlines()[-1] == (
        f"error: cannot read workbook {tmp_path / long}: File name too long"
    )

    book = excel_book(tmp_path / "leads.xlsx", {"Prospects": [["Email"], [literal("a@b.co")]]})
    assert invoke("init", "--xlsx", "leads.xlsx", "--force")[0] == 0
    with zipfile.ZipFile(book) as z:  # the formula still carries its result
        assert b"<v>a@b.co</v>" in z.read("xl/worksheets/sheet1.xml")
    book.unlink()
    book.mkdir()
    code, out = invoke("init")
    assert code == 3, out
    assert out.splitlines()[-1] == (
        f"error: {book} is a folder, not an .xlsx workbook; point [[sheet]] spreadsheet at the "
        ".xlsx file"
    )


@pytest.mark.parametrize("existing", [True, False], ids=["existing workbook", "new workbook"])
def test_init_on_a_full_disk_leaves_the_workbook_as_it_was(tmp_path: Path, existing: bool) -> None:
    resource = pytest.importorskip("resource")
    book = tmp_path / "leads.xlsx"
    if existing:
        excel_book(book, {"Prospects": [["Email"], [literal("a@b.co")]]})
    before = book.read_bytes() if existing else None
    write_config(CONFIG, xlsx=Path("leads.xlsx"))
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, limits[1]))  # no file grows past 1000 B
    try:
        code, out = invoke("init")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert code == 3, out
    kept = "the workbook was left as it was" if existing else "none was made"
    assert out.splitlines()[-1] == (
        f"error: cannot save workbook {book}: File too large; {kept}. "
        "Check the disk space and the folder's permissions."
    )
    assert (book.read_bytes() if book.exists() else None) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".leads")] == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any folder")
@pytest.mark.parametrize(
    ("mode", "line"),
    [
        (0o555, "error: cannot save workbook {}: permission denied; close it in Excel"),
        (0o666, "error: cannot open workbook {}: permission denied; close it in Excel"),
    ],
    ids=["read-only folder", "folder that cannot be searched"],
)
def test_init_in_a_folder_it_may_not_use_says_so(tmp_path: Path, mode: int, line: str) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    book = excel_book(folder / "leads.xlsx", {"Prospects": [["Email"], ["a@b.co"]]})
    write_config(CONFIG, xlsx=book)
    folder.chmod(mode)
    try:
        code, out = invoke("init")
    finally:
        folder.chmod(0o755)
    assert code == 3, out
    assert out.splitlines()[-1].startswith(line.format(book)), out


@pytest.mark.parametrize(
    ("sheets", "line"),
    [
        (
            {"Prospects": "tab", "Steps": "chart"},
            "sheet 'Steps' is a chart sheet, not a tab of rows, and no tab 'Steps' can be added "
            "beside it; rename the chart sheet, or give sheetsync's tab another title in "
            "[sheet.tabs]",
        ),
        (
            {"Pro spects": "tab", "prospects": "tab"},
            "tabs 'Pro spects' and 'prospects' each read as 'Prospects' (tab titles match "
            "ignoring case and spaces), so sheetsync would read none of them; rename or remove "
            "all but one",
        ),
    ],
    ids=["chart sheet", "two tabs read as one"],
)
def test_init_adds_no_tab_whose_title_another_sheet_holds(
    tmp_path: Path, sheets: dict[str, str], line: str
) -> None:
    """Sheet names differ in more than case: a title another sheet holds but for case leaves
    the workbook as it was, with one line saying what to rename."""
    book = tmp_path / "leads.xlsx"
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, kind in sheets.items():
        if kind == "chart":
            wb.create_chartsheet(title)
        else:
            wb.create_sheet(title)
    wb.save(book)
    before = book.read_bytes()
    code, out = invoke("init", "--xlsx", "leads.xlsx")
    assert code == 3, out
    assert out.splitlines()[-1] == f"error: workbook {book}: {line}"
    assert book.read_bytes() == before
