"""Properties of rows.parse_sheet: any cell value is safe (only RowIssues, every row accounted
for), normalising is idempotent (a record written back into a sheet parses to itself), and the
hashes do not depend on row order or on status columns."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rows_helpers import HEADERS, SHEET, data, parse, table

from sheetsync.rows.cells import ERROR_VALUES
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.records import SheetRows

FAST = settings(max_examples=150, deadline=None)

words = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
any_cell = st.one_of(
    st.none(),
    words,
    st.sampled_from(sorted(ERROR_VALUES) + ["", "  ", "\u200b", "TRUE", "no", "✓", "1e400"]),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)


def mostly(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Valid-looking values nine times in ten, any cell value otherwise."""
    return st.integers(0, 9).flatmap(lambda i: any_cell if i == 0 else valid)


email = st.builds(
    lambda user, dom, pad: f"{pad}{user}@{dom}{pad}",
    st.sampled_from(["ann", "Bob", "c.d", "e+f", "ÉVA", "g"]),
    st.sampled_from(["acme.com", "Mail.Example.ORG", "x.co.uk"]),
    st.sampled_from(["", " ", "\t"]),
)
linkedin = st.sampled_from(
    ["", "linkedin.com/in/ann", "http://www.linkedin.com/in/bob/?trk=x", "https://de.linkedin.com/in/c/",
     "https://www.linkedin.com/pub/d/1/2/3", "https://www.linkedin.com/company/x"]
)  # fmt: skip
phone = st.one_of(
    st.just(""),
    st.integers(min_value=100, max_value=10**12).map(float),
    st.just("+1 (555) 123-4567"),
)
scalar = st.one_of(words, st.integers(), st.floats(allow_nan=False), st.booleans(), st.dates())
prospect_row = st.fixed_dictionaries(
    {
        "Email": mostly(email),
        "First Name": mostly(words),
        "Company": mostly(words),
        "Phone": mostly(phone),
        "LinkedIn URL": mostly(linkedin),
        "Industry": mostly(scalar),
        "Sync Status": any_cell,
    }
)
days = st.sampled_from(["", "Mon-Fri", "mon, wed,FRI", "Sat-Mon", "weekdays", "Tues & Thurs"])
campaign_row = st.fixed_dictionaries(
    {
        "Campaign": mostly(st.sampled_from(["Q4", " q4 ", "Launch", "Ünïcödé 🚀", "Other"])),
        "Channel": mostly(st.sampled_from(["", "Email", "LinkedIn", "multichannel"])),
        "Mailboxes": mostly(st.sampled_from(["mb_1", "mb_1, mb_2\nmb_3", ""])),
        "Daily Send Limit": mostly(st.one_of(st.just(""), st.integers(1, 500))),
        "Timezone": mostly(st.sampled_from(["", "Europe/Berlin", "utc", "america/new_york"])),
        "Schedule Days": mostly(days),
        "Window Start": mostly(st.sampled_from(["", "9:00", 0.375, time(8, 15)])),
        "Window End": mostly(st.sampled_from(["", "17:30", "5 pm", 0.75])),
        "Track Opens": mostly(st.sampled_from(["", True, False, "yes", "0"])),
        "Start Date": mostly(
            st.one_of(st.just(""), st.dates().map(date.isoformat), st.integers(1, 9e4))
        ),
        "End Date": mostly(st.sampled_from(["", "9999-12-31"])),
        "State": mostly(st.sampled_from(["", "Draft", "running", "Active", "Paused"])),
        "Sync Status": any_cell,
    }
)
step_row = st.fixed_dictionaries(
    {
        "Campaign": mostly(st.sampled_from(["Q4", "launch", "OTHER"])),
        "Step": mostly(st.integers(1, 3)),
        "Delay Days": mostly(st.one_of(st.just(""), st.just(0), st.integers(0, 3))),
        "Subject": mostly(words),
        "Body": mostly(words),
    }
)
enrollment_row = st.fixed_dictionaries(
    {
        "Email": mostly(st.one_of(email, st.just(""))),
        "List ID": mostly(st.sampled_from(["", "", "L1", 12.0])),
        "Campaign": mostly(st.sampled_from(["Q4", "camp_1"])),
        "Enrolled": mostly(st.booleans()),
        "Enrollment Status": any_cell,
    }
)


