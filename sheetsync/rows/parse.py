"""Rows: one read of the spreadsheet → validated, normalised records (pure; no I/O).

    parse_sheet(data, sheet) -> SheetRows

Tabs are found by title (case- and space-insensitively); Prospects, Campaigns, Steps and
Enrollments are required (`TabNotFound`), Sync Log is optional. Each required header must be
there (`HeaderError`); headers match in any order and extra columns are ignored. A header that
appears twice is reported as a RowIssue on row 1 of its tab and the first column is used;
different aliases of one field (Role and Title) fill it in order of preference. Row-1 issues
are about the header row: the engine must show them (plan output, Sync Log) and never write
them into a cell, which would overwrite a header.

Blank rows are skipped wherever they are; a row is blank when all its input cells are empty
(status columns and unknown columns do not count; an unticked checkbox counts as empty).
`rows_read` counts the non-blank data rows of the four input tabs.

Every problem in a row becomes one RowIssue whose message follows `error: ` in the status cell.
A row with an input cell that is a formula the workbook holds no result for (UNCOMPUTED) is not
parsed: it becomes a WaitingRow (see `waiting`), and so does a campaign one of whose step rows
waits. A row reports its first problem only (in column order): fix it and the next one shows.
Modules: `cells` (value coercion per column kind, limits, hashing), `reader` (tabs, headers,
blank rows), `prospects`, `campaigns` (with steps), `enrollments`, `schedule` (channel,
state, time zone, days and times).
"""

from __future__ import annotations

from sheetsync.config import SheetConfig
from sheetsync.rows.campaigns import parse_campaigns
from sheetsync.rows.enrollments import parse_enrollments
from sheetsync.rows.prospects import parse_prospects
from sheetsync.rows.reader import Tab, find_tab
from sheetsync.rows.records import SheetRows
from sheetsync.rows.waiting import waiting_rows, withhold_campaigns
from sheetsync.sheet.base import SheetData

INPUT_ROLES = ("prospects", "campaigns", "steps", "enrollments")

__all__ = ["parse_sheet"]


def parse_sheet(data: SheetData, sheet: SheetConfig) -> SheetRows:
    """Validate and normalise every tab of one read into records and row issues."""
    tabs: dict[str, Tab] = {}
    for role in (*INPUT_ROLES, "sync_log"):
        tab = find_tab(data, sheet.tab(role), sheet=sheet.name)
        if tab is not None:
            tabs[role] = tab
    prospects, p_issues, stopped = parse_prospects(tabs["prospects"])
    campaigns, steps, c_issues = parse_campaigns(tabs["campaigns"], tabs["steps"])
    enrollments, e_issues = parse_enrollments(tabs["enrollments"])
    header_issues = [i for role in INPUT_ROLES for i in tabs[role].header_issues()]
    waiting = {role: waiting_rows(tabs[role]) for role in INPUT_ROLES}
    campaigns, steps, c_issues, held = withhold_campaigns(
        campaigns, steps, c_issues, waiting["steps"], tabs["steps"].title
    )
    rows_read = sum(len(tabs[role].numbered) + len(waiting[role]) for role in INPUT_ROLES)
    for tab in tabs.values():  # a Tab and its Lines refer to each other: let refcounting free them
        for cached in ("lines", "numbered", "waiting"):
            tab.__dict__.pop(cached, None)
    return SheetRows(
        prospects=prospects,
        campaigns=campaigns,
        steps=steps,
        enrollments=enrollments,
        issues=header_issues + p_issues + c_issues + e_issues,
        waiting=[w for role in INPUT_ROLES for w in waiting[role]] + held,
        headers={role: tab.headers for role, tab in tabs.items()},
        titles={role: tab.title for role, tab in tabs.items()},
        rows_read=rows_read,
        stopped=stopped,
    )
