"""`sheetsync import FILE.csv` through click's CliRunner on an xlsx workbook: what it prints,
what the tabs hold afterwards, exit codes, and one clear line for every file it cannot use."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.importer import import_csv
from sheetsync.app.lock import SheetLock
from sheetsync.config import load_config
from sheetsync.sheet.base import SheetData
from sheetsync.sheet.xlsx import XlsxSource
from sheetsync.testing.sheets_emulator import SheetsEmulator

from .conftest import GOOGLE_TOKEN

EXPORTS = Path(__file__).resolve().parents[1] / "exports"
DRAFT = "Q4 Agencies"


BOOK: dict[str, list[list[object]]] = {
    "Prospects": [["Email", "First Name", "Last Name", "Company", "Industry", "Sync Status"],
                  ["maria.gonzalez@brightpath.io", "Maria", "", "", "", "synced"]],
    "Campaigns": [["Campaign", "Mailboxes"], [DRAFT, "alex@outreach-demo.example"]],
    "Steps": [["Campaign", "Step", "Subject", "Body"], [DRAFT, 1, "Hi", "Hello"]],
    "Enrollments": [["Email", "List ID", "Campaign", "Enrolled"]],
}  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in BOOK.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(tmp_path / "book.xlsx")
    path = tmp_path / "sheetsync.toml"
    path.write_text(
        '[warmysender]\nbase_url = "http://127.0.0.1:9/api/v1"\n'
        '[[sheet]]\nname = "demo"\nsource = "xlsx"\nspreadsheet = "book.xlsx"\n'
        'custom_fields = ["Industry"]\n',
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "import", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def tab(config: Path, title: str) -> list[list[object]]:
    wb = openpyxl.load_workbook(config.parent / "book.xlsx")
    try:
        return [list(r) for r in wb[title].iter_rows(values_only=True)]
    finally:
        wb.close()


def test_import_adds_new_emails_ticks_enrollments_and_says_what_it_skipped(
    config: Path,
) -> None:
    before = tab(config, "Prospects")
    code, out = run(config, str(EXPORTS / "apollo.csv"), "--campaign", DRAFT.upper())
    assert code == 1, out  # a line had no usable email
    assert out.splitlines() == [
        "Imported apollo.csv into the Prospects tab:",
        "  added 1 prospect (row 3)",
        f"  ticked 2 Enrollments rows for {DRAFT.upper()!r}",
        "  skipped 2:",
        "    line 2: maria.gonzalez@brightpath.io is already in row 2 of the Prospects tab",
        "    line 3: Email 'email_not_unlocked@domain.com' is a placeholder, not an address; "
        "fill in the real address or delete the row",
        "  columns: Email \u2190 'Email'; First Name \u2190 'First Name'; Last Name \u2190 "
        "'Last Name'; Company \u2190 'Company Name', else 'Company Name for Emails'; Role \u2190 "
        "'Title'; Phone \u2190 'Mobile Phone', else 'Work Direct Phone', else 'Corporate Phone', "
        "else 'Other Phone', else 'Home Phone'; LinkedIn URL \u2190 'Person Linkedin Url'; "
        "Industry \u2190 'Industry'",
        "  added the columns 'Role', 'Phone', 'LinkedIn URL' to the Prospects tab",
        "  not imported: 'Email Status', 'Primary Email Source', 'Seniority', 'Departments', "
        "'Stage', 'Lists', '# Employees', 'Keywords', 'Website', 'Company Linkedin Url', "
        "'City', 'State', 'Country', 'Company Phone', 'Apollo Contact Id' (name one in "
        "custom_fields to import it as a custom field)",
        "The next sync sends them to WarmySender; `sheetsync plan` shows what it will send.",
    ]
    after = tab(config, "Prospects")
    assert after[1] == before[1] + [None, None, None]  # the row that was there is untouched
    assert after[0] == [*before[0], "Role", "Phone", "LinkedIn URL"]
    assert after[2] == [
        "priya.raman@stackforge.dev", "Priya", "Raman", "StackForge", "Developer Tools", None,
        "CTO", "+1 512-555-0199", "http://www.linkedin.com/in/priyaraman",
    ]  # fmt: skip
    assert tab(config, "Enrollments")[1:] == [
        ["maria.gonzalez@brightpath.io", None, DRAFT, True],
        ["priya.raman@stackforge.dev", None, DRAFT, True],
    ]

    # again: nothing is added twice
    code, out = run(config, str(EXPORTS / "apollo.csv"), "--campaign", DRAFT)
    assert code == 1
    assert "  added 0 prospects" in out
    assert f"  ticked 0 Enrollments rows for {DRAFT!r} (2 had one already)" in out
    assert "    line 4: priya.raman@stackforge.dev is already in row 3 of the Prospects tab" in out
    assert tab(config, "Prospects") == after


def test_a_file_with_only_known_emails_exits_0(config: Path, tmp_path: Path) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("Email,First Name\nmaria.gonzalez@brightpath.io,Maria\n", "utf-8")
    code, out = run(config, str(csv_file))
    assert code == 0, out
    assert "already in row 2 of the Prospects tab" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty; export the leads again"),
        (b"\n\n", "is empty; export the leads again"),
        (b"Email,First Name\n", "has a header row but no leads under it; export them again"),
        (b"Name,Company\nAnn,Acme\n",
         "has no email column (its first row: 'Name', 'Company'); name it 'Email', 'Email "
         "Address', 'Work Email', 'Business Email', … or map yours with "
         '[sheet.columns.prospects] email = "<header>"'),
        ("Email,First Name\nemile@acme.fr,\u00c9mile\n".encode("cp1252"),
         "is not UTF-8 text (it has the byte 0xc9); save it as CSV UTF-8 (in Excel: Save As > "
         "CSV UTF-8) and import it again"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb1\x8f",  # an xlsx file
         "is not UTF-8 text (it has the byte 0xb1)"),
        (b"Email,Notes\nann@acme.com," + b"x" * 200_000 + b"\n",
         "is not a readable CSV file (field larger than field limit (131072)); export it as CSV "
         "again"),
    ],
)  # fmt: skip
def test_a_file_it_cannot_use_is_one_line_and_exit_2(
    config: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    csv_file = tmp_path / "leads.csv"
    csv_file.write_bytes(content)
    before = tab(config, "Prospects")
    code, out = run(config, str(csv_file))
    assert code == 2
    assert out.startswith(f"error: {csv_file} {message}"), out
    assert len(out.splitlines()) == 1
    assert tab(config, "Prospects") == before


def test_missing_file_unknown_campaign_and_ambiguous_sheet(config: Path, tmp_path: Path) -> None:
    code, out = run(config, str(tmp_path / "nope.csv"))
    assert (code, out.strip()) == (2, f"error: {tmp_path / 'nope.csv'}: no such file")
    code, out = run(config, str(EXPORTS / "hunter.csv"), "--campaign", "Nope")
    assert code == 2
    assert out.startswith("error: no campaign 'Nope' in the Campaigns tab; add it there first")
    text = config.read_text(encoding="utf-8")
    config.write_text(text + text[text.index("[[sheet]]") :].replace("demo", "other"), "utf-8")
    code, out = run(config, str(EXPORTS / "hunter.csv"))
    assert (code, out.strip()) == (
        2,
        "error: the config has several sheets (demo, other); choose one with --sheet NAME",
    )
    code, out = run(config, str(EXPORTS / "hunter.csv"), "--sheet", "other")
    assert code == 0, out


def test_import_waits_for_no_one_while_run_holds_the_lock(config: Path) -> None:
    loaded = load_config(config)
    with SheetLock(loaded.state_path, loaded.sheets[0].name, command="run"):
        code, out = run(config, str(EXPORTS / "hunter.csv"))
    assert code == 2
    assert "is locked by process" in out
    assert run(config, str(EXPORTS / "hunter.csv"))[0] == 0  # released: it goes through


def test_semicolons_a_bom_windows_line_ends_and_utf16_are_read(
    config: Path, tmp_path: Path
) -> None:
    text = "\ufeffE-Mail;Vorname;Nachname;Firma\r\nanna@firma.de;Anna;M\u00fcller;Firma GmbH\r\n"
    semicolons = tmp_path / "de.csv"
    semicolons.write_bytes(text.encode("utf-8"))
    code, out = run(config, str(semicolons))
    assert code == 0, out
    assert "  not imported: 'Vorname', 'Nachname', 'Firma'" in out
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("Email\tFirst Name\r\nbo@acme.com\tB\u00f6\r\n".encode("utf-16"))
    code, out = run(config, str(utf16))
    assert code == 0, out
    emails = [row[0] for row in tab(config, "Prospects")]
    assert emails[-2:] == ["anna@firma.de", "bo@acme.com"]


def test_a_large_file_streams_with_progress(config: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8", newline="") as fh:
        fh.write("Email,First Name,Mobile Phone\n")
        for i in range(3000):
            fh.write(f"lead{i}@example.com,Lead {i},+1 555 010 {i:04d}\n")
    seen: list[tuple[int, int]] = []
    sheet = load_config(config).sheets[0]
    source = XlsxSource(config.parent / "book.xlsx")
    report = import_csv(source, sheet, big, progress=lambda done, total: seen.append((done, total)))
    assert report.added == 3000
    assert (source.counts.reads, source.counts.writes) == (1, 1)
    size = big.stat().st_size
    assert len(seen) == 7 and seen[-1] == (size, size)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[0][0] < size
    rows = tab(config, "Prospects")
    header = [str(h) for h in rows[0]]
    assert dict(zip(header, rows[-1], strict=False))["Phone"] == "+1 555 010 2999"


def test_import_reads_the_campaign_tabs_only_with_a_campaign(
    tmp_path: Path, emulator: SheetsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Google: without --campaign, one range is read (the Prospects tab); with it, the Campaigns
    and Enrollments tabs too."""
    sid = emulator.create_spreadsheet(BOOK)
    path = tmp_path / "google.toml"
    path.write_text(
        f'[warmysender]\nbase_url = "http://127.0.0.1:9/api/v1"\n[google]\nauth = "token"\n'
        f'sheets_base_url = "{emulator.base_url}"\n'
        f'[[sheet]]\nname = "g"\nsource = "google"\nspreadsheet = "{sid}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("SHEETSYNC_GOOGLE_TOKEN", GOOGLE_TOKEN)
    code, out = run(path, str(EXPORTS / "hunter.csv"))
    assert code == 0, out
    assert emulator.ranges_read == ["'Prospects'"]
    assert emulator.values(sid, "Prospects")[-1][0] == "ben.carter@fieldnote.io"
    assert emulator.values(sid, "Enrollments") == BOOK["Enrollments"]
    emulator.reset_counts()
    code, out = run(path, str(EXPORTS / "hunter.csv"), "--campaign", DRAFT)
    assert code == 0, out
    assert emulator.ranges_read == ["'Prospects'", "'Campaigns'", "'Enrollments'"]
    assert emulator.values(sid, "Enrollments")[1:] == [["ben.carter@fieldnote.io", "", DRAFT, True]]


def test_xlsx_import_reads_the_campaign_tabs_only_with_a_campaign(config: Path) -> None:
    asked: list[list[str]] = []

    class Reads(XlsxSource):
        """The real xlsx source, noting the tabs each read asks for."""

        def read(self, tabs: Sequence[str]) -> SheetData:
            asked.append(list(tabs))
            return super().read(tabs)

    sheet = load_config(config).sheets[0]
    import_csv(Reads(config.parent / "book.xlsx"), sheet, EXPORTS / "hunter.csv")
    import_csv(Reads(config.parent / "book.xlsx"), sheet, EXPORTS / "zoominfo.csv", campaign=DRAFT)
    assert asked == [["Prospects"], ["Prospects", "Campaigns", "Enrollments"]]
