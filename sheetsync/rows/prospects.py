"""The Prospects tab → ProspectRecords: one POST /prospects body per row, keyed by email.

- The key is the email, trimmed and lower-cased; the first row with an email wins, later rows
  get `duplicate of row N`.
- The body has the camelCase fields of POST /prospects that the row fills in, plus
  `customFields {header: value}` for the configured custom field columns (text, whole numbers
  as int, other numbers, booleans; dates as ISO text).
- LinkedIn URLs are normalised to `https://<www or country>.linkedin.com/in/<slug>` (or
  `/pub/…`): http becomes https, a bare `linkedin.com` gets `www.`, query strings, fragments,
  trailing slashes and sub-pages (`/in/jane/details/…`) are dropped.
- With a Sync column, rows not ticked TRUE get `sync_off=True`. They are left alone entirely:
  no issue is reported for them and they do not claim their email, so a later ticked row with
  the same email is not a duplicate.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sheetsync.rows.cells import LIMIT_NAME, Problem, digest, show
from sheetsync.rows.reader import Line, Tab
from sheetsync.rows.records import ProspectRecord, RowIssue

TEXT_FIELDS = (
    ("first_name", "firstName"),
    ("last_name", "lastName"),
    ("company", "company"),
    ("role", "role"),
)
CUSTOM = "custom:"
_HOST_RE = re.compile(r"^(www|[a-z]{2})\.linkedin\.com$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)


# What one row's cells parse to: (key, problem before the duplicate check, body, hash, problem
# after it).
Parsed = tuple[str | None, str | None, dict[str, Any] | None, str, str | None]


def parse_prospects(tab: Tab) -> tuple[list[ProspectRecord], list[RowIssue]]:
    records: list[ProspectRecord] = []
    issues: list[RowIssue] = []
    first: dict[str, int] = {}  # key -> row that claimed it
    has_sync = tab.has("sync")
    for line in tab.lines:
        row = line.row
        sync_off = has_sync and _ticked(line) is not True
        key, early, body, hash_, late = _parse_row(line)
        if early is not None:
            if not sync_off:
                issues.append(RowIssue(tab.role, row, early, key))
            continue
        assert key is not None
        if not sync_off:
            if key in first:
                issues.append(RowIssue(tab.role, row, f"duplicate of row {first[key]}", key))
                continue
            first[key] = row
        if late is not None or body is None:
            if not sync_off:
                issues.append(RowIssue(tab.role, row, late or "", key))
            continue
        records.append(ProspectRecord(row, key, body, hash_, sync_off=sync_off))
    return records, issues


def _parse_row(line: Line) -> Parsed:
    key: str | None = None
    try:
        key = line.email("email")
        if not key:
            raise Problem(f"{line.label('email')} is empty")
    except Problem as p:
        return key, p.message, None, "", None
    try:
        body = prospect_body(line, key)
    except Problem as p:
        return key, None, None, "", p.message
    return key, None, body, digest(body), None


def prospect_body(line: Line, email: str) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email}
    for field, api in TEXT_FIELDS:
        if value := line.text(field, LIMIT_NAME):
            body[api] = value
    if phone := line.phone("phone"):
        body["phone"] = phone
    if url := line.text("linkedin_url"):
        body["linkedinUrl"] = linkedin_url(url, line.label("linkedin_url"))
    custom: dict[str, Any] = {}
    for col in line.tab.spec.inputs:
        if col.field.startswith(CUSTOM) and not line.empty(col.field):
            custom[col.field[len(CUSTOM) :]] = line.scalar(col.field)
    if custom:
        body["customFields"] = custom
    return body


def linkedin_url(text: str, label: str) -> str:
    """A LinkedIn profile URL in one canonical spelling, or a Problem saying what to type."""
    wrong = Problem(
        f"{label} {show(text)} is not a LinkedIn profile URL; use "
        f"https://www.linkedin.com/in/<profile>"
    )
    url = text if _SCHEME_RE.match(text) else "https://" + text
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise wrong from None
    if parts.scheme.lower() not in ("http", "https") or port is not None or parts.username:
        raise wrong
    host = "www.linkedin.com" if host == "linkedin.com" else host
    segments = [s for s in parts.path.split("/") if s]
    if not _HOST_RE.match(host) or len(segments) < 2 or any(c.isspace() for c in parts.path):
        raise wrong
    kind = segments[0].lower()
    if kind == "in":
        path = f"/in/{segments[1]}"
    elif kind == "pub":
        path = "/pub/" + "/".join(segments[1:])
    else:
        raise wrong
    return f"https://{host}{path}"


def _ticked(line: Line) -> bool | None:
    try:
        return line.flag("sync")
    except Problem:
        return None
