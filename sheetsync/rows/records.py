"""Validated rows: what `rows.parse_sheet` makes of a read, and what the planner works on.

Plain frozen data, no I/O. Keys are normalised (emails trimmed and lower-cased, campaign names
trimmed and compared case-insensitively); `hash` is a stable digest of the mapped input columns
only (status columns are never input), so sorting or moving rows changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sheetsync.sheet.layout import HeaderMap

CampaignState = Literal["draft", "running", "paused"]


@dataclass(frozen=True)
class ProspectRecord:
    row: int  # 1-based sheet row
    key: str  # normalised email
    body: dict[str, Any]  # the POST /prospects body: email, firstName, …, customFields
    hash: str
    sync_off: bool = False  # the Sync column exists and this row is not TRUE: leave it alone
    left_out: tuple[str, ...] = ()  # why each optional field that cannot be used was left out


@dataclass(frozen=True)
class StepRecord:
    row: int
    campaign_key: str
    number: int  # 1-based as people write it; stepIndex = number - 1
    delay_days: int
    subject: str
    body_html: str  # what is sent: the Body cell, plain text turned into HTML
    body: str  # the Body cell as typed: the steps hash uses it, not the HTML made from it


@dataclass(frozen=True)
class CampaignRecord:
    row: int
    key: str  # casefolded, trimmed name
    name: str  # as typed (trimmed)
    settings: dict[str, Any]  # PATCH-able API fields that the row sets (camelCase), name included
    mailboxes: tuple[str, ...]  # ids or mailbox emails, as typed; resolved against GET /mailboxes
    channel: str  # email, linkedin or multichannel (email when the cell is blank)
    state: CampaignState | None  # wanted state; None = leave as it is
    steps: tuple[StepRecord, ...]  # ordered by number; validated 1..n, step 1 delay 0
    settings_hash: str  # settings + mailboxes + channel
    steps_hash: str
    hash: str  # everything above
    confirm: bool = False  # the Confirm box is ticked (not in `hash`: an action, not content)
    # create-only API fields the row sets (the API cannot change them later): channel and
    # timezone, only when their cells are filled in
    fixed: dict[str, Any] = field(default_factory=dict)
    remote_id: str | None = None  # the Campaign ID cell as read (a status column, not input)
    steps_sent: str = ""  # digest of the steps as sent (bodyHtml), to compare with a read


@dataclass(frozen=True)
class EnrollmentRecord:
    row: int
    key: str  # "<email or list:ID>|<campaign ref casefolded>"
    email: str | None  # normalised; exactly one of email and list_id is set
    list_id: str | None
    campaign: str  # as typed: a campaign name from the sheet or a WarmySender campaign id
    enrolled: bool  # TRUE enrolls, FALSE unenrolls
    hash: str


@dataclass(frozen=True)
class RowIssue:
    """A row that cannot be synced as it is. `message` follows `error: ` in its status cell."""

    role: str  # prospects, campaigns, steps, enrollments
    row: int
    message: str
    key: str | None = None


@dataclass(frozen=True)
class WaitingRow:
    """A row not acted on: input cells of it (`labels`, the headers as typed) are formulas the
    file holds no result for, so their values are unknown. `key` is None when a key cell is
    one of them. A campaign row also waits for a step row of its: `tab` and `source_row` then
    name that row."""

    role: str
    row: int
    labels: tuple[str, ...]
    key: str | None = None
    tab: str | None = None
    source_row: int = 0


@dataclass(frozen=True)
class SheetRows:
    prospects: list[ProspectRecord] = field(default_factory=list)
    campaigns: list[CampaignRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    enrollments: list[EnrollmentRecord] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    waiting: list[WaitingRow] = field(default_factory=list)  # rows with uncomputed formulas
    headers: dict[str, HeaderMap] = field(default_factory=dict)  # role -> header positions
    titles: dict[str, str] = field(default_factory=dict)  # role -> tab title as found
    rows_read: int = 0
    stopped: frozenset[str] = frozenset()  # emails whose Stop box is ticked (Prospects)
