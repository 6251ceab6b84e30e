"""The Enrollments tab → EnrollmentRecords: (prospect email or list, campaign) → enrolled or not.

Exactly one of Email and List ID is filled in. The campaign reference stays as typed (trimmed):
the engine resolves it against the Campaigns tab, or else treats it as a WarmySender campaign
id. The key is `<email or list:ID>|<campaign casefolded>`; the first row with a key wins, later
ones get `duplicate of row N`. A blank Enrolled cell is FALSE.
"""

from __future__ import annotations

from sheetsync.rows.cells import LIMIT_NAME, Problem, digest
from sheetsync.rows.reader import Line, Tab
from sheetsync.rows.records import EnrollmentRecord, RowIssue


def parse_enrollments(tab: Tab) -> tuple[list[EnrollmentRecord], list[RowIssue]]:
    records: list[EnrollmentRecord] = []
    issues: list[RowIssue] = []
    first: dict[str, int] = {}
    for line in tab.lines:
        key: str | None = None
        try:
            email, list_id, campaign = _who(line)
            key = key_of(email, list_id, campaign)
            if key in first:
                raise Problem(f"duplicate of row {first[key]}")
            first[key] = line.row
            enrolled = bool(line.flag("enrolled"))
        except Problem as p:
            issues.append(RowIssue(tab.role, line.row, p.message, key))
            continue
        content = [email, list_id, campaign.casefold(), enrolled]
        records.append(
            EnrollmentRecord(
                row=line.row,
                key=key,
                email=email or None,
                list_id=list_id or None,
                campaign=campaign,
                enrolled=enrolled,
                hash=digest(content),
            )
        )
    return records, issues


def key_of(email: str, list_id: str, campaign: str) -> str:
    return f"{email or 'list:' + list_id}|{campaign.casefold()}"


def row_key(line: Line) -> str:
    """The key of an Enrollments row; Problem when its cells do not make one."""
    return key_of(*_who(line))


def _who(line: Line) -> tuple[str, str, str]:
    email = line.email("email")
    list_id = line.text("list_id")
    if email and list_id:
        raise Problem(
            f"{line.label('email')} and {line.label('list_id')} are both filled in; keep one "
            f"(a row enrolls one prospect or one list)"
        )
    if not email and not list_id:
        raise Problem(
            f"{line.label('email')} and {line.label('list_id')} are both empty; fill in one"
        )
    campaign = line.required("campaign", LIMIT_NAME)
    return email, list_id, campaign
