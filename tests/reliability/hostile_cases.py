"""The hostile-input catalogue as data: rows a marketer might type, and the exact status each gets.

Every case starts from a small valid sheet (BASE: two prospects, one running campaign with two
steps, two enrollments), appends its own rows (dicts by header, so a case that reorders or
renames headers still fills the right cells) and may edit the tabs first. `expect` gives, per
tab, the status of each appended row in order (None: the row gets no status, e.g. a blank row).
The BASE rows must still sync in every case (`base_ok`), which is how "nothing else is lost" is
checked. `check(h)` asserts what reached WarmySender where the status alone does not say it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

MBX = "alex@outreach-demo.example"
BOTH = ("xlsx", "google")
LAUNCH = "Q1 Launch"

Tabs = dict[str, list[list[Any]]]
Cells = dict[str, Any]

HEADERS = {
    "Prospects": ["Email", "First Name", "Last Name", "Company", "Phone", "Industry"],
    "Campaigns": [
        "Campaign",
        "Mailboxes",
        "Daily Send Limit",
        "Timezone",
        "Schedule Days",
        "Window Start",
        "Window End",
        "Track Opens",
        "Start Date",
        "End Date",
        "State",
    ],
    "Steps": ["Campaign", "Step", "Delay Days", "Subject", "Body"],
    "Enrollments": ["Email", "Campaign", "Enrolled"],
    "Sync Log": ["Time"],
}
STATUS = {
    "Prospects": "Sync Status",
    "Campaigns": "Sync Status",
    "Steps": "Sync Status",
    "Enrollments": "Enrollment Status",
}


def person(email: object, first: object = "Pat", **more: object) -> Cells:
    return {"Email": email, "First Name": first, "Last Name": "Doe", "Company": "Acme", **more}


def campaign(name: object, mailboxes: object = MBX, **more: object) -> Cells:
    cells: Cells = {"Campaign": name, "Mailboxes": mailboxes, "Daily Send Limit": 20}
    return {**cells, **more}


def step(name: object, n: object, delay: object = None, **more: object) -> Cells:
    cells: Cells = {"Campaign": name, "Step": n, "Delay Days": delay, "Subject": f"S{n}"}
    return {**cells, "Body": "<p>Hello</p>", **more}


def enrol(email: object, name: object = LAUNCH, enrolled: object = True) -> Cells:
    return {"Email": email, "Campaign": name, "Enrolled": enrolled}


def base_tabs() -> Tabs:
    """Two prospects, one running campaign with two steps, both enrolled."""

    def row(tab: str, cells: Cells) -> list[Any]:
        return [cells.get(h) for h in HEADERS[tab]]

    return {
        "Prospects": [
            list(HEADERS["Prospects"]),
            row("Prospects", person("p0@example.com", "Ann", Industry="SaaS")),
            row("Prospects", person("p1@example.com", "Ben", Industry="SaaS")),
        ],
        "Campaigns": [
            list(HEADERS["Campaigns"]),
            row(
                "Campaigns",
                campaign(
                    LAUNCH,
                    **{"Daily Send Limit": 50, "Timezone": "Europe/Berlin"},
                    **{"Schedule Days": "Mon-Fri", "Window Start": "09:00"},
                    **{"Window End": "17:00", "Track Opens": True, "State": "Running"},
                ),
            ),
        ],
        "Steps": [
            list(HEADERS["Steps"]),
            row("Steps", step(LAUNCH, 1, 0)),
            row("Steps", step(LAUNCH, 2, 2)),
        ],
        "Enrollments": [
            list(HEADERS["Enrollments"]),
            row("Enrollments", enrol("p0@example.com")),
            row("Enrollments", enrol("p1@example.com")),
        ],
        "Sync Log": [list(HEADERS["Sync Log"])],
    }


@dataclass(frozen=True)
class Case:
    id: str
    add: dict[str, list[Cells | None]]  # None appends a blank row
    expect: dict[str, list[str | None]]
    edit: Callable[[Tabs], None] | None = None
    sources: tuple[str, ...] = BOTH
    sheet: dict[str, Any] = field(default_factory=dict)  # [[sheet]] overrides
    check: Callable[[Any], None] | None = None  # gets the Harness
    base_ok: bool = True


def _remote_prospect(h: Any, email: str) -> dict[str, Any]:
    hits = [p for p in h.ws()["prospects"] if p["email"] == email]
    assert len(hits) == 1, (email, hits)
    return dict(hits[0])


def _remote_campaign(h: Any, name: str) -> dict[str, Any]:
    hits = [c for c in h.ws()["campaigns"] if c["name"] == name]
    assert len(hits) == 1, (name, hits)
    return dict(hits[0])


def expect_prospect(email: str, **fields: Any) -> Callable[[Any], None]:
    def check(h: Any) -> None:
        p = _remote_prospect(h, email)
        for k, v in fields.items():
            assert p.get(k) == v, (k, p.get(k), v)

    return check


def expect_campaign(name: str, **fields: Any) -> Callable[[Any], None]:
    def check(h: Any) -> None:
        c = _remote_campaign(h, name)
        for k, v in fields.items():
            assert c.get(k) == v, (k, c.get(k), v)

    return check


def expect_no_prospect(email: str) -> Callable[[Any], None]:
    def check(h: Any) -> None:
        assert not [p for p in h.ws()["prospects"] if p["email"] == email]

    return check


def _move_column(tab: str, frm: int, to: int) -> Callable[[Tabs], None]:
    def edit(tabs: Tabs) -> None:
        HEADERS_COPY = list(HEADERS[tab])  # noqa: N806
        for r in tabs[tab]:
            r.extend([None] * (len(HEADERS_COPY) - len(r)))
            r.insert(to, r.pop(frm))

    return edit


def _rename_header(tab: str, old: str, new: str) -> Callable[[Tabs], None]:
    def edit(tabs: Tabs) -> None:
        header = tabs[tab][0]
        header[header.index(old)] = new

    return edit


def _add_column(tab: str, header: str, values: list[Any]) -> Callable[[Tabs], None]:
    """A column added at the end; `values` fill the existing data rows in order."""

    def edit(tabs: Tabs) -> None:
        width = len(tabs[tab][0])
        tabs[tab][0].append(header)
        for r, v in zip(tabs[tab][1:], values, strict=False):
            r.extend([None] * (width - len(r)))
            r.append(v)

    return edit


BAD_EMAIL = "error: Email {} is not a valid email address; fix it so it looks like name@company.com"
BOOL_HELP = "use TRUE or FALSE (also yes/no, y/n, 1/0, x, ✓, on/off, or a checkbox)"
TZ_HELP = "is not an IANA time zone name; use one like Europe/Berlin or America/New_York"
SHEET_ERROR = "shows the spreadsheet error {}; fix the formula in that cell or type the value"
HIDDEN = "error: campaign on row 3 of the Campaigns tab has an error; fix it there"
LONG = "x" * 50_000
XLSX_DATE = datetime(2026, 1, 2)  # noqa: DTZ001 (a date cell of a workbook is naive)
P, C, S, E = "Prospects", "Campaigns", "Steps", "Enrollments"

CASES: list[Case] = [
    # --- emails ---------------------------------------------------------------------------
    Case("bad-email", {P: [person("not-an-email")]}, {P: [BAD_EMAIL.format("'not-an-email'")]}),
    Case(
        "email-with-inner-space",
        {P: [person("jo hn@example.com")]},
        {P: [BAD_EMAIL.format("'jo hn@example.com'")]},
    ),
    Case("empty-email", {P: [person("", "Nobody")]}, {P: ["error: Email is empty"]}),
    Case("number-as-email", {P: [person(42)]}, {P: [BAD_EMAIL.format("42")]}),
    Case("duplicate-email", {P: [person("p0@example.com")]}, {P: ["error: duplicate of row 2"]}),
    Case(
        "mixed-case-whitespace-duplicate",
        {P: [person("  P1@Example.COM\t")]},
        {P: ["error: duplicate of row 3"]},
    ),
    Case(
        "mixed-case-whitespace-new",
        {P: [person(" New.Person@Example.COM "), None], E: [enrol("NEW.person@example.com ")]},
        {P: ["synced", None], E: ["enrolled"]},
        check=expect_prospect("new.person@example.com", firstName="Pat"),
    ),
    Case(
        "zero-width-and-nbsp-around-email",
        {P: [person("\u200b\u00a0zw@example.com\ufeff")]},
        {P: ["synced"]},
        check=expect_prospect("zw@example.com"),
    ),
    # --- spreadsheet errors and formulas --------------------------------------------------
    Case(
        "ref-error-in-email",
        {P: [person("#REF!")]},
        {P: ["error: Email " + SHEET_ERROR.format("#REF!")]},
    ),
    Case(
        "na-error-in-company",
        {P: [person("na@example.com", Company="#N/A")]},
        {P: ["synced: left out: Company " + SHEET_ERROR.format("#N/A")]},
        check=expect_prospect("na@example.com", company=None),
    ),
    Case(
        "error-in-daily-limit",
        {C: [campaign("Err", **{"Daily Send Limit": "#VALUE!"})], S: [step("Err", 1)]},
        {
            C: ["error: Daily Send Limit " + SHEET_ERROR.format("#VALUE!")],
            S: [HIDDEN],
        },
    ),
    Case(
        # Google: a formula that fails reads as its error text (the emulator's "#ERROR!")
        "failing-formula-google",
        {P: [person("f@example.com", Company="=IMPORTRANGE(A1)")]},
        {P: ["synced: left out: Company " + SHEET_ERROR.format("#ERROR!")]},
        sources=("google",),
    ),
    Case(
        # xlsx: a formula openpyxl wrote has no cached value: unknown, never empty
        "uncached-formula-xlsx",
        {P: [person("f@example.com", Company="=A1&B1")]},
        {
            P: [
                "waiting: Company is a formula with no computed value; open the workbook in "
                "Excel or LibreOffice and save it"
            ]
        },
        sources=("xlsx",),
        check=expect_no_prospect("f@example.com"),
    ),
    Case(
        "arithmetic-formula-in-limit-google",
        {C: [campaign("Calc", **{"Daily Send Limit": "=10*3"})], S: [step("Calc", 1)]},
        {C: ["synced"], S: ["synced"]},
        sources=("google",),
        check=expect_campaign("Calc", dailySendLimit=30),
    ),
    # --- long cells -----------------------------------------------------------------------
    # Google holds up to 50,000 characters per cell; Excel (and so openpyxl) cuts at 32,767.
    Case(
        "50k-first-name",
        {P: [person("long@example.com", LONG)]},
        {P: ["synced: left out: First Name is 50000 characters; the limit is 500"]},
        sources=("google",),
    ),
    Case(
        "32767-first-name-xlsx",
        {P: [person("long@example.com", LONG)]},
        {P: ["synced: left out: First Name is 32767 characters; the limit is 500"]},
        sources=("xlsx",),
    ),
    Case(
        "50k-custom-field",
        {P: [person("long@example.com", Industry=LONG)]},
        {P: ["synced: left out: Industry is 50000 characters; the limit is 2000"]},
        sources=("google",),
    ),
    Case(
        "50k-step-body-is-allowed",
        {C: [campaign("Long")], S: [step("Long", 1, Body=LONG)]},
        {C: ["synced"], S: ["synced"]},
        sources=("google",),
        check=lambda h: _long_body(h, 50_000),
    ),
    Case(
        "32767-step-body-xlsx",
        {C: [campaign("Long")], S: [step("Long", 1, Body=LONG)]},
        {C: ["synced"], S: ["synced"]},
        sources=("xlsx",),
        check=lambda h: _long_body(h, 32_767),
    ),
    Case(
        "50001-step-body",
        {C: [campaign("Long")], S: [step("Long", 1, Body=LONG + "y")]},
        {
            C: ["error: the step on row 4 of the Steps tab has an error; fix it there"],
            S: ["error: Body is 50001 characters; the limit is 50000"],
        },
        sources=("google",),
    ),
    # --- emoji and right-to-left text -----------------------------------------------------
    Case(
        "emoji-and-rtl-names",
        {P: [person("zoe@example.com", "Zoë 😀", Company="شركة المثال", Industry="🚀")]},
        {P: ["synced"]},
        check=expect_prospect(
            "zoe@example.com",
            firstName="Zoë 😀",
            company="شركة المثال",
            customFields={"Industry": "🚀"},
        ),
    ),
    Case(
        "rtl-campaign-name",
        {
            C: [campaign("حملة الربيع", State="Running")],
            S: [step("حملة الربيع", 1, Subject="مرحبا 👋")],
            E: [enrol("p0@example.com", "حملة الربيع")],
        },
        {C: ["synced"], S: ["synced"], E: ["enrolled"]},
        check=expect_campaign("حملة الربيع", status="running"),
    ),
    # --- numbers, dates, booleans where text is expected ----------------------------------
    Case(
        "number-bool-as-text",
        {P: [person("num@example.com", 123, Company=True, Phone=5551234567.0, Industry=7.0)]},
        {P: ["synced"]},
        check=expect_prospect(
            "num@example.com",
            firstName="123",
            company="TRUE",
            phone="5551234567",
            customFields={"Industry": 7},
        ),
    ),
    Case(
        # xlsx only: Google sends a date cell as a serial number (UNFORMATTED_VALUE)
        "date-as-text-xlsx",
        {P: [person("d@example.com", Company=XLSX_DATE)]},
        {P: ["synced"]},
        sources=("xlsx",),
        check=expect_prospect("d@example.com", company="2026-01-02"),
    ),
    # --- text where numbers, dates, booleans are expected ---------------------------------
    Case(
        "text-daily-limit",
        {C: [campaign("T", **{"Daily Send Limit": "fifty"})], S: [step("T", 1)]},
        {C: ["error: Daily Send Limit is 'fifty'; use a whole number like 3"], S: [HIDDEN]},
    ),
    Case(
        "fractional-daily-limit",
        {C: [campaign("T", **{"Daily Send Limit": 2.5})], S: [step("T", 1)]},
        {C: ["error: Daily Send Limit is 2.5; use a whole number like 3"], S: [HIDDEN]},
    ),
    Case(
        "zero-daily-limit",
        {C: [campaign("T", **{"Daily Send Limit": 0})], S: [step("T", 1)]},
        {C: ["error: Daily Send Limit is 0; use a whole number of 1 or more"], S: [HIDDEN]},
    ),
    Case(
        "text-start-date",
        {C: [campaign("T", **{"Start Date": "next monday"})], S: [step("T", 1)]},
        {
            C: [
                "error: Start Date is 'next monday'; use a date cell or an ISO date like 2026-12-01"
            ],
            S: [HIDDEN],
        },
    ),
    Case(
        "date-cell-start-date",
        {C: [campaign("T", **{"Start Date": date(2027, 3, 1)})], S: [step("T", 1)]},
        {C: ["synced"], S: ["synced"]},
        check=expect_campaign("T", startDate="2027-03-01", status="draft"),
    ),
    Case(
        "text-step-number",
        {C: [campaign("T")], S: [step("T", "one")]},
        {
            C: ["error: the step on row 4 of the Steps tab has an error; fix it there"],
            S: ["error: Step is 'one'; use a whole number like 3"],
        },
    ),
    Case(
        "text-checkbox",
        {C: [campaign("T", **{"Track Opens": "maybe"})], S: [step("T", 1)]},
        {C: [f"error: Track Opens is 'maybe'; {BOOL_HELP}"], S: [HIDDEN]},
    ),
    Case(
        "text-enrolled",
        {E: [enrol("p0@example.com", "Other", "perhaps")]},
        {E: [f"error: Enrolled is 'perhaps'; {BOOL_HELP}"]},
    ),
    # --- checkbox spellings ---------------------------------------------------------------
    Case(
        "enrolled-yes-x-1-TRUE",
        {
            P: [person(f"c{i}@example.com") for i in range(5)],
            E: [
                enrol("c0@example.com", enrolled="yes"),
                enrol("c1@example.com", enrolled="x"),
                enrol("c2@example.com", enrolled=1),
                enrol("c3@example.com", enrolled="TRUE"),
                enrol("c4@example.com", enrolled=" ✓ "),
            ],
        },
        {P: ["synced"] * 5, E: ["enrolled"] * 5},
        check=lambda h: _enrolled(h, [f"c{i}@example.com" for i in range(5)]),
    ),
    Case(
        "enrolled-no-0-false-never-enrolled",
        {
            P: [person("n0@example.com"), person("n1@example.com")],
            E: [enrol("n0@example.com", enrolled="no"), enrol("n1@example.com", enrolled=0)],
        },
        {P: ["synced", "synced"], E: ["not enrolled", "not enrolled"]},
        check=lambda h: _enrolled(h, []),
    ),
    Case(
        "sync-column-spellings",
        {
            P: [
                person("s0@example.com", Sync="yes"),
                person("s1@example.com", Sync="x"),
                person("s2@example.com", Sync=1),
                person("s3@example.com", Sync="TRUE"),
                person("s4@example.com", Sync=None),
                person("s5@example.com", Sync=False),
            ]
        },
        {P: ["synced", "synced", "synced", "synced", None, None]},
        edit=_add_column(P, "Sync", [True, True]),
        check=expect_no_prospect("s4@example.com"),
    ),
    # --- enrollments ----------------------------------------------------------------------
    Case(
        "unknown-campaign-in-enrollments",
        {E: [enrol("p0@example.com", "Nope")]},
        {
            E: [
                "error: no campaign 'Nope': use a name from the Campaigns tab or a WarmySender "
                "campaign id"
            ]
        },
    ),
    Case(
        "enrollment-email-not-anywhere",
        {E: [enrol("ghost@example.com")]},
        {
            E: [
                "error: ghost@example.com is not a WarmySender prospect: add it to the "
                "Prospects tab"
            ]
        },
    ),
    Case(
        "enrollment-email-only-in-warmysender",
        {E: [enrol("existing@acme.example")]},
        {E: ["enrolled"]},
    ),
    Case(
        "enrollment-bounced-prospect",
        {E: [enrol("bounced@globex.example")]},
        {E: ["suppressed"]},
    ),
    Case(
        "duplicate-enrollment-case-and-space",
        {E: [enrol(" P0@example.com", "  q1 LAUNCH ")]},
        {E: ["error: duplicate of row 2"]},
    ),
    Case(
        "enrollment-bad-email",
        {E: [enrol("p0 at example.com")]},
        {E: [BAD_EMAIL.format("'p0 at example.com'")]},
    ),
    # --- steps ----------------------------------------------------------------------------
    Case(
        "step-gap",
        {C: [campaign("Gap")], S: [step("Gap", 1), step("Gap", 3, 2)]},
        {
            C: ["error: steps must be numbered 1..n without gaps; step 2 is missing"],
            S: ["error: steps must be numbered 1..n without gaps; step 2 is missing"] * 2,
        },
        check=lambda h: _no_campaign(h, "Gap"),
    ),
    Case(
        "duplicate-step-number",
        {C: [campaign("Dup")], S: [step("Dup", 1), step("Dup", 1)]},
        {
            C: ["error: step 1 is on rows 4 and 5 of the Steps tab; renumber or delete one"],
            S: [
                "error: step 1 is on rows 4 and 5 of the Steps tab; renumber or delete one",
                "error: step 1 is already on row 4; renumber this step or delete one of them",
            ],
        },
    ),
    Case(
        "negative-delay",
        {C: [campaign("Neg")], S: [step("Neg", 1), step("Neg", 2, -1)]},
        {
            C: ["error: the step on row 5 of the Steps tab has an error; fix it there"],
            S: [
                "error: the step on row 5 of the Steps tab has an error; fix it there",
                "error: Delay Days is -1; use 0 or more days",
            ],
        },
    ),
    Case(
        "step-1-with-a-delay",
        {C: [campaign("D")], S: [step("D", 1, 3)]},
        {
            C: ["error: the step on row 4 of the Steps tab has an error; fix it there"],
            S: ["error: Step 1 always sends at once; set its Delay Days to 0 or leave it blank"],
        },
    ),
    Case(
        "step-for-unknown-campaign",
        {S: [step("Ghost", 1)]},
        {S: ["error: no campaign 'Ghost' in the Campaigns tab"]},
    ),
    # --- campaign settings ----------------------------------------------------------------
    Case(
        "bad-timezone",
        {C: [campaign("T", Timezone="Mars/Olympus")], S: [step("T", 1)]},
        {C: [f"error: Timezone 'Mars/Olympus' {TZ_HELP}"], S: [HIDDEN]},
    ),
    Case(
        "bad-days",
        {C: [campaign("T", **{"Schedule Days": "Mon-Funday"})], S: [step("T", 1)]},
        {
            C: [
                "error: Schedule Days 'Mon-Funday' has 'funday', which is not a day; use days "
                "like Mon-Fri or Mon,Wed,Fri"
            ],
            S: [HIDDEN],
        },
    ),
    Case(
        "window-ends-before-it-starts",
        {
            C: [campaign("T", **{"Window Start": "18:00", "Window End": "9:00"})],
            S: [step("T", 1)],
        },
        {
            C: [
                "error: Window Start 18:00 is not before Window End 09:00; the sending window "
                "must start before it ends"
            ],
            S: [HIDDEN],
        },
    ),
    Case(
        "window-25-oclock",
        {C: [campaign("T", **{"Window Start": "25:00"})], S: [step("T", 1)]},
        {C: ["error: Window Start is '25:00'; use a 24-hour time like 09:00"], S: [HIDDEN]},
    ),
    Case(
        "end-date-before-start-date",
        {
            C: [campaign("T", **{"Start Date": "2027-05-01", "End Date": "2027-04-01"})],
            S: [step("T", 1)],
        },
        {
            C: ["error: End Date 2027-04-01 is before Start Date 2027-05-01; fix one of them"],
            S: [HIDDEN],
        },
    ),
    Case(
        "impossible-date",
        {C: [campaign("T", **{"Start Date": "2027-02-30"})], S: [step("T", 1)]},
        {
            C: [
                "error: Start Date is '2027-02-30'; use a date cell or an ISO date like 2026-12-01"
            ],
            S: [HIDDEN],
        },
    ),
    Case(
        "bad-state",
        {C: [campaign("T", State="Go!")], S: [step("T", 1)]},
        {
            C: ["error: State is 'Go!'; use Draft, Running or Paused, or leave it blank"],
            S: [HIDDEN],
        },
    ),
    Case(
        "duplicate-campaign-name",
        {C: [campaign(" q1 launch ")]},
        {C: ["error: duplicate of row 2"]},
    ),
    Case(
        "missing-mailbox",
        {C: [campaign("NoBox", None)], S: [step("NoBox", 1)]},
        {C: ["waiting: add a mailbox in Mailboxes"], S: ["waiting: add a mailbox in Mailboxes"]},
        check=lambda h: _no_campaign(h, "NoBox"),
    ),
    Case(
        "no-steps",
        {C: [campaign("NoSteps")]},
        {C: ["waiting: add at least one row in the Steps tab"]},
    ),
    Case(
        "unknown-mailbox",
        {C: [campaign("T", "nobody@nowhere.example")], S: [step("T", 1)]},
        {
            C: [
                "error: no mailbox 'nobody@nowhere.example' in WarmySender; use a mailbox id or "
                "address from WarmySender > Mailboxes"
            ],
            S: [
                "error: no mailbox 'nobody@nowhere.example' in WarmySender; use a mailbox id or "
                "address from WarmySender > Mailboxes"
            ],
        },
        check=lambda h: _no_campaign(h, "T"),
    ),
    Case(
        "disconnected-mailbox",
        {C: [campaign("T", f"{MBX}, OLD@outreach-demo.example")], S: [step("T", 1)]},
        {
            C: [
                "error: mailbox old@outreach-demo.example is disconnected: reconnect it in "
                "WarmySender"
            ],
            S: [
                "error: mailbox old@outreach-demo.example is disconnected: reconnect it in "
                "WarmySender"
            ],
        },
        check=lambda h: _no_campaign(h, "T"),
    ),
    # --- blank rows -----------------------------------------------------------------------
    Case(
        "blank-rows-in-the-middle",
        {
            P: [None, None, person("  ", "  ", **{"Last Name": "\u200b", "Company": ""}), None]
            + [person("after@example.com")],
            E: [None, enrol("after@example.com")],
        },
        {P: [None, None, None, None, "synced"], E: [None, "enrolled"]},
    ),
    Case(
        "unticked-checkbox-only-row-is-blank",
        {E: [{"Enrolled": False}, enrol("p0@example.com", "Other Campaign", False)]},
        {E: [None, "not enrolled"]},
    ),
    # --- headers (the sheet still syncs) --------------------------------------------------
    Case(
        "reordered-headers",
        {P: [person("r@example.com", Industry="Retail")]},
        {P: ["synced"]},
        edit=_move_column(P, 0, 4),
        check=expect_prospect("r@example.com", customFields={"Industry": "Retail"}),
    ),
    Case(
        "mixed-case-and-space-headers",
        {P: [person("m@example.com")]},
        {P: ["synced"]},
        edit=lambda tabs: tabs[P][0].__setitem__(slice(0, 2), ["  eMAIL ", "first   NAME"]),
        check=expect_prospect("m@example.com", firstName="Pat"),
    ),
    Case(
        "renamed-header-mapped-in-config",
        {P: [{**person(None), "E-mail address": "e@example.com"}]},
        {P: ["synced"]},
        edit=_rename_header(P, "Email", "E-mail address"),
        sheet={"columns": {"prospects": {"email": "E-mail address"}}},
    ),
    Case(
        # row 1 issue: shown by plan and counted, never written over the header
        "duplicated-header",
        {P: [person("dup@example.com")]},
        {P: ["synced"]},
        edit=_add_column(P, "company", ["Globex", "Globex"]),
        check=lambda h: _header_kept(h),
    ),
    Case(
        "extra-columns-are-not-touched",
        {P: [person("x@example.com", Notes="call back")]},
        {P: ["synced"]},
        edit=_add_column(P, "Notes", ["keep me", None]),
        check=lambda h: _notes_kept(h),
    ),
]


def _long_body(h: Any, n: int) -> None:
    [s] = _remote_campaign(h, "Long")["steps"]
    assert s["bodyHtml"] == f"<p>{LONG[:n]}</p>"  # plain text, sent as HTML


def _enrolled(h: Any, emails: list[str]) -> None:
    [c] = [c for c in h.ws()["campaigns"] if c["name"] == LAUNCH]
    active = {e["email"] for e in c["enrollments"] if e["status"] == "active"}
    assert active == {"p0@example.com", "p1@example.com", *emails}


def _no_campaign(h: Any, name: str) -> None:
    assert not [c for c in h.ws()["campaigns"] if c["name"] == name]


def _header_kept(h: Any) -> None:
    header = h.book.values(P)[0]
    assert header[:7] == [*HEADERS[P], "company"]
    assert h.report.errors == 1  # the header issue is counted (and shown by plan)


def _notes_kept(h: Any) -> None:
    rows = h.book.values(P)
    col = [str(c).casefold() for c in rows[0]].index("notes")
    assert rows[1][col] == "keep me"
    assert rows[3][col] == "call back"