def _accounted(rows: SheetRows, role: str, records: list[Any], non_blank: int) -> None:
    """Every non-blank row ends up as exactly one record or one issue."""
    issue_rows = [i.row for i in rows.issues if i.role == role]
    record_rows = [r.row for r in records]
    assert sorted(issue_rows + record_rows) == sorted(set(issue_rows + record_rows))
    assert len(issue_rows) + len(record_rows) == non_blank


@FAST
@given(
    st.lists(prospect_row, max_size=6),
    st.lists(campaign_row, max_size=4),
    st.lists(step_row, max_size=6),
    st.lists(enrollment_row, max_size=4),
    st.lists(st.lists(any_cell, max_size=12), max_size=3),
)
def test_any_cell_value_gives_records_or_issues_never_an_exception(
    prospects: list[dict[str, Any]],
    campaigns: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    enrollments: list[dict[str, Any]],
    ragged: list[list[Any]],
) -> None:
    d = data(
        prospects=table(prospects, HEADERS["prospects"]) + ragged,
        campaigns=table(campaigns, HEADERS["campaigns"]),
        steps=table(steps, HEADERS["steps"]),
        enrollments=table(enrollments, HEADERS["enrollments"]),
    )
    rows = parse_sheet(d, SHEET)
    for issue in rows.issues:
        assert issue.row >= 2 and issue.message and "Traceback" not in issue.message
    counts = {role: 0 for role in ("prospects", "campaigns", "steps", "enrollments")}
    for role in counts:
        counts[role] = sum(1 for line in _tab_lines(d, role))
    assert rows.rows_read == sum(counts.values())
    _accounted(rows, "prospects", rows.prospects, counts["prospects"])
    _accounted(rows, "campaigns", rows.campaigns, counts["campaigns"])
    _accounted(rows, "steps", rows.steps, counts["steps"])
    _accounted(rows, "enrollments", rows.enrollments, counts["enrollments"])


def _tab_lines(d: Any, role: str) -> list[Any]:
    from sheetsync.rows.reader import find_tab

    tab = find_tab(d, SHEET.tab(role), sheet="t")
    assert tab is not None
    return tab.lines


# --- idempotence: a record written back into the sheet parses to the same record -------------


def _prospect_cells(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "Email": body["email"],
        "First Name": body.get("firstName", ""),
        "Company": body.get("company", ""),
        "Phone": body.get("phone", ""),
        "LinkedIn URL": body.get("linkedinUrl", ""),
        "Industry": body.get("customFields", {}).get("Industry", ""),
    }


def _campaign_cells(c: Any) -> dict[str, Any]:
    s = c.settings
    return {
        "Campaign": s["name"],
        "Channel": c.fixed.get("channel", ""),
        "Mailboxes": "\n".join(c.mailboxes),
        "Daily Send Limit": s.get("dailySendLimit", ""),
        "Timezone": c.fixed.get("timezone", ""),
        "Schedule Days": ",".join(s.get("scheduleDays", [])),
        "Window Start": s.get("sendingWindowStart", ""),
        "Window End": s.get("sendingWindowEnd", ""),
        "Track Opens": s.get("trackOpens", ""),
        "Start Date": s.get("startDate", ""),
        "End Date": s.get("endDate", ""),
        "State": (c.state or "").title(),
    }


def _step_cells(s: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        "Campaign": names[s.campaign_key],
        "Step": s.number,
        "Delay Days": s.delay_days,
        "Subject": s.subject,
        "Body": s.body,
    }


