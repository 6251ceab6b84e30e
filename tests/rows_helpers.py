"""Builders for rows tests: a SheetConfig with a custom field, and tabs written as dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sheetsync.config import SheetConfig
from sheetsync.rows.parse import parse_sheet
from sheetsync.rows.records import SheetRows
from sheetsync.sheet.base import CellValue, Row, SheetData
from sheetsync.sheet.layout import TAB_ROLES, customise

TITLES = {"prospects": "Prospects", "campaigns": "Campaigns", "steps": "Steps"}
TITLES["enrollments"] = "Enrollments"

HEADERS = {
    "prospects": ["Email", "First Name", "Last Name", "Company", "Role", "Phone",
                  "LinkedIn URL", "Industry", "Sync Status", "Prospect ID"],
    "campaigns": ["Campaign", "Channel", "Mailboxes", "Daily Send Limit", "Timezone",
                  "Schedule Days", "Window Start", "Window End", "Track Opens", "Track Clicks",
                  "Stop On Reply", "Stop On Bounce", "Start Date", "End Date", "State",
                  "Campaign ID", "Sync Status"],
    "steps": ["Campaign", "Step", "Delay Days", "Subject", "Body", "Sync Status"],
    "enrollments": ["Email", "List ID", "Campaign", "Enrolled", "Enrollment Status"],
}  # fmt: skip


def make_sheet(custom: Sequence[str] = ("Industry",), **renames: Mapping[str, str]) -> SheetConfig:
    tabs = {
        role: customise(
            spec,
            renames=renames.get(role),
            extra_inputs=tuple(custom) if role == "prospects" else (),
        )
        for role, spec in TAB_ROLES.items()
    }
    return SheetConfig(
        name="test", source="xlsx", spreadsheet="/t.xlsx", custom_fields=tuple(custom), tabs=tabs
    )


SHEET = make_sheet()


def table(rows: Sequence[Mapping[str, Any]], header: Sequence[str] | None = None) -> list[Row]:
    """A tab from dict rows: the header is `header` (or the union of keys in order)."""
    head: list[str] = list(header or [])
    for r in rows:
        head.extend(k for k in r if k not in head)
    out: list[Row] = [list(head)]
    for r in rows:
        out.append([r.get(h, "") for h in head] if r else [])
    return out


def data(**tabs: list[Row]) -> SheetData:
    full: dict[str, list[Row]] = {}
    for role, title in TITLES.items():
        full[title] = tabs.get(role, [list(HEADERS[role])])
    return SheetData(tabs=full, titles=list(full))


def parse(**tabs: Sequence[Mapping[str, CellValue]]) -> SheetRows:
    """Parse dict rows written under the default headers (extra keys become extra columns)."""
    return parse_sheet(data(**{r: table(v, HEADERS[r]) for r, v in tabs.items()}), SHEET)


def messages(rows: SheetRows, role: str | None = None) -> list[tuple[int, str]]:
    return [(i.row, i.message) for i in rows.issues if role is None or i.role == role]
