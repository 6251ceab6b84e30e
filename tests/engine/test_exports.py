"""Real lead exports work out of the box: each export's real header row (tests/exports/*.csv)
pasted into the Prospects tab, or brought in with `sheetsync import`, syncs every field
sheetsync knows with no mapping. Checked field by field in the sandbox's prospect."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from sheetsync.app.importer import import_csv
from sheetsync.sheet.connect import open_source
from tests.engine.conftest import HEADERS, MBX, Harness, default_tabs

EXPORTS = Path(__file__).resolve().parents[1] / "exports"
FIELDS = ("firstName", "lastName", "company", "role", "phone", "linkedinUrl", "customFields")


def want(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(FIELDS)
    out["customFields"] = {}
    out.update(fields)
    return out


# export -> {email: the sandbox's prospect afterwards}; rows not listed must not be prospects
EXPECTED: dict[str, dict[str, dict[str, Any]]] = {
    "apollo": {
        # Mobile Phone is empty: Work Direct Phone is next (its leading apostrophe dropped)
        "maria.gonzalez@brightpath.io": want(
            firstName="Maria", lastName="Gonzalez", company="BrightPath Inc.", role="CEO",
            phone="+1 415-555-0134",
            linkedinUrl="https://www.linkedin.com/in/maria-gonzalez-4b1a2c",
            customFields={"Industry": "Computer Software"},
        ),
        "priya.raman@stackforge.dev": want(  # Mobile Phone comes before Work Direct Phone
            firstName="Priya", lastName="Raman", company="StackForge", role="CTO",
            phone="+1 512-555-0199", linkedinUrl="https://www.linkedin.com/in/priyaraman",
            customFields={"Industry": "Developer Tools"},
        ),
    },
    "hubspot": {
        "lukas.weber@nordlicht.de": want(
            firstName="Lukas", lastName="Weber", company="Nordlicht GmbH",
            role="Managing Director", phone="+49 30 1234567",
            linkedinUrl="https://www.linkedin.com/in/lukas-weber-nordlicht",
        ),
        "emma.schulz@nordlicht.de": want(
            firstName="Emma", lastName="Schulz", company="Nordlicht GmbH",
            role="Head of Finance", phone="+49 151 2345678",
        ),
    },
    "salesforce": {
        "aiko.tanaka@kumo.jp": want(  # Phone is sheetsync's own header: it comes first
            firstName="Aiko", lastName="Tanaka", company="Kumo KK", role="Head of Growth",
            phone="+81 3-1234-5678",
        ),
    },
    "zoominfo": {
        "daniel.kim@harborlane.com": want(
            firstName="Daniel", lastName="Kim", company="Harbor Lane Inc.", role="VP Sales",
            phone="(617) 555-0188", linkedinUrl="https://www.linkedin.com/in/danielkim",
        ),
    },
    "lusha": {
        "sofia.rossi@velatech.it": want(
            firstName="Sofia", lastName="Rossi", company="Vela Tech S.r.l.", role="CMO",
            phone="+39 347 123 4567",
            linkedinUrl="https://www.linkedin.com/in/sofia-rossi-velatech",
        ),
    },
    "hunter": {
        "ben.carter@fieldnote.io": want(
            firstName="Ben", lastName="Carter", company="Fieldnote", role="Co-founder",
            phone="+44 20 7946 0958", linkedinUrl="https://www.linkedin.com/in/bencarter",
        ),
    },
    "seamless": {
        "olivia.brown@meadowhealth.com": want(  # Primary Email is empty: Email 1 is next
            firstName="Olivia", lastName="Brown", company="Meadow Health LLC",
            role="Director of Operations", phone="+1 (303) 555-0117",
            linkedinUrl="https://www.linkedin.com/in/olivia-brown-meadow",
        ),
    },
    "clay": {
        "noah.fischer@alpenlabs.ch": want(
            firstName="Noah", lastName="Fischer", company="Alpen Labs AG",
            role="Head of Engineering", phone="+41 44 123 45 67",
            linkedinUrl="https://www.linkedin.com/in/noahfischer",
        ),
    },
    "salesnav": {
        "hannah.lee@orbitpay.com": want(
            firstName="Hannah", lastName="Lee", company="OrbitPay", role="Founder & CEO",
            phone="+1 646 555 0123",
            linkedinUrl="https://www.linkedin.com/in/hannah-lee-orbitpay",
        ),
        # a Sales Navigator link is left out (the row says why); "n/a" is a blank phone
        "leo.martin@orbitpay.com": want(
            firstName="Leo", lastName="Martin", company="OrbitPay", role="Head of Sales",
        ),
    },
    "linkedin": {
        "grace.hall@loomly.app": want(
            firstName="Grace", lastName="Hall", company="Loomly", role="Head of Partnerships",
            linkedinUrl="https://www.linkedin.com/in/grace-hall-loomly",
        ),
    },
    "warmysender": {
        "ana.silva@portolab.pt": want(
            firstName="Ana", lastName="Silva", company="Porto Lab", role="COO",
            phone="+351 21 123 4567", linkedinUrl="https://www.linkedin.com/in/anasilva",
            customFields={"Industry": "Biotech"},
        ),
    },
}  # fmt: skip

# export -> {email or first name: the row's Sync Status after the sync}
STATUSES: dict[str, dict[str, str]] = {
    "apollo": {
        "email_not_unlocked@domain.com": "error: Email 'email_not_unlocked@domain.com' is a "
        "placeholder, not an address; fill in the real address or delete the row",
    },
    "salesnav": {
        "leo.martin@orbitpay.com": "synced: left out: linkedin_profile_url "
        "'https://www.linkedin.com/sales/lead/ACw…' is a Sales Navigator link, not a public "
        "profile; open the lead in Sales Navigator, choose View LinkedIn profile and paste that "
        "address",
    },
    "linkedin": {"Tom": "error: Email Address is empty"},
}


def export_rows(name: str) -> list[list[object]]:
    """The export from its header row on (LinkedIn's file starts with notes)."""
    with (EXPORTS / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        rows: list[list[object]] = [list(r) for r in csv.reader(fh)]
    start = next(i for i, r in enumerate(rows) if len(r) > 4)
    return rows[start:]


def assert_synced(h: Harness, name: str) -> None:
    prospects = {p["email"]: p for p in h.ws()["prospects"]}
    for email, fields in EXPECTED[name].items():
        got = {f: prospects[email][f] for f in FIELDS}
        assert got == fields, email
    assert "email_not_unlocked@domain.com" not in prospects  # the sandbox is seeded with others


def assert_statuses(h: Harness, name: str) -> None:
    for who, status in STATUSES.get(name, {}).items():
        rows = [r for r in h.table("Prospects") if who in r.values()]
        assert len(rows) == 1, (who, rows)
        assert rows[0]["Sync Status"] == status
    ok = [r for r in h.table("Prospects") if str(r.get("Sync Status", "")).startswith("synced")]
    assert len(ok) == len(EXPECTED[name])


@pytest.mark.parametrize("h", ["xlsx"], indirect=True)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_pasted_export_syncs_every_field_with_no_mapping(h: Harness, name: str) -> None:
    tabs = default_tabs(0)
    tabs["Prospects"] = export_rows(name)
    h.make(tabs)
    r = h.sync()
    assert r.prospects_created == len(EXPECTED[name])
    assert_synced(h, name)
    assert_statuses(h, name)


@pytest.mark.parametrize("h", ["xlsx"], indirect=True)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_imported_export_syncs_every_field(h: Harness, name: str) -> None:
    h.make(default_tabs(0))  # the tab sheetsync init makes: Email, names, Company, Industry
    sheet = h.config.sheets[0]
    source = open_source(sheet, h.config.google)
    try:
        report = import_csv(source, sheet, EXPORTS / f"{name}.csv")
    finally:
        source.close()
    assert report.added == len(EXPECTED[name])
    header = h.book.values("Prospects")[0] if h.book else []
    assert header[: len(HEADERS["Prospects"])] == HEADERS["Prospects"]  # kept as it was
    h.sync()
    assert_synced(h, name)


@pytest.mark.parametrize("h", ["google"], indirect=True)
def test_import_into_a_google_sheet_is_one_write_and_enrolls(h: Harness) -> None:
    tabs = default_tabs(1)
    h.make(tabs)
    sheet = h.config.sheets[0]
    source = open_source(sheet, h.config.google)
    try:
        report = import_csv(source, sheet, EXPORTS / "apollo.csv", campaign="q1 launch")
        assert (source.counts.reads, source.counts.writes) == (2, 1)  # metadata + values; one write
    finally:
        source.close()
    assert (report.added, report.enrolled, report.invalid) == (2, 2, 1)
    assert h.book is not None
    prospects = h.book.values("Prospects")
    assert prospects[0] == [*HEADERS["Prospects"], "Role", "Phone", "LinkedIn URL"]
    assert prospects[2][:2] == ["maria.gonzalez@brightpath.io", "Maria"]
    assert prospects[2][5:] == [
        "CEO",
        "+1 415-555-0134",
        "http://www.linkedin.com/in/maria-gonzalez-4b1a2c",
    ]
    enrollments = h.table("Enrollments")
    assert [(e["Email"], e["Campaign"], e["Enrolled"]) for e in enrollments] == [
        ("p0@example.com", "Q1 Launch", True),
        ("maria.gonzalez@brightpath.io", "Q1 Launch", True),
        ("priya.raman@stackforge.dev", "Q1 Launch", True),
    ]
    h.sync()
    camp = h.ws()["campaigns"][0]
    assert len(camp["enrollments"]) == 3
    assert_synced_subset(h, "apollo")


def assert_synced_subset(h: Harness, name: str) -> None:
    prospects = {p["email"]: p for p in h.ws()["prospects"]}
    for email, fields in EXPECTED[name].items():
        assert {f: prospects[email][f] for f in FIELDS} == fields, email


@pytest.mark.parametrize("h", ["xlsx"], indirect=True)
def test_a_linkedin_campaign_enrolls_a_prospect_once_it_has_a_profile_url(h: Harness) -> None:
    tabs = default_tabs(0)
    tabs["Prospects"] = [
        ["Email", "First Name", "LinkedIn URL"],
        ["ann@acme.com", "Ann", "https://m.linkedin.com/in/ann-lee/"],
        ["bob@acme.com", "Bob", "https://www.linkedin.com/company/acme"],
    ]
    tabs["Campaigns"] = [["Campaign", "Channel", "Mailboxes"], ["LI Push", "linkedin", MBX]]
    tabs["Steps"] = [["Campaign", "Step", "Subject", "Body"], ["LI Push", 1, "Hi", "Hello"]]
    tabs["Enrollments"] = [
        ["Email", "Campaign", "Enrolled"],
        ["ann@acme.com", "LI Push", True],
        ["bob@acme.com", "LI Push", True],
    ]
    h.make(tabs)
    h.sync()
    status = {e["Email"]: e["Enrollment Status"] for e in h.table("Enrollments")}
    assert status == {
        "ann@acme.com": "enrolled",
        "bob@acme.com": "waiting: a linkedin campaign needs the prospect's LinkedIn profile "
        "URL; fill it in on row 3 of the Prospects tab",
    }
    assert h.row("Prospects", "Email", "bob@acme.com")["Sync Status"].startswith(  # type: ignore[union-attr]
        "synced: left out: LinkedIn URL"
    )
    assert h.book is not None
    h.book.set_cell("Prospects", 3, 2, "linkedin.com/in/bob-b")
    h.poll()
    assert h.row("Enrollments", "Email", "bob@acme.com")["Enrollment Status"] == "enrolled"
    bob = next(p for p in h.ws()["prospects"] if p["email"] == "bob@acme.com")
    assert bob["linkedinUrl"] == "https://www.linkedin.com/in/bob-b"
    assert h.row("Prospects", "Email", "bob@acme.com")["Sync Status"] == "synced"


@pytest.mark.parametrize("h", ["xlsx"], indirect=True)
def test_plan_shows_the_fields_of_new_and_changed_prospects(h: Harness) -> None:
    from rich.console import Console

    from sheetsync.app.report import plan_table

    tabs = default_tabs(0)
    tabs["Prospects"] = [
        ["Email", "First Name", "Company", "Mobile Phone", "Person Linkedin Url", "Industry"],
        ["ann@acme.com", "Ann", "Acme", "call me", "linkedin.com/in/ann", ""],
        *([f"p{i}@acme.com", f"P{i}", "Acme", "", "", "SaaS"] for i in range(6)),
    ]
    h.make(tabs)

    def plan() -> list[str]:
        console = Console(width=400, record=True)
        with h.open() as ss:
            console.print(plan_table(ss.plan()))
        lines = console.export_text().splitlines()
        return [" ".join(ln.strip(" │┃").split()) for ln in lines if "prospect" in ln]

    assert plan() == [
        "1 │ create prospect ann@acme.com: firstName 'Ann', company 'Acme', linkedinUrl "
        "'https://www.linkedin.com/in/ann'; left out: Mobile Phone 'call me' is not a phone "
        "number; use digits, spaces and + - ( ), e.g. +1 555 123 4567",
        *(
            f"{i + 2} │ create prospect p{i}@acme.com: firstName 'P{i}', company 'Acme', "
            "customFields {Industry: 'SaaS'}"
            for i in range(4)
        ),
        "6 │ … and 2 more prospects to create",
        "7 │ 7 new prospects; with a value: firstName 7, lastName 0, company 7, role 0, "
        "phone 0, linkedinUrl 1, customFields 6",
    ]
    h.sync()
    assert h.book is not None
    h.book.set_cell("Prospects", 2, 3, "+1 555 010 0199")
    h.book.set_cell("Prospects", 3, 2, "Acme Inc.")
    assert plan() == [
        "1 │ update prospect ann@acme.com: phone '+1 555 010 0199'",
        "2 │ update prospect p0@acme.com: company 'Acme Inc.'",
        "3 │ 2 changed prospects; with a value: firstName 0, lastName 0, company 1, role 0, "
        "phone 1, linkedinUrl 0",
    ]
