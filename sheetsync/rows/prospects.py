"""The Prospects tab → ProspectRecords: one POST /prospects body per row, keyed by email.

- The key is the email, trimmed and lower-cased; the first row with an email wins, later rows
  get `duplicate of row N`.
- The body has the camelCase fields of POST /prospects that the row fills in, plus
  `customFields {header: value}` for the configured custom field columns (text, whole numbers
  as int, other numbers, booleans; dates as ISO text).
- Blank-meaning values (`n/a`, `-`, `none`, … `cells.BLANK_WORDS`) in optional fields are blank.
- An optional field that cannot be used (a Phone of `call me`, a company page as LinkedIn URL)
  does not hold the prospect back: it is left out of the body and named in `left_out`, which
  the status cell shows after `synced` (`sync.statuses.left_out`).
- LinkedIn profile URLs are normalised to `https://www.linkedin.com/in/<slug>` (or the legacy
  `/pub/<name>/…`): any scheme or none, `linkedin.com`, `m.` (mobile) and country subdomains
  (`uk.`, `de.`) become `www.`; query strings, fragments, trailing slashes and sub-pages
  (`/in/jane/details/…`, `/in/jane/en`) are dropped; the slug is percent-encoded one way
  (`j%C3%BCrgen`, whether typed as `jürgen` or `j%c3%bcrgen`). A Sales Navigator link
  (`/sales/lead/…`, `/sales/people/…`) and pages that are not a profile (`/company/…`,
  `/jobs/…`, the `/pub/dir/…` directory) are refused with a message saying what to paste.
- With a Sync column, rows not ticked TRUE get `sync_off=True`. They are left alone entirely:
  no issue is reported for them and they do not claim their email, so a later ticked row with
  the same email is not a duplicate.
- A ticked Stop box puts the email in `stopped` (whatever else is wrong with the row, once its
  email reads): the engine unenrolls that person everywhere and enrolls them nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from sheetsync.rows.cells import (
    LIMIT_NAME,
    Problem,
    as_phone,
    as_scalar,
    as_text,
    digest,
    is_blank,
    show,
)
from sheetsync.rows.reader import Line, Tab
from sheetsync.rows.records import ProspectRecord, RowIssue
from sheetsync.sheet.base import CellValue

# The fields of POST /prospects a row fills in besides email and customFields, in body order:
# (sheet field, API field). `plan` counts them, `check` names the missing ones, errors map them.
FIELDS = (
    ("first_name", "firstName"),
    ("last_name", "lastName"),
    ("company", "company"),
    ("role", "role"),
    ("phone", "phone"),
    ("linkedin_url", "linkedinUrl"),
)
CUSTOM = "custom:"
# linkedin.com with no subdomain, www., m./mobile./touch. (mobile) or a country (uk., de.)
_HOST_RE = re.compile(r"^((www|m|mobile|touch|[a-z]{2})\.)?linkedin\.com$")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.\-]*://", re.IGNORECASE)


# What one row's cells parse to: (key, problem of the row, body, hash, fields left out, Stop
# ticked). The same cells under the same header row always parse the same.
Parsed = tuple[str | None, str | None, dict[str, Any] | None, str, tuple[str, ...], bool]


def parse_prospects(tab: Tab) -> tuple[list[ProspectRecord], list[RowIssue], frozenset[str]]:
    """The records, the row issues, and the emails whose Stop box is ticked."""
    records: list[ProspectRecord] = []
    issues: list[RowIssue] = []
    stopped: set[str] = set()
    first: dict[str, int] = {}  # key -> row that claimed it
    has_sync = tab.has("sync")
    for line in tab.lines:
        row = line.row
        sync_off = has_sync and _ticked(line) is not True
        key, early, body, hash_, left_out, stop = _parse_row(line)
        if stop and key:
            stopped.add(key)
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
        assert body is not None
        records.append(ProspectRecord(row, key, body, hash_, sync_off=sync_off, left_out=left_out))
    return records, issues, frozenset(stopped)


def _parse_row(line: Line) -> Parsed:
    key: str | None = None
    try:
        key = line.email("email")
        if not key:
            raise Problem(f"{line.label('email')} is empty")
    except Problem as p:
        return key, p.message, None, "", (), False
    try:
        stop = bool(line.flag("stop"))
    except Problem as p:  # a Stop box that cannot be read holds the row back: never guess it
        return key, p.message, None, "", (), False
    body, left_out = prospect_body(line, key)
    return key, None, body, digest(body), left_out, stop


def prospect_body(line: Line, email: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The POST /prospects body of a row, and what was left out of it (one message per field
    that cannot be used, saying why)."""
    left_out: list[str] = []
    values = line.values

    def value(field: str, parse: Callable[[CellValue, str], Any]) -> Any:
        i = line.column(field)
        raw = values[i] if i is not None and i < len(values) else None
        if is_blank(raw):
            return None
        try:
            return parse(raw, line.tab.label(field, i))
        except Problem as p:
            left_out.append(p.message)
            return None

    parsers = {"phone": as_phone, "linkedin_url": _linkedin}  # the rest are names
    name = partial(as_text, limit=LIMIT_NAME)
    body: dict[str, Any] = {"email": email}
    for field, api in FIELDS:
        body[api] = value(field, parsers.get(field, name))
    custom = {
        col.field[len(CUSTOM) :]: value(col.field, as_scalar)
        for col in line.tab.spec.inputs
        if col.field.startswith(CUSTOM)
    }
    body["customFields"] = {k: v for k, v in custom.items() if v is not None}
    return {k: v for k, v in body.items() if v is not None and v != {}}, tuple(left_out)


