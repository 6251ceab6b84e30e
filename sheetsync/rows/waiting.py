"""Rows that wait for a formula result: a row whose input cells include UNCOMPUTED ones (a
formula the workbook holds no result for, see sheet/base.py) is never parsed, because its values
are unknown, not empty: nothing may be created, changed or unenrolled from it.

`Tab.waiting` lists those rows; here they become WaitingRows, keyed when their key cells are
known. A campaign is only whole with its steps, so a waiting step row withholds its campaign
(the record, its steps and any issue they had, which may come from the missing step) and a
step row whose Campaign is unknown withholds every campaign.
"""

from __future__ import annotations

from collections.abc import Callable

from sheetsync.rows.cells import LIMIT_NAME, Problem
from sheetsync.rows.enrollments import row_key
from sheetsync.rows.reader import Line, Tab
from sheetsync.rows.records import CampaignRecord, RowIssue, StepRecord, WaitingRow

KEYS: dict[str, Callable[[Line], str]] = {
    "prospects": lambda line: line.email("email"),
    "campaigns": lambda line: line.required("name", LIMIT_NAME).casefold(),
    "steps": lambda line: line.required("campaign", LIMIT_NAME).casefold(),
    "enrollments": row_key,
}


def waiting_rows(tab: Tab) -> list[WaitingRow]:
    out = []
    for line, fields in tab.waiting:
        try:
            key: str | None = KEYS[tab.role](line) or None
        except Problem:
            key = None
        labels = tuple(line.label(f) for f in fields)
        out.append(WaitingRow(tab.role, line.row, labels, key))
    return out


def withhold_campaigns(
    campaigns: list[CampaignRecord],
    steps: list[StepRecord],
    issues: list[RowIssue],
    waiting_steps: list[WaitingRow],
    steps_title: str,
) -> tuple[list[CampaignRecord], list[StepRecord], list[RowIssue], list[WaitingRow]]:
    """Campaigns, steps and issues without the campaigns that wait for a step row; plus a
    WaitingRow for each withheld campaign row, naming the step row it waits for."""
    if not waiting_steps:
        return campaigns, steps, issues, []
    every = any(w.key is None for w in waiting_steps)
    by_key = {w.key: w for w in waiting_steps if w.key is not None}
    withheld = {c.key for c in campaigns if every or c.key in by_key}
    withheld |= {i.key for i in issues if i.role == "campaigns" and i.key and every}
    withheld |= set(by_key)
    cause = next(w for w in waiting_steps if w.key is None) if every else None
    held = []
    for c in campaigns:
        if c.key in withheld:
            w = cause or by_key[c.key]
            held.append(WaitingRow("campaigns", c.row, w.labels, c.key, steps_title, w.row))
    for i in issues:
        if i.role == "campaigns" and i.key in withheld:
            w = cause or by_key[i.key]
            held.append(WaitingRow("campaigns", i.row, w.labels, i.key, steps_title, w.row))
    return (
        [c for c in campaigns if c.key not in withheld],
        [s for s in steps if s.campaign_key not in withheld],
        [i for i in issues if i.role not in ("campaigns", "steps") or i.key not in withheld],
        held,
    )
