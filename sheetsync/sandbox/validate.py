"""Request-body checks shared by the sandbox's resources.

Each helper reads one field of a JSON body and either returns the clean value or raises a
`Refusal` (422 validation_error) whose message names the field and says what is wrong.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

JSON = dict[str, Any]

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
# A person's profile ("any valid LinkedIn profile URL", the vendor guide): /in/<slug> or the
# old /pub/<name>/…, not the /pub/dir/ directory, a company page or a Sales Navigator link.
LINKEDIN_RE = re.compile(
    r"^https://(www\.|[a-z]{2}\.)?linkedin\.com/(in/[^/\s?#]+|pub/(?!dir/)[^\s?#]+?)/?"
    r"(\?[^\s#]*)?$",
    re.IGNORECASE,
)
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PROSPECT_STATUSES = ("active", "bounced", "unsubscribed", "suppressed")


class Refusal(Exception):
    """The API refuses the request: becomes `{"error": {"code", "message", **extra}}`."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> JSON:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def invalid(message: str) -> Refusal:
    return Refusal(422, "validation_error", message)


def not_found(what: str, ident: str) -> Refusal:
    return Refusal(404, "not_found", f"{what} {ident!r} not found in this workspace")


def conflict(message: str) -> Refusal:
    return Refusal(409, "invalid_state", message)


def normal_email(value: Any, name: str = "email") -> str:
    """Trimmed, lower-cased, and shaped like an address."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{name} is required and must be a non-empty string")
    email = value.strip().lower()
    if not EMAIL_RE.match(email):
        raise invalid(f"{name} {value!r} is not a valid email address")
    return email


def opt_str(body: JSON, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name} must be a string or null, not {type(value).__name__}")
    return value


def req_str(body: JSON, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{name} is required and must be a non-empty string")
    return value.strip()


def opt_bool(body: JSON, name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise invalid(f"{name} must be true or false")
    return value


def opt_positive_int(body: JSON, name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"{name} must be a positive integer, not {value!r}")
    return value


def opt_linkedin(body: JSON, name: str = "linkedinUrl") -> str | None:
    value = opt_str(body, name)
    if value is not None and not LINKEDIN_RE.match(value.strip()):
        raise invalid(
            f"{name} {value!r} is not a LinkedIn profile URL; use "
            "https://www.linkedin.com/in/<profile>"
        )
    return value.strip() if value is not None else None


def opt_custom_fields(body: JSON, name: str = "customFields") -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid(f"{name} must be an object of name to text, number or boolean")
    for key, item in value.items():
        if item is not None and not isinstance(item, str | int | float | bool):
            raise invalid(f"{name}.{key} must be text, a number, a boolean or null")
    return dict(value)


def opt_hhmm(body: JSON, name: str) -> str | None:
    value = opt_str(body, name)
    if value is not None and not HHMM_RE.match(value):
        raise invalid(f"{name} {value!r} must be a 24-hour time HH:MM, e.g. 09:00")
    return value


def opt_timezone(body: JSON, name: str = "timezone") -> str | None:
    value = opt_str(body, name)
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid(f"{name} {value!r} is not an IANA time zone, e.g. Europe/Berlin") from exc
    return value


def opt_days(body: JSON, name: str = "scheduleDays") -> list[str] | None:
    """A list of day names → lowercase three-letter days in week order (mon … sun)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise invalid(f'{name} must be a non-empty list of days, e.g. ["mon", "tue"]')
    days: set[str] = set()
    for item in value:
        word = item.strip().lower() if isinstance(item, str) else ""
        if word in _FULL_DAYS:
            word = DAYS[_FULL_DAYS.index(word)]
        if word not in DAYS:
            raise invalid(f"{name}: {item!r} is not a day; use mon, tue, wed, thu, fri, sat, sun")
        days.add(word)
    return [d for d in DAYS if d in days]


def opt_date(body: JSON, name: str) -> str | None:
    """An ISO date (2026-12-01) or date-time; kept as sent."""
    value = opt_str(body, name)
    if value is None:
        return None
    try:
        parse_when(value)
    except ValueError as exc:
        raise invalid(f"{name} {value!r} must be an ISO date like 2026-12-01") from exc
    return value


def parse_when(value: str) -> date | datetime:
    if "T" in value or " " in value.strip():
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return date.fromisoformat(value)


def instant(value: str, timezone: str | None, *, day_end: bool = False) -> float:
    """Unix seconds of a date (its start, or the start of the next day with `day_end`) or of a
    date-time, read in the campaign's timezone (UTC when none)."""
    tz = ZoneInfo(timezone or "UTC")
    when = parse_when(value)
    if isinstance(when, datetime):
        return (when if when.tzinfo else when.replace(tzinfo=tz)).timestamp()
    day = when + timedelta(days=1) if day_end else when
    return datetime.combine(day, time(0, 0), tzinfo=tz).timestamp()


def id_list(body: JSON, name: str) -> list[str]:
    """An optional list of non-empty strings (absent or null → [])."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise invalid(f"{name} must be a list of non-empty strings")
    return [v.strip() for v in value]


def stamp(at: float) -> str:
    """An epoch time as the API writes times: UTC, whole seconds, `Z`."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
