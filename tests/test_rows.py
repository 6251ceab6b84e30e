"""rows.parse_sheet: one literal table of input row → issue message or record, then the rules
that need more than one row (duplicates, steps per campaign, headers, blank rows, size)."""

from __future__ import annotations

from datetime import date, datetime
from datetime import time as clock
from typing import Any

import pytest
from rows_helpers import HEADERS, SHEET, data, make_sheet, messages, parse, table

from sheetsync.errors import HeaderError, TabNotFound
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.records import CampaignRecord, SheetRows
from sheetsync.sheet.base import SheetData

# Rows already in the tab when a case row is appended (the case row is the last one).
BASE: dict[str, list[dict[str, Any]]] = {
    "prospects": [],
    "campaigns": [
        {"Campaign": "Q4 Outreach", "Mailboxes": "mb_1"},
        {"Campaign": "LI Push", "Channel": "linkedin"},
    ],
    "steps": [{"Campaign": "Q4 Outreach", "Step": 1, "Subject": "Hi", "Body": "Hello"}],
    "enrollments": [],
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "prospects": {"Email": "ann@acme.com"},
    "campaigns": {"Campaign": "New"},
    "steps": {"Campaign": "Q4 Outreach", "Step": 2, "Subject": "Re: hi", "Body": "Ping"},
    "enrollments": {"Email": "ann@acme.com", "Campaign": "Q4 Outreach", "Enrolled": True},
}
LONG = "x" * 50_000
EMAIL_ONLY = {"email": "ann@acme.com"}
EMOJI_RTL = "Ünïcödé 🚀 שלום مرحبا"
N = "New"  # the default campaign name of campaign cases
XLSX_DAY = datetime.fromisoformat("2026-12-01T00:00:00")  # openpyxl gives naive datetimes


def one(role: str, cells: dict[str, Any]) -> tuple[SheetRows, int]:
    rows = [*BASE[role], {**DEFAULTS[role], **cells}]
    tabs = {r: BASE[r] for r in BASE if BASE[r]}
    tabs[role] = rows
    return parse(**tabs), len(rows) + 1


def record(rows: SheetRows, role: str, row: int) -> Any:
    found = [r for r in getattr(rows, role) if r.row == row]
    return found[0] if found else None