def _enrollment_cells(e: Any) -> dict[str, Any]:
    return {
        "Email": e.email or "",
        "List ID": e.list_id or "",
        "Campaign": e.campaign,
        "Enrolled": e.enrolled,
    }


@FAST
@given(
    st.lists(prospect_row, max_size=5),
    st.lists(campaign_row, max_size=4),
    st.lists(step_row, max_size=6),
    st.lists(enrollment_row, max_size=4),
)
def test_normalising_is_idempotent(
    prospects: list[dict[str, Any]],
    campaigns: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    enrollments: list[dict[str, Any]],
) -> None:
    first = parse(prospects=prospects, campaigns=campaigns, steps=steps, enrollments=enrollments)
    names = {c.key: c.name for c in first.campaigns}
    again = parse(
        prospects=[_prospect_cells(p.body) for p in first.prospects],
        campaigns=[_campaign_cells(c) for c in first.campaigns],
        steps=[_step_cells(s, names) for c in first.campaigns for s in c.steps],
        enrollments=[_enrollment_cells(e) for e in first.enrollments],
    )
    assert again.issues == []
    assert [(p.key, p.body, p.hash) for p in again.prospects] == [
        (p.key, p.body, p.hash) for p in first.prospects
    ]
    assert [(e.key, e.hash) for e in again.enrollments] == [
        (e.key, e.hash) for e in first.enrollments
    ]
    strip = [
        (c.key, c.settings, c.fixed, c.mailboxes, c.channel, c.state, c.hash)
        for c in first.campaigns
    ]
    assert [
        (c.key, c.settings, c.fixed, c.mailboxes, c.channel, c.state, c.hash)
        for c in again.campaigns
    ] == strip


# --- hashes ignore row order and status columns ----------------------------------------------


@FAST
@given(st.data())
def test_hashes_do_not_depend_on_row_order_or_status_cells(draw: st.DataObject) -> None:
    prospects = draw.draw(st.lists(prospect_row, max_size=8))
    campaigns = draw.draw(st.lists(campaign_row, max_size=4))
    steps = draw.draw(st.lists(step_row, max_size=8))
    enrollments = draw.draw(st.lists(enrollment_row, max_size=6))
    first = parse(prospects=prospects, campaigns=campaigns, steps=steps, enrollments=enrollments)

    def shuffled(rows: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
        out = draw.draw(st.permutations(rows))
        return [{**r, status: draw.draw(any_cell)} for r in out]

    second = parse(
        prospects=shuffled(prospects, "Sync Status"),
        campaigns=shuffled(campaigns, "Campaign ID"),
        steps=shuffled(steps, "Sync Status"),
        enrollments=shuffled(enrollments, "Enrollment Status"),
    )
    # Rows whose key is unique in the tab (the first of several depends on order by design).
    contested = {i.key for rows in (first, second) for i in rows.issues if i.key}
    for role in ("prospects", "enrollments", "campaigns"):
        a, b = _settled(getattr(first, role), contested), _settled(getattr(second, role), contested)
        assert a == b, role
    assert sorted(i.message for i in first.issues if i.key not in contested) == sorted(
        i.message for i in second.issues if i.key not in contested
    )


def _settled(records: list[Any], contested: set[str]) -> dict[str, str]:
    """Hashes of keys no issue mentions (with duplicates, which row wins depends on order)."""
    return {r.key: r.hash for r in records if r.key not in contested}


def test_naive_datetimes_are_cells_too() -> None:
    # hypothesis' datetimes() are naive, like openpyxl's; make sure both paths above see them
    cell = datetime.fromisoformat("2026-12-01T09:30:00")
    rows = parse(prospects=[{"Email": "a@b.co", "Industry": cell}])
    assert rows.prospects[0].body["customFields"] == {"Industry": "2026-12-01T09:30:00"}
