"""Typed results of the WarmySender client.

Every model keeps the server's object in `raw` so nothing the API sends is lost, and exposes the
fields sheetsync relies on under one spelling whatever casing or envelope the server used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sheetsync.config import Secret

JSON = dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """GET /me: the key and the workspace behind it."""

    workspace_id: str
    key_id: str | None
    key_name: str | None
    scopes: frozenset[str]
    raw: JSON = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Mailbox:
    id: str
    email: str
    connected: bool
    sending_enabled: bool
    raw: JSON = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Prospect:
    id: str
    email: str
    status: str | None  # globalStatus: active, bounced, unsubscribed, suppressed, …
    raw: JSON = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ProspectResult:
    """POST /prospects: the prospect, and whether this call created it (False: it existed)."""

    prospect: Prospect
    created: bool


@dataclass(frozen=True)
class Step:
    step_index: int
    subject: str
    body_html: str
    delay_days: int


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    status: str  # draft, running (or active), scheduled, paused, completed, …
    paused_reason: str | None
    steps: tuple[Step, ...]
    stats: dict[str, int]  # progress counts as the server reports them (sent, opened, …)
    raw: JSON = field(default_factory=dict, repr=False)
    channel: str | None = None  # email, linkedin, multichannel (None: the server did not say)
    mailbox_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class EnrollmentOutcome:
    """One prospect's outcome in an enroll call, when the server reports per-prospect detail."""

    status: str  # enrolled, suppressed, already_enrolled, not_found, …
    email: str | None = None
    prospect_id: str | None = None


@dataclass(frozen=True)
class EnrollResult:
    """POST /campaigns/{id}/enrollments. Counts the server did not send are None."""

    enrolled: int | None
    suppressed: int | None
    already_enrolled: int | None
    outcomes: tuple[EnrollmentOutcome, ...] | None  # None when the server sent no detail
    raw: JSON = field(default_factory=dict, repr=False)
    not_found: tuple[str, ...] = ()  # ids or emails the server reported as `notFound`


@dataclass(frozen=True)
class UnenrollResult:
    """DELETE /campaigns/{id}/enrollments: `{data: {unenrolledCount, totalProcessed}}`."""

    unenrolled_count: int
    total_processed: int
    raw: JSON = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Webhook:
    """An endpoint WarmySender delivers events to (GET/POST /webhooks). `secret` only in the
    answer to POST /webhooks; `raw` never holds it."""

    id: str
    url: str
    events: tuple[str, ...]
    active: bool
    secret: Secret | None = field(default=None, repr=False)
    raw: JSON = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class SentEmail:
    """One line of GET /emails/sent: an email a campaign sent to a prospect."""

    campaign_id: str | None
    prospect_id: str | None
    email: str | None  # the prospect's address, lower-cased
    sent_at: str | None  # as the server wrote it
    raw: JSON = field(default_factory=dict, repr=False)