# (role, cells of the row, expected): a str is the exact issue message on that row; a dict
# holds the record's expected attributes.
CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    # --- prospects: emails ---
    ("email-trim-lower", "prospects", {"Email": "  Ann@ACME.com\t"}, {"key": "ann@acme.com"}),
    ("email-nbsp-zwsp", "prospects", {"Email": "\u00a0ann@acme.com\u200b"},
     {"key": "ann@acme.com"}),
    ("email-empty", "prospects", {"Email": "", "First Name": "Ann"}, "Email is empty"),
    ("email-no-at", "prospects", {"Email": "ann.acme.com"},
     "Email 'ann.acme.com' is not a valid email address; fix it so it looks like name@company.com"),
    ("email-two-ats", "prospects", {"Email": "a@b@c.com"},
     "Email 'a@b@c.com' is not a valid email address; fix it so it looks like name@company.com"),
    ("email-space", "prospects", {"Email": "ann smith@acme.com"},
     "Email 'ann smith@acme.com' is not a valid email address; fix it so it looks like "
     "name@company.com"),
    ("email-no-tld", "prospects", {"Email": "ann@localhost"},
     "Email 'ann@localhost' is not a valid email address; fix it so it looks like "
     "name@company.com"),
    ("email-double-dot", "prospects", {"Email": "ann..b@acme.com"},
     "Email 'ann..b@acme.com' is not a valid email address; fix it so it looks like "
     "name@company.com"),
    ("email-number", "prospects", {"Email": 42},
     "Email 42 is not a valid email address; fix it so it looks like name@company.com"),
    ("email-error-value", "prospects", {"Email": "#REF!"},
     "Email shows the spreadsheet error #REF!; fix the formula in that cell or type the value"),
    ("email-plus-subdomain", "prospects", {"Email": "Ann+q4@Mail.Acme.co.uk"},
     {"key": "ann+q4@mail.acme.co.uk"}),
    # --- prospects: fields ---
    ("body-camelcase", "prospects",
     {"First Name": " Ann ", "Last Name": "Lee", "Company": "Acme", "Role": "CTO", "Phone": ""},
     {"body": {"email": "ann@acme.com", "firstName": "Ann", "lastName": "Lee",
               "company": "Acme", "role": "CTO"}}),
    ("emoji-rtl-kept", "prospects", {"First Name": EMOJI_RTL},
     {"body": {"email": "ann@acme.com", "firstName": EMOJI_RTL}}),
    ("number-as-name", "prospects", {"Company": 3.0, "Last Name": True},
     {"body": {"email": "ann@acme.com", "company": "3", "lastName": "TRUE"}}),
    ("date-as-text", "prospects", {"Company": XLSX_DAY},
     {"body": {"email": "ann@acme.com", "company": "2026-12-01"}}),
    ("phone-number-cell", "prospects", {"Phone": 5551234567.0},
     {"body": {"email": "ann@acme.com", "phone": "5551234567"}}),
    ("phone-plus-kept", "prospects", {"Phone": " +44 20 7946 0958 "},
     {"body": {"email": "ann@acme.com", "phone": "+44 20 7946 0958"}}),
    # an optional field that cannot be used is left out; the prospect still syncs
    ("phone-letters", "prospects", {"Phone": "call me", "Company": "Acme"},
     {"body": {"email": "ann@acme.com", "company": "Acme"},
      "left_out": ("Phone 'call me' is not a phone number; use digits, spaces and + - ( ), "
                   "e.g. +1 555 123 4567",)}),
    ("phone-checkbox", "prospects", {"Phone": True},
     {"body": EMAIL_ONLY,
      "left_out": ("Phone is TRUE, not a phone number; type the number as text",)}),
    ("linkedin-normalised", "prospects",
     {"LinkedIn URL": "http://linkedin.com/in/ann-lee/?utm_source=share#top"},
     {"body": {"email": "ann@acme.com", "linkedinUrl": "https://www.linkedin.com/in/ann-lee"}}),
    ("linkedin-country-no-scheme", "prospects", {"LinkedIn URL": "uk.linkedin.com/pub/ann/1/2/3/"},
     {"body": {"email": "ann@acme.com", "linkedinUrl": "https://www.linkedin.com/pub/ann/1/2/3"}}),
    ("linkedin-company-page", "prospects",
     {"LinkedIn URL": "https://www.linkedin.com/company/acme"},
     {"body": EMAIL_ONLY,
      "left_out": ("LinkedIn URL 'https://www.linkedin.com/company/acme' is a LinkedIn page, not "
                   "a person's profile; use the profile's address, like "
                   "https://www.linkedin.com/in/<profile>",)}),
    ("linkedin-other-site", "prospects", {"LinkedIn URL": "https://evil-linkedin.com/in/ann"},
     {"body": EMAIL_ONLY,
      "left_out": ("LinkedIn URL 'https://evil-linkedin.com/in/ann' is not a LinkedIn profile "
                   "URL; use the profile's address, like https://www.linkedin.com/in/<profile>",)}),
    ("custom-number-bool-date", "prospects", {"Industry": 12.0},
     {"body": {"email": "ann@acme.com", "customFields": {"Industry": 12}}}),
    ("custom-text", "prospects", {"Industry": " SaaS "},
     {"body": {"email": "ann@acme.com", "customFields": {"Industry": "SaaS"}}}),
    ("name-too-long", "prospects", {"Company": "c" * 501},
     {"body": EMAIL_ONLY, "left_out": ("Company is 501 characters; the limit is 500",)}),
    ("custom-50000", "prospects", {"Industry": LONG},
     {"body": EMAIL_ONLY, "left_out": ("Industry is 50000 characters; the limit is 2000",)}),
    ("status-columns-ignored", "prospects", {"Sync Status": "error: old", "Prospect ID": "p_1"},
     {"body": {"email": "ann@acme.com"}}),
    ("role-text", "prospects", {"Role": "VP"},
     {"body": {"email": "ann@acme.com", "role": "VP"}}),
    # --- campaigns ---
    ("campaign-minimal", "campaigns", {},
     {"key": "new", "settings": {"name": N}, "channel": "email", "state": None, "steps": (),
      "mailboxes": ()}),
    ("campaign-name-trimmed", "campaigns", {"Campaign": "  Big Push "},
     {"key": "big push", "name": "Big Push"}),
    ("campaign-empty-name", "campaigns", {"Campaign": "", "Channel": "email"}, "Campaign is empty"),
    ("channel-case", "campaigns", {"Channel": "LinkedIn"}, {"channel": "linkedin"}),
    ("channel-multi-hyphen", "campaigns", {"Channel": "Multi-Channel"},
     {"channel": "multichannel"}),
    ("channel-bad", "campaigns", {"Channel": "fax"},
     "Channel is 'fax'; use email, linkedin or multichannel"),
    ("mailboxes-list", "campaigns", {"Mailboxes": " mb_1,\nSales@Acme.com ,, mb_1\n"},
     {"mailboxes": ("mb_1", "Sales@Acme.com")}),
    ("mailboxes-semicolons", "campaigns", {"Mailboxes": "mb_1; Sales@Acme.com;mb_2"},
     {"mailboxes": ("mb_1", "Sales@Acme.com", "mb_2")}),
    ("channel-typed-is-create-only", "campaigns", {"Channel": "LinkedIn"},
     {"fixed": {"channel": "linkedin"}}),
    ("channel-blank-is-not-held", "campaigns", {"Channel": ""},
     {"channel": "email", "fixed": {}}),
    ("campaign-id-cell-is-read", "campaigns", {"Campaign ID": " cmp_7 "}, {"remote_id": "cmp_7"}),
    ("campaign-id-cell-error-is-ignored", "campaigns", {"Campaign ID": "#REF!"},
     {"remote_id": None}),
    ("daily-limit-text", "campaigns", {"Daily Send Limit": "50"},
     {"settings": {"name": N, "dailySendLimit": 50}}),
    ("daily-limit-float-whole", "campaigns", {"Daily Send Limit": 40.0},
     {"settings": {"name": N, "dailySendLimit": 40}}),
    ("daily-limit-zero", "campaigns", {"Daily Send Limit": 0},
     "Daily Send Limit is 0; use a whole number of 1 or more"),
    ("daily-limit-fraction", "campaigns", {"Daily Send Limit": 3.5},
     "Daily Send Limit is 3.5; use a whole number like 3"),
    ("daily-limit-abc", "campaigns", {"Daily Send Limit": "abc"},
     "Daily Send Limit is 'abc'; use a whole number like 3"),
    ("timezone-canonical-case", "campaigns", {"Timezone": "america/new_york"},
     {"settings": {"name": N}, "fixed": {"timezone": "America/New_York"}}),
    ("timezone-bad", "campaigns", {"Timezone": "Mars/Olympus"},
     "Timezone 'Mars/Olympus' is not an IANA time zone name; use one like Europe/Berlin or "
     "America/New_York"),
    ("timezone-path", "campaigns", {"Timezone": "../../etc/passwd"},
     "Timezone '../../etc/passwd' is not an IANA time zone name; use one like Europe/Berlin or "
     "America/New_York"),
    ("days-range", "campaigns", {"Schedule Days": "Mon-Fri"},
     {"settings": {"name": N, "scheduleDays": ["mon", "tue", "wed", "thu", "fri"]}}),
    ("days-list-full-names", "campaigns", {"Schedule Days": "friday, Monday,WED"},
     {"settings": {"name": N, "scheduleDays": ["mon", "wed", "fri"]}}),
    ("days-mixed-wrap", "campaigns", {"Schedule Days": "Sat - Mon, thurs"},
     {"settings": {"name": N, "scheduleDays": ["mon", "thu", "sat", "sun"]}}),
    ("days-weekdays-word", "campaigns", {"Schedule Days": "Weekdays"},
     {"settings": {"name": N, "scheduleDays": ["mon", "tue", "wed", "thu", "fri"]}}),
    ("days-bad", "campaigns", {"Schedule Days": "Mon-Funday"},
     "Schedule Days 'Mon-Funday' has 'funday', which is not a day; use days like Mon-Fri or "
     "Mon,Wed,Fri"),
    ("days-ambiguous", "campaigns", {"Schedule Days": "T"},
     "Schedule Days 'T' has 't', which is not a day; use days like Mon-Fri or Mon,Wed,Fri"),
    ("window-text-and-serial", "campaigns", {"Window Start": "9:00", "Window End": 0.729166666},
     {"settings": {"name": N, "sendingWindowStart": "09:00", "sendingWindowEnd": "17:30"}}),
    ("window-time-cell-pm", "campaigns", {"Window Start": clock(8, 30), "Window End": "5 pm"},
     {"settings": {"name": N, "sendingWindowStart": "08:30", "sendingWindowEnd": "17:00"}}),
    ("window-reversed", "campaigns", {"Window Start": "17:00", "Window End": "09:00"},
     "Window Start 17:00 is not before Window End 09:00; the sending window must start before "
     "it ends"),
    ("window-bad", "campaigns", {"Window Start": "25:00"},
     "Window Start is '25:00'; use a 24-hour time like 09:00"),
    ("window-bare-number", "campaigns", {"Window Start": 9},
     "Window Start is 9; use a 24-hour time like 09:00"),
    ("checkboxes", "campaigns",
     {"Track Opens": "yes", "Track Clicks": "x", "Stop On Reply": 1, "Stop On Bounce": False},
     {"settings": {"name": N, "trackOpens": True, "trackClicks": True, "stopOnReply": True,
                   "stopOnBounce": False}}),
    ("checkbox-text-true-and-check", "campaigns", {"Track Opens": "TRUE", "Track Clicks": "✓"},
     {"settings": {"name": N, "trackOpens": True, "trackClicks": True}}),
    ("checkbox-bad", "campaigns", {"Track Opens": "maybe"},
     "Track Opens is 'maybe'; use TRUE or FALSE (also yes/no, y/n, 1/0, x, ✓, on/off, or a "
     "checkbox)"),
    ("dates-all-forms", "campaigns", {"Start Date": 46357, "End Date": "2026-12-31"},
     {"settings": {"name": N, "startDate": "2026-12-01", "endDate": "2026-12-31"}}),
    ("dates-xlsx-datetime", "campaigns", {"Start Date": XLSX_DAY, "End Date": date(2027, 1, 5)},
     {"settings": {"name": N, "startDate": "2026-12-01", "endDate": "2027-01-05"}}),
    ("date-us-format", "campaigns", {"Start Date": "12/01/2026"},
     "Start Date is '12/01/2026'; use a date cell or an ISO date like 2026-12-01"),
    ("date-impossible", "campaigns", {"Start Date": "2026-02-30"},
     "Start Date is '2026-02-30'; use a date cell or an ISO date like 2026-12-01"),
    ("date-checkbox", "campaigns", {"End Date": True},
     "End Date is TRUE; use a date cell or an ISO date like 2026-12-01"),
    ("dates-reversed", "campaigns", {"Start Date": "2026-12-01", "End Date": "2026-11-01"},
     "End Date 2026-11-01 is before Start Date 2026-12-01; fix one of them"),
    ("state-active", "campaigns", {"State": "Active"}, {"state": "running"}),
    ("state-paused-case", "campaigns", {"State": " PAUSED "}, {"state": "paused"}),
    ("state-bad", "campaigns", {"State": "Go"},
     "State is 'Go'; use Draft, Running or Paused, or leave it blank"),
    ("campaign-error-value", "campaigns", {"Timezone": "#N/A"},
     "Timezone shows the spreadsheet error #N/A; fix the formula in that cell or type the value"),
    # --- steps ---
    ("step-defaults", "steps", {},
     {"campaign_key": "q4 outreach", "number": 2, "delay_days": 1, "subject": "Re: hi",
      "body_html": "<p>Ping</p>", "body": "Ping"}),
    ("step-campaign-case", "steps", {"Campaign": " q4 OUTREACH ", "Delay Days": "3"},
     {"campaign_key": "q4 outreach", "delay_days": 3}),
    ("step-unknown-campaign", "steps", {"Campaign": "Nope"},
     "no campaign 'Nope' in the Campaigns tab"),
    ("step-number-text", "steps", {"Step": "2"}, {"number": 2}),
    ("step-number-zero", "steps", {"Step": 0}, "Step is 0; steps are numbered from 1"),
    ("step-number-fraction", "steps", {"Step": 2.5}, "Step is 2.5; use a whole number like 3"),
    ("step-number-empty", "steps", {"Step": ""},
     "Step is empty; number the steps of each campaign 1, 2, 3, …"),
    ("step-number-huge", "steps", {"Step": 1000}, "Step is 1000; a campaign has at most 100 steps"),
    ("step-delay-huge", "steps", {"Delay Days": 400}, "Delay Days is 400; use at most 365 days"),
    ("limit-5000-digits", "campaigns", {"Daily Send Limit": "9" * 5000},
     f"Daily Send Limit is '{'9' * 39}…'; use a whole number like 3"),
    ("step-delay-negative", "steps", {"Delay Days": -2}, "Delay Days is -2; use 0 or more days"),
    ("step-subject-empty", "steps", {"Subject": " "},
     "Subject is empty; every email step needs a subject"),
    ("step-linkedin-no-subject", "steps", {"Campaign": "LI Push", "Step": 1, "Subject": ""},
     "Subject is empty; WarmySender needs a subject on every step, also in linkedin campaigns"),
    ("step-body-empty", "steps", {"Body": ""}, "Body is empty; write the step's message"),
    ("step-body-50000-ok", "steps", {"Body": LONG}, {"body_html": f"<p>{LONG}</p>"}),
    ("step-body-too-long", "steps", {"Body": LONG + "y"},
     "Body is 50001 characters; the limit is 50000"),
    ("step-body-number", "steps", {"Body": 12.5}, {"body_html": "<p>12.5</p>"}),
    # --- enrollments ---
    ("enroll-email", "enrollments", {"Email": " Ann@Acme.com "},
     {"key": "ann@acme.com|q4 outreach", "email": "ann@acme.com", "list_id": None,
      "campaign": "Q4 Outreach", "enrolled": True}),
    ("enroll-list-number", "enrollments", {"Email": "", "List ID": 123.0, "Enrolled": "yes"},
     {"key": "list:123|q4 outreach", "email": None, "list_id": "123", "enrolled": True}),
    ("enroll-blank-is-false", "enrollments", {"Campaign": "camp_9", "Enrolled": ""},
     {"enrolled": False, "campaign": "camp_9", "key": "ann@acme.com|camp_9"}),
    ("enroll-one-is-true", "enrollments", {"Enrolled": 1}, {"enrolled": True}),
    ("enroll-both", "enrollments", {"List ID": "L1"},
     "Email and List ID are both filled in; keep one (a row enrolls one prospect or one list)"),
    ("enroll-neither", "enrollments", {"Email": "", "Enrolled": "TRUE"},
     "Email and List ID are both empty; fill in one"),
    ("enroll-no-campaign", "enrollments", {"Campaign": ""}, "Campaign is empty"),
    ("enroll-bad-email", "enrollments", {"Email": "nope"},
     "Email 'nope' is not a valid email address; fix it so it looks like name@company.com"),
    ("enroll-bad-flag", "enrollments", {"Enrolled": "sure"},
     "Enrolled is 'sure'; use TRUE or FALSE (also yes/no, y/n, 1/0, x, ✓, on/off, or a checkbox)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("role", "cells", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_row_table(role: str, cells: dict[str, Any], expected: Any) -> None:
    rows, n = one(role, cells)
    issues = [i.message for i in rows.issues if i.role == role and i.row == n]
    if isinstance(expected, str):
        assert issues == [expected]
        assert record(rows, role, n) is None
    else:
        assert issues == []
        rec = record(rows, role, n)
        assert rec is not None
        for attr, want in expected.items():
            assert getattr(rec, attr) == want, attr


def test_table_is_large() -> None:
    assert len(CASES) >= 40


# --- duplicates -------------------------------------------------------------------------------


def test_duplicate_emails_first_row_wins_after_normalising() -> None:
    rows = parse(
        prospects=[
            {"Email": "ann@acme.com", "First Name": "First"},
            {"Email": " ANN@acme.com ", "First Name": "Second"},
            {"Email": "bob@acme.com"},
            {"Email": "Ann@Acme.Com"},
        ]
    )
    assert [
        (p.row, p.body.get("firstName")) for p in rows.prospects if p.key == "ann@acme.com"
    ] == [(2, "First")]
    assert messages(rows) == [(3, "duplicate of row 2"), (5, "duplicate of row 2")]
    assert all(i.key == "ann@acme.com" for i in rows.issues)


def test_invalid_first_row_still_claims_its_email() -> None:
    rows = parse(prospects=[{"Email": "a@b.com", "Phone": "no"}, {"Email": "a@b.com"}])
    assert messages(rows) == [(3, "duplicate of row 2")]
    assert [(p.row, p.left_out[0][:15]) for p in rows.prospects] == [(2, "Phone 'no' is n")]


def test_duplicate_campaigns_and_enrollments() -> None:
    rows = parse(
        campaigns=[{"Campaign": "Q4"}, {"Campaign": " q4 "}],
        enrollments=[
            {"Email": "a@b.com", "Campaign": "Q4", "Enrolled": True},
            {"Email": "A@B.com", "Campaign": "q4", "Enrolled": False},
            {"List ID": "L1", "Campaign": "Q4", "Enrolled": True},
        ],
    )
    assert messages(rows, "campaigns") == [(3, "duplicate of row 2")]
    assert messages(rows, "enrollments") == [(3, "duplicate of row 2")]
    assert [e.key for e in rows.enrollments] == ["a@b.com|q4", "list:L1|q4"]


# --- the Sync column --------------------------------------------------------------------------


def test_sync_column_marks_unticked_rows_and_never_errors() -> None:
    rows = parse(
        prospects=[
            {"Email": "a@b.com", "Sync": True},
            {"Email": "c@d.com", "Sync": False},
            {"Email": "e@f.com", "Sync": "maybe"},
            {"Email": "g@h.com", "Sync": "x"},
            {"Email": "not an email", "Sync": False},  # left alone: no issue
            {"Email": "c@d.com", "Sync": True},  # the unticked row 3 does not claim c@d.com
        ]
    )
    assert [(p.key, p.sync_off) for p in rows.prospects] == [
        ("a@b.com", False),
        ("c@d.com", True),
        ("e@f.com", True),
        ("g@h.com", False),
        ("c@d.com", False),
    ]
    assert rows.issues == []


def test_without_sync_column_every_row_syncs() -> None:
    rows = parse(prospects=[{"Email": "a@b.com"}])
    assert rows.prospects[0].sync_off is False


# --- steps per campaign -----------------------------------------------------------------------

CAMP = [{"Campaign": "Q4", "Mailboxes": "mb_1"}, {"Campaign": "Other"}]


def step(n: Any, **kw: Any) -> dict[str, Any]:
    return {"Campaign": "Q4", "Step": n, "Subject": f"s{n}", "Body": f"b{n}", **kw}


def test_steps_attach_in_number_order_whatever_the_row_order() -> None:
    rows = parse(campaigns=CAMP, steps=[step(3), step(1), step(2, **{"Delay Days": 4})])
    (q4,) = [c for c in rows.campaigns if c.key == "q4"]
    assert [(s.number, s.delay_days, s.row) for s in q4.steps] == [(1, 0, 3), (2, 4, 4), (3, 1, 2)]
    assert rows.issues == []


def test_step_gap_errors_on_campaign_and_every_step_row() -> None:
    rows = parse(campaigns=CAMP, steps=[step(1), step(3), {**step(1), "Campaign": "Other"}])
    gap = "steps must be numbered 1..n without gaps; step 2 is missing"
    assert messages(rows) == [(2, gap), (2, gap), (3, gap)]
    assert [i.role for i in rows.issues] == ["campaigns", "steps", "steps"]
    assert rows.issues[0].key == "q4"
    assert [c.key for c in rows.campaigns] == ["other"]
    assert [(s.campaign_key, s.number) for s in rows.steps] == [("other", 1)]


def test_missing_step_one_and_several_gaps() -> None:
    rows = parse(campaigns=CAMP, steps=[step(2), step(5)])
    assert messages(rows, "campaigns") == [
        (2, "steps must be numbered 1..n without gaps; steps 1, 3 and 4 are missing")
    ]


def test_duplicate_step_number_errors_on_the_later_row() -> None:
    rows = parse(campaigns=CAMP, steps=[step(1), step(2), step(2, Subject="again")])
    repeat = "step 2 is on rows 3 and 4 of the Steps tab; renumber or delete one"
    assert messages(rows) == [
        (2, repeat),
        (2, repeat),
        (3, repeat),
        (4, "step 2 is already on row 3; renumber this step or delete one of them"),
    ]
    assert {i.key for i in rows.issues} == {"q4"}
    assert "q4" not in [c.key for c in rows.campaigns]
    assert rows.steps == []


def test_steps_of_a_campaign_row_in_error_say_where_the_error_is() -> None:
    rows = parse(
        campaigns=[{"Campaign": "Q4", "Timezone": "Nowhere"}, {"Campaign": "Q4"}],
        steps=[step(1), step(2)],
    )
    wait = "campaign on row 2 of the Campaigns tab has an error; fix it there"
    assert messages(rows, "steps") == [(2, wait), (3, wait)]
    assert [i.key for i in rows.issues] == ["q4", "q4", "q4", "q4"]
    assert rows.campaigns == [] and rows.steps == []


def test_step_one_delay_must_be_zero() -> None:
    rows = parse(campaigns=CAMP, steps=[step(1, **{"Delay Days": 2})])
    assert messages(rows) == [
        (2, "the step on row 2 of the Steps tab has an error; fix it there"),
        (2, "Step 1 always sends at once; set its Delay Days to 0 or leave it blank"),
    ]


def test_several_bad_steps_are_named_on_the_campaign_row() -> None:
    rows = parse(campaigns=CAMP, steps=[step(1, Body=""), step(2, Subject="")])
    assert messages(rows, "campaigns") == [
        (2, "the steps on rows 2 and 3 of the Steps tab have errors; fix them there")
    ]


def test_campaign_hashes_split_settings_and_steps() -> None:
    base = parse(campaigns=CAMP, steps=[step(1), step(2)])
    renamed_step = parse(campaigns=CAMP, steps=[step(1), step(2, Body="new")])
    new_limit = parse(
        campaigns=[{**CAMP[0], "Daily Send Limit": 9}, CAMP[1]], steps=[step(1), step(2)]
    )
    started = parse(campaigns=[{**CAMP[0], "State": "Running"}, CAMP[1]], steps=[step(1), step(2)])

    def q4(rows: SheetRows) -> CampaignRecord:
        return next(c for c in rows.campaigns if c.key == "q4")

    a, b, c, d = q4(base), q4(renamed_step), q4(new_limit), q4(started)
    assert a.settings_hash == b.settings_hash and a.steps_hash != b.steps_hash
    assert a.settings_hash != c.settings_hash and a.steps_hash == c.steps_hash
    assert len({a.hash, b.hash, c.hash, d.hash}) == 4


# --- headers and tabs -------------------------------------------------------------------------


def test_missing_tab_names_the_tabs_there() -> None:
    d = data()
    del d.tabs["Steps"]
    d.titles.remove("Steps")
    with pytest.raises(TabNotFound) as err:
        parse_sheet(d, SHEET)
    assert err.value.tab == "Steps"
    assert err.value.existing == ["Prospects", "Campaigns", "Enrollments"]


def test_sync_log_is_optional_and_titles_match_loosely() -> None:
    d = data()
    d.tabs["  prospects "] = d.tabs.pop("Prospects")
    d.tabs["SYNC LOG"] = [["Time", "Sheet"]]
    rows = parse_sheet(d, SHEET)
    assert rows.titles["prospects"] == "  prospects "
    assert rows.titles["sync_log"] == "SYNC LOG"
    assert rows.headers["sync_log"].get("sheet") == 1


@pytest.mark.parametrize(
    ("role", "header", "missing"),
    [
        ("prospects", ["First Name", "Phone"], "Email"),
        ("campaigns", ["Channel"], "Campaign"),
        ("steps", ["Campaign", "Subject", "Body"], "Step"),
        ("enrollments", ["Email", "Campaign"], "Enrolled"),
        ("prospects", [], "Email"),
    ],
)
def test_missing_required_header(role: str, header: list[str], missing: str) -> None:
    d = data(**{role: [header] if header else []})
    with pytest.raises(HeaderError) as err:
        parse_sheet(d, SHEET)
    assert (err.value.header, err.value.tab) == (missing, d.titles[list(HEADERS).index(role)])
    assert "add it to the header row" in str(err.value)


def test_headers_reordered_spaced_and_cased_and_extra_columns_ignored() -> None:
    d = data(
        prospects=[
            ["notes", " PHONE ", "E_MAIL", "first-name", "JobTitle"],
            ["x", 5.0e9, "A@b.co", "Al", "VP"],
        ]
    )
    rows = parse_sheet(d, SHEET)
    assert rows.prospects[0].body == {
        "email": "a@b.co",
        "phone": "5000000000",
        "firstName": "Al",
        "role": "VP",
    }
    assert rows.headers["prospects"].get("email") == 2


def test_renamed_header_from_config() -> None:
    sheet = make_sheet(prospects={"email": "E-mail address"})
    d = data(prospects=[["E-mail address"], ["a@b.co"]])
    assert parse_sheet(d, sheet).prospects[0].key == "a@b.co"
    with pytest.raises(HeaderError, match="'E-mail address'"):
        parse_sheet(data(prospects=[["Email"], ["a@b.co"]]), sheet)


def test_duplicate_header_first_wins_and_row_one_issue() -> None:
    d = data(
        prospects=[
            ["First Name", "Last Name", "Email", "Role", "Title", "e-mail"],
            ["Ann", "Lee", "a@b.co", "CTO", "VP", "other@b.co"],
        ]
    )
    rows = parse_sheet(d, SHEET)
    assert rows.prospects[0].body["email"] == "a@b.co"
    assert rows.prospects[0].body["role"] == "CTO"  # Role before its alias Title
    assert messages(rows) == [
        (1, "header 'Email' appears twice (columns C and F); rename or delete one"),
    ]


# --- blank rows, empty sheets, size ---------------------------------------------------------


def test_blank_rows_in_the_middle_are_skipped_not_an_end() -> None:
    d = data(
        prospects=table(
            [
                {"Email": "a@b.co"},
                {},
                {"Email": "  ", "First Name": None},
                {"Sync Status": "synced", "Prospect ID": "p_9"},  # only status cells
                {"Email": "c@d.co"},
            ],
            HEADERS["prospects"],
        ),
        enrollments=table([{"Enrolled": False}, {"Email": "a@b.co", "Campaign": "X"}]),
    )
    rows = parse_sheet(d, SHEET)
    assert [(p.row, p.key) for p in rows.prospects] == [(2, "a@b.co"), (6, "c@d.co")]
    assert [e.row for e in rows.enrollments] == [3]
    assert rows.issues == []
    assert rows.rows_read == 3


def test_header_only_sheet_is_empty_not_an_error() -> None:
    rows = parse_sheet(data(), SHEET)
    assert (rows.prospects, rows.campaigns, rows.steps, rows.enrollments, rows.issues) == (
        [], [], [], [], []
    )  # fmt: skip
    assert rows.rows_read == 0
    assert set(rows.headers) == {"prospects", "campaigns", "steps", "enrollments"}


def test_short_rows_read_missing_cells_as_empty() -> None:
    d = data(prospects=[HEADERS["prospects"], ["a@b.co"]])
    assert parse_sheet(d, SHEET).prospects[0].body == {"email": "a@b.co"}


def test_ten_thousand_identical_rows_are_one_prospect_and_duplicates() -> None:
    row = ["ann@acme.com", "Ann", "Lee", "Acme", "CTO", 5551234567.0, "linkedin.com/in/ann", "SaaS"]
    d = data(prospects=[HEADERS["prospects"], *([list(row)] * 10_000)])
    rows = parse_sheet(d, SHEET)  # its speed is bench/'s (every-row-parsed), not a timed test
    assert len(rows.prospects) == 1
    assert len(rows.issues) == 9_999
    assert rows.issues[-1].message == "duplicate of row 2"


def test_ten_thousand_distinct_rows_in_every_tab() -> None:
    n = 10_000
    d = data(
        prospects=[["Email", "First Name"], *([f"p{i}@acme.com", f"P{i}"] for i in range(n))],
        campaigns=[["Campaign", "Mailboxes"], *([f"C{i}", "mb_1"] for i in range(n // 10))],
        steps=[["Campaign", "Step", "Subject", "Body"],
               *([f"c{i}", 1, "s", "b"] for i in range(n // 10))],
        enrollments=[["Email", "Campaign", "Enrolled"],
                     *([f"p{i}@acme.com", "C1", True] for i in range(n))],
    )  # fmt: skip
    rows = parse_sheet(d, SHEET)
    assert (len(rows.prospects), len(rows.campaigns), len(rows.enrollments)) == (n, n // 10, n)
    assert rows.issues == [] and rows.rows_read == 2 * n + 2 * (n // 10)


def test_a_sheet_with_no_tabs_at_all() -> None:
    with pytest.raises(TabNotFound, match="the tabs there are: none"):
        parse_sheet(SheetData(tabs={}, titles=[]), SHEET)
