"""samples/ and the package data: the demo workbook is reproducible, every sample config loads,
the lead-export sample is recognised with no mapping, and the example config shipped as package
data is the one in config/."""

from __future__ import annotations

import csv
from importlib.resources import files
from pathlib import Path

import openpyxl
import pytest

from sheetsync.config import load_config
from sheetsync.data import demo_workbook as dw
from sheetsync.sheet.layout import PROSPECTS, customise, match_headers

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def test_demo_workbook_is_rebuilt_byte_for_byte() -> None:
    built = dw.build_workbook()
    assert (ROOT / "sheetsync" / "data" / dw.WORKBOOK_NAME).read_bytes() == built, (
        "run .venv/bin/python samples/make_demo_workbook.py"
    )
    assert (SAMPLES / dw.WORKBOOK_NAME).read_bytes() == built


def test_demo_workbook_is_package_data_with_the_sample_rows() -> None:
    ref = files("sheetsync.data") / dw.WORKBOOK_NAME
    with ref.open("rb") as fh:
        wb = openpyxl.load_workbook(fh)
    try:
        assert wb.sheetnames == ["Prospects", "Campaigns", "Steps", "Enrollments"]
        prospects = wb["Prospects"]
        assert [c.value for c in prospects[1]][:3] == ["Email", "First Name", "Last Name"]
        assert "Industry" in [c.value for c in prospects[1]]
        assert prospects.max_row - 1 == len(dw.PROSPECTS) == 26
        assert prospects.freeze_panes == "A2"
        status = [c for c in prospects[1] if c.value == "Sync Status"][0]
        assert status.comment is not None and "overwritten" in status.comment.text
        enrolled = wb["Enrollments"]
        assert [c.value for c in enrolled[2]][3] is True  # a real boolean, not "TRUE"
        assert enrolled.data_validations.dataValidation[0].formula1 == '"TRUE,FALSE"'
    finally:
        wb.close()


def test_example_config_package_data_matches_config_folder() -> None:
    shipped = (files("sheetsync.data") / "sheetsync.example.toml").read_text(encoding="utf-8")
    assert shipped == (ROOT / "config" / "sheetsync.example.toml").read_text(encoding="utf-8"), (
        "copy config/sheetsync.example.toml to sheetsync/data/"
    )


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("config-xlsx.toml", "xlsx"),
        ("config-google.toml", "google"),
        ("lead-export.toml", "xlsx"),
    ],
)
def test_sample_configs_load(name: str, source: str) -> None:
    config = load_config(SAMPLES / name, env={"WARMYSENDER_API_KEY": "k"})
    assert config.sheets[0].source == source
    assert config.warmysender.api_key is not None
    if source == "google":
        assert config.sheets[0].spreadsheet == "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
    else:
        assert Path(config.sheets[0].spreadsheet).parent == SAMPLES


def test_lead_export_headers_map_to_prospect_columns_with_no_mapping() -> None:
    config = load_config(SAMPLES / "lead-export.toml", env={})
    spec = config.sheets[0].tab("prospects")
    assert spec == customise(PROSPECTS, extra_inputs=("Industry",))  # no [sheet.columns]
    with (SAMPLES / "lead-export.csv").open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    found = match_headers(spec, header)
    by_field = {f: [header[i] for i in cols] for f, cols in found.columns.items()}
    assert by_field == {
        "email": ["Email"],
        "first_name": ["First Name"],
        "last_name": ["Last Name"],
        "company": ["Company Name", "Company Name for Emails"],
        "role": ["Title"],
        "phone": [
            "Mobile Phone", "Work Direct Phone", "Corporate Phone", "Other Phone", "Home Phone"
        ],
        "linkedin_url": ["Person Linkedin Url"],
        "custom:Industry": ["Industry"],
    }  # fmt: skip
    assert found.duplicates == {}


def test_systemd_unit_runs_the_daemon_and_stops_with_sigterm() -> None:
    text = (SAMPLES / "sheetsync.service").read_text(encoding="utf-8")
    exec_start = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    assert len(exec_start) == 1 and exec_start[0].endswith(" run")
    assert "KillSignal=SIGTERM" in text
    assert "EnvironmentFile=" in text  # the key lives outside the unit
    assert "WARMYSENDER_API_KEY=" not in text.split("[Unit]", 1)[1]


def test_lead_export_rows_become_prospect_bodies() -> None:
    """The CSV pasted as the Prospects tab, read through the real row parser."""
    from sheetsync.rows.parse import parse_sheet
    from sheetsync.sheet.base import SheetData

    sheet = load_config(SAMPLES / "lead-export.toml", env={}).sheets[0]
    with (SAMPLES / "lead-export.csv").open(newline="", encoding="utf-8") as fh:
        grid: list[list[object]] = [list(r) for r in csv.reader(fh)]
    tabs = {sheet.tab("prospects").title: grid}
    for role in ("campaigns", "steps", "enrollments"):
        spec = sheet.tab(role)
        tabs[spec.title] = [[c.header for c in spec.inputs]]
    rows = parse_sheet(SheetData(tabs=tabs, titles=list(tabs)), sheet)
    assert [(i.row, i.message[:44]) for i in rows.issues] == [
        (6, "Email 'email_not_unlocked@domain.com' is a p")
    ]
    by_email = {p.key: p.body for p in rows.prospects}
    assert len(by_email) == 4
    james = by_email["james.oconnor@tidewater.co"]  # trimmed and lower-cased
    assert james == {
        "email": "james.oconnor@tidewater.co",
        "firstName": "James",
        "lastName": "O'Connor",
        "company": "Tidewater",
        "role": "Founder",
        "phone": "+1 617-555-0142",
        "linkedinUrl": "https://www.linkedin.com/in/jamesoconnor",
        "customFields": {"Industry": "Logistics"},
    }
    assert by_email["maria.gonzalez@brightpath.io"]["phone"] == "+1 415-555-0134"
    assert by_email["priya.raman@stackforge.dev"]["phone"] == "+1 512-555-0100"
    assert "linkedinUrl" not in by_email["lukas.weber@nordlicht.de"]
