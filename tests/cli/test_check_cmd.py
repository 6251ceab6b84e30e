"""`sheetsync check` against the sandbox and an xlsx workbook: all green on a good setup, and
each failure (missing key, revoked key, missing scopes, missing tab, missing header, unknown or
disconnected mailbox) on its own line with its fix, the other checks still shown, exit 1."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.data import demo_workbook as sample
from sheetsync.sandbox import DEMO_KEY, DEMO_READONLY_KEY, SandboxServer

from .conftest import REVOKED_KEY

OK, BAD = "\u2713", "\u2717"


@pytest.fixture
def setup(tmp_path: Path, sandbox: SandboxServer) -> Path:
    """A config pointing at the sandbox and a copy of the demo workbook."""
    (tmp_path / "book.xlsx").write_bytes(sample.build_workbook())
    config = tmp_path / "sheetsync.toml"
    config.write_text(
        "[warmysender]\n"
        f'base_url = "{sandbox.base_url}"\n'
        "[[sheet]]\n"
        'name = "demo"\n'
        'source = "xlsx"\n'
        'spreadsheet = "book.xlsx"\n'
        'custom_fields = ["Industry"]\n',
        encoding="utf-8",
    )
    return config


def run(config: Path, key: str | None) -> tuple[int, list[str]]:
    env = {"WARMYSENDER_API_KEY": key} if key else {}
    result = CliRunner().invoke(
        cli, ["--config", str(config), "check"], env=env, catch_exceptions=False
    )
    return result.exit_code, result.output.splitlines()


def line(lines: list[str], start: str) -> str:
    hits = [ln for ln in lines if ln.startswith(start)]
    assert len(hits) == 1, (start, lines)
    return hits[0]


def edit(path: Path, fn: object) -> None:
    wb = openpyxl.load_workbook(path)
    fn(wb)  # type: ignore[operator]
    wb.save(path)
    wb.close()


def test_everything_passes(setup: Path) -> None:
    code, lines = run(setup, DEMO_KEY)
    assert code == 0, lines
    assert lines[-1] == "All checks passed."
    checks = lines[:-1]
    assert all(ln.startswith(OK) for ln in checks), checks
    assert [ln.split(":")[0] for ln in checks] == [
        f"{OK} config valid",
        f"{OK} API key present",
        f"{OK} API key valid",
        f"{OK} API key scopes",
        f"{OK} sheet 'demo' reachable",
        f"{OK} sheet 'demo' tabs and headers",
        f"{OK} sheet 'demo' columns of 'Prospects'",
        f"{OK} sheet 'demo' columns of 'Campaigns'",
        f"{OK} sheet 'demo' columns of 'Steps'",
        f"{OK} sheet 'demo' columns of 'Enrollments'",
        f"{OK} sheet 'demo' mailboxes",
    ]
    prospects = line(lines, f"{OK} sheet 'demo' columns of 'Prospects'")
    assert prospects.endswith(
        ": Email \u2190 'Email'; First Name \u2190 'First Name'; Last Name \u2190 'Last Name'; "
        "Company \u2190 'Company'; Role \u2190 'Role'; Phone \u2190 'Phone'; "
        "LinkedIn URL \u2190 'LinkedIn URL'; Industry \u2190 'Industry'"
    )
    assert "workspace ws_demo" in line(lines, f"{OK} API key valid")
    assert "2 named in 'Campaigns', all connected and sending" in lines[-2]
    assert DEMO_KEY not in "\n".join(lines)


def test_missing_key_names_the_variable_and_keeps_checking_the_sheet(setup: Path) -> None:
    code, lines = run(setup, None)
    assert code == 1
    miss = line(lines, f"{BAD} API key present")
    assert "$WARMYSENDER_API_KEY is not set" in miss
    assert "fix: export WARMYSENDER_API_KEY=<your key>" in miss
    assert line(lines, f"{OK} sheet 'demo' tabs and headers")
    assert lines[-1] == "1 check failed."


def test_revoked_key(setup: Path) -> None:
    code, lines = run(setup, REVOKED_KEY)
    assert code == 1
    bad = line(lines, f"{BAD} API key valid")
    assert "refused the key in $WARMYSENDER_API_KEY (401)" in bad
    assert "fix: create a new key in Settings > API Keys" in bad
    assert REVOKED_KEY not in "\n".join(lines)
    assert not [ln for ln in lines if "scopes" in ln or "mailboxes:" in ln]


def test_missing_scopes_are_listed(setup: Path) -> None:
    code, lines = run(setup, DEMO_READONLY_KEY)
    assert code == 1
    bad = line(lines, f"{BAD} API key scopes")
    assert "the key lacks prospects:write, campaigns:write, enrollments:write" in bad
    assert "fix: in Settings > API Keys in WarmySender, create a key with mailboxes:read" in bad
    # The read-only key can still list mailboxes, so that check runs and passes.
    assert line(lines, f"{OK} sheet 'demo' mailboxes")
    assert lines[-1] == "1 check failed."


def test_with_webhooks_the_key_needs_the_webhook_scopes(setup: Path) -> None:
    text = setup.read_text(encoding="utf-8")
    hooks = '[webhooks]\nlisten = "127.0.0.1:0"\npublic_url = "https://sync.example.com/w"\n'
    setup.write_text(hooks + text, encoding="utf-8")
    code, lines = run(setup, DEMO_KEY)
    assert code == 0, lines
    assert line(lines, f"{OK} API key scopes").endswith("webhooks:read, webhooks:write")
    code, lines = run(setup, DEMO_READONLY_KEY)
    bad = line(lines, f"{BAD} API key scopes")
    assert "enrollments:write, webhooks:write" in bad and code == 1


def test_missing_tab_and_missing_header(setup: Path) -> None:
    def damage(wb: openpyxl.Workbook) -> None:
        del wb["Steps"]
        wb["Campaigns"]["A1"] = "Campaign Name"

    edit(setup.parent / "book.xlsx", damage)
    code, lines = run(setup, DEMO_KEY)
    assert code == 1
    steps = line(lines, f"{BAD} sheet 'demo' tab 'Steps'")
    assert "not found; the tabs there are: 'Prospects', 'Campaigns', 'Enrollments'" in steps
    assert "fix: create it with `sheetsync init`" in steps
    header = line(lines, f"{BAD} sheet 'demo' tab 'Campaigns'")
    assert "has no 'Campaign' column" in header
    assert '[sheet.columns.campaigns] name = "<your header>"' in header
    assert lines[-1] == "2 checks failed."


def test_unknown_and_disconnected_mailboxes(setup: Path) -> None:
    def mailboxes(wb: openpyxl.Workbook) -> None:
        ws = wb["Campaigns"]
        col = [c.value for c in ws[1]].index("Mailboxes") + 1
        ws.cell(row=2, column=col).value = "old@outreach-demo.example, nobody@nowhere.example"

    edit(setup.parent / "book.xlsx", mailboxes)
    code, lines = run(setup, DEMO_KEY)
    assert code == 1
    bad = [ln for ln in lines if ln.startswith(f"{BAD} sheet 'demo' mailboxes")]
    assert len(bad) == 2, lines
    assert "'Campaigns' row 2: mailbox 'old@outreach-demo.example' is disconnected" in bad[0]
    assert "fix: reconnect it in WarmySender" in bad[0]
    assert "mailbox 'nobody@nowhere.example' is not in this workspace" in bad[1]
    assert "these can send: alex@outreach-demo.example, sam@outreach-demo.example" in bad[1]


def test_bad_config_is_one_failed_check(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[sheet]]\nname = "x"\nsource = "csv"\nspreadsheet = "a"\n')
    code, lines = run(config, DEMO_KEY)
    assert code == 1
    assert lines[0].startswith(f"{BAD} config valid: ")
    assert "must be one of google, xlsx" in lines[0]
    assert lines[-1] == "1 check failed."


def test_unreachable_api(setup: Path, sandbox: SandboxServer) -> None:
    sandbox.close()
    code, lines = run(setup, DEMO_KEY)
    assert code == 1
    bad = line(lines, f"{BAD} API key valid")
    assert "cannot reach WarmySender at http://127.0.0.1:" in bad
    assert "fix: check [warmysender] base_url" in bad
    assert line(lines, f"{OK} sheet 'demo' tabs and headers")


def test_unreachable_sheet(setup: Path) -> None:
    (setup.parent / "book.xlsx").unlink()
    code, lines = run(setup, DEMO_KEY)
    assert code == 1
    bad = line(lines, f"{BAD} sheet 'demo' reachable")
    assert "book.xlsx not found" in bad and "sheetsync init" in bad
    assert line(lines, f"{OK} API key scopes")  # the API checks still ran
    assert lines[-1] == "1 check failed."


WARN = "!"


def test_the_column_map_of_a_pasted_export(setup: Path) -> None:
    """An Apollo export pasted as the Prospects tab: which header feeds which field, in which
    order, what is ignored, and what is missing; no warning for Apollo's own extra columns."""
    header = ["First Name", "Last Name", "Title", "Company Name", "Email", "Email Status",
              "Work Direct Phone", "Home Phone", "Mobile Phone", "Person Linkedin Url",
              "Company Phone", "Company Linkedin Url", "City", "Industry"]  # fmt: skip

    def paste(wb: openpyxl.Workbook) -> None:
        del wb["Prospects"]
        ws = wb.create_sheet("Prospects", 0)
        ws.append(header)
        ws.append(["Ann", "Lee", "CTO", "Acme", "ann@acme.com"])

    edit(setup.parent / "book.xlsx", paste)
    code, lines = run(setup, DEMO_KEY)
    assert code == 0, lines
    assert lines[-1] == "All checks passed."
    got = line(lines, f"{OK} sheet 'demo' columns of 'Prospects'")
    assert got == (
        f"{OK} sheet 'demo' columns of 'Prospects': Email \u2190 'Email'; "
        "First Name \u2190 'First Name'; Last Name \u2190 'Last Name'; "
        "Company \u2190 'Company Name'; Role \u2190 'Title'; "
        "Phone \u2190 'Mobile Phone', else 'Work Direct Phone', else 'Home Phone'; "
        "LinkedIn URL \u2190 'Person Linkedin Url'; Industry \u2190 'Industry'; "
        "ignored: 'Email Status', 'Company Phone', 'Company Linkedin Url', 'City'"
    )
    assert not [ln for ln in lines if ln.startswith(WARN)]