def _linkedin(value: CellValue, label: str) -> str:
    return linkedin_url(as_text(value, label), label)


# First path segments of LinkedIn pages that are not a person's profile.
_NOT_PROFILES = frozenset(
    {"company", "school", "showcase", "jobs", "job", "feed", "posts", "pulse", "groups",
     "events", "search", "learning", "mynetwork", "messaging", "talent"}
)  # fmt: skip


def linkedin_url(text: str, label: str) -> str:
    """A LinkedIn profile URL in one canonical spelling, or a Problem saying what to paste."""
    use = "use the profile's address, like https://www.linkedin.com/in/<profile>"
    wrong = Problem(f"{label} {show(text)} is not a LinkedIn profile URL; {use}")
    url = text if _SCHEME_RE.match(text) else "https://" + text
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise wrong from None
    if parts.scheme.lower() not in ("http", "https") or port is not None or parts.username:
        raise wrong
    segments = [s for s in parts.path.split("/") if s]
    if not _HOST_RE.match(host) or any(c.isspace() for c in parts.path) or not segments:
        raise wrong
    kind = segments[0].lower()
    if kind == "sales":
        raise Problem(
            f"{label} {show(text)} is a Sales Navigator link, not a public profile; open the "
            f"lead in Sales Navigator, choose View LinkedIn profile and paste that address"
        )
    if kind in _NOT_PROFILES or (kind == "pub" and len(segments) > 1 and segments[1] == "dir"):
        raise Problem(f"{label} {show(text)} is a LinkedIn page, not a person's profile; {use}")
    if kind == "in" and len(segments) >= 2:
        return f"https://www.linkedin.com/in/{_slug(segments[1])}"
    if kind == "pub" and len(segments) >= 2:
        return "https://www.linkedin.com/pub/" + "/".join(_slug(s) for s in segments[1:])
    raise wrong


def _slug(segment: str) -> str:
    """A path segment percent-encoded one way: `jürgen`, `j%c3%bcrgen` → `j%C3%BCrgen`."""
    return quote(unquote(segment), safe="-_.~")


def _ticked(line: Line) -> bool | None:
    try:
        return line.flag("sync")
    except Problem:
        return None