def test_column_map_warnings_and_missing_fields(setup: Path) -> None:
    """A configured mapping that matches no header, a custom field that matches none, and an
    ignored header that looks like a known field: warnings, not failures (exit 0)."""
    setup.write_text(
        setup.read_text(encoding="utf-8").replace(
            'custom_fields = ["Industry"]\n',
            'custom_fields = ["Industry", "Seniority"]\n'
            '[sheet.columns.prospects]\ncompany = "Company Name"\n',
        ),
        encoding="utf-8",
    )

    def rename(wb: openpyxl.Workbook) -> None:
        ws = wb["Prospects"]
        for cell in ws[1]:
            if cell.value == "Phone":
                cell.value = "Tel (work)"
            if cell.value == "LinkedIn URL":
                cell.value = "LinkedIn link"

    edit(setup.parent / "book.xlsx", rename)
    code, lines = run(setup, DEMO_KEY)
    assert code == 0, lines
    assert lines[-1] == "All checks passed (5 warnings)."
    name = "sheet 'demo' columns of 'Prospects'"
    columns = line(lines, f"{OK} {name}")
    assert columns.endswith(
        "; ignored: 'Company', 'Tel (work)', 'LinkedIn link'; no column for Company Name, "
        "Phone, LinkedIn URL"
    )
    warnings = [ln for ln in lines if ln.startswith(f"{WARN} {name}")]
    assert warnings == [
        f"{WARN} {name}: [sheet.columns.prospects] company = 'Company Name' matches no header in "
        "'Prospects' \u2192 fix: rename the column in row 1 or change the config to one of its "
        "headers",
        f"{WARN} {name}: custom_fields 'Seniority' matches no header in 'Prospects' \u2192 fix: "
        "rename the column in row 1 or change the config to one of its headers",
        f"{WARN} {name}: header 'Company' (column D) is ignored but looks like Company Name "
        '\u2192 fix: to use it, set [sheet.columns.prospects] company = "Company" in the config '
        "(or add it to custom_fields to send it as a custom field)",
        f"{WARN} {name}: header 'Tel (work)' (column F) is ignored but looks like Phone "
        '\u2192 fix: to use it, set [sheet.columns.prospects] phone = "Tel (work)" in the config '
        "(or add it to custom_fields to send it as a custom field)",
        f"{WARN} {name}: header 'LinkedIn link' (column G) is ignored but looks like LinkedIn "
        'URL \u2192 fix: to use it, set [sheet.columns.prospects] linkedin_url = "LinkedIn link" '
        "in the config (or add it to custom_fields to send it as a custom field)",
    ]


def test_check_reads_mailboxes_with_the_function_sync_uses(setup: Path) -> None:
    """`check` predicts `sync`: the same split (commas, semicolons, newlines) and the same error
    for a cell sync cannot read (tests/engine/test_truth.py syncs the same cells)."""

    def mailboxes(wb: openpyxl.Workbook) -> None:
        ws = wb["Campaigns"]
        col = [c.value for c in ws[1]].index("Mailboxes") + 1
        ws.cell(row=2, column=col).value = "alex@outreach-demo.example; sam@outreach-demo.example"
        ws.cell(row=3, column=1).value = "Broken"
        ws.cell(row=3, column=col).value = "#REF!"

    edit(setup.parent / "book.xlsx", mailboxes)
    code, lines = run(setup, DEMO_KEY)
    bad = [ln for ln in lines if ln.startswith(f"{BAD} sheet 'demo' mailboxes")]
    assert len(bad) == 1, lines
    assert "row 3: Mailboxes shows the spreadsheet error #REF!" in bad[0]
    assert code == 1
