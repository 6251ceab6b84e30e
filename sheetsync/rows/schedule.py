"""Campaign cell values: channel, state, time zone, schedule days and sending window times.

Schedule Days become the API's `scheduleDays`: a list of lower-case three-letter day names in
week order (`["mon", "tue", "wed", "thu", "fri"]`), the form the sandbox and the guide's field
name suggest. Accepted input: days by name (`Mon`, `monday`, `Tues`, `Thurs`; any unambiguous
prefix of two or more letters), ranges (`Mon-Fri`, `Mon to Fri`; `Fri-Mon` wraps over the
weekend), lists separated by commas, semicolons, slashes, `&`, `and` or spaces, and the words
`weekdays`, `weekends`, `daily` / `every day`; any mix, case-insensitive.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time
from functools import cache
from zoneinfo import available_timezones

from sheetsync.rows.cells import Problem, as_text, check_formula, is_empty, show
from sheetsync.rows.records import CampaignState

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WORDS = {
    "weekdays": DAYS[:5],
    "weekday": DAYS[:5],
    "weekends": DAYS[5:],
    "weekend": DAYS[5:],
    "daily": DAYS,
    "everyday": DAYS,
    "all": DAYS,
}
DAYS_HELP = "use days like Mon-Fri or Mon,Wed,Fri"

CHANNELS = ("email", "linkedin", "multichannel")
STATES: dict[str, CampaignState] = {
    "draft": "draft",
    "running": "running",
    "run": "running",
    "active": "running",
    "start": "running",
    "started": "running",
    "paused": "paused",
    "pause": "paused",
}
_TIME_RE = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?(?::(\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)


def channel(value: object, label: str) -> str:
    """email (the default when blank), linkedin or multichannel."""
    text = as_text(value, label)
    word = re.sub(r"[\s_\-]", "", text).casefold()
    if not word:
        return "email"
    if word in CHANNELS:
        return word
    raise Problem(f"{label} is {show(value)}; use email, linkedin or multichannel")


def state(value: object, label: str) -> CampaignState | None:
    """The wanted state; None (leave it as it is) when blank."""
    word = as_text(value, label).casefold()
    if not word:
        return None
    if word in STATES:
        return STATES[word]
    raise Problem(f"{label} is {show(value)}; use Draft, Running or Paused, or leave it blank")


@cache
def _zones() -> dict[str, str]:
    return {z.casefold(): z for z in available_timezones()}


def timezone(value: object, label: str) -> str | None:
    """An IANA time zone name in its canonical spelling (matched case-insensitively)."""
    text = as_text(value, label)
    if not text:
        return None
    zone = _zones().get(text.replace(" ", "_").casefold())
    if zone is None:
        raise Problem(
            f"{label} {show(value)} is not an IANA time zone name; use one like Europe/Berlin "
            f"or America/New_York"
        )
    return zone


def _day(word: str, label: str, value: object) -> int:
    if len(word) >= 2:
        hits = [i for i, full in enumerate(_FULL) if full.startswith(word)]
        if len(hits) == 1:
            return hits[0]
    if word == "weds":
        return 2
    raise Problem(f"{label} {show(value)} has {word!r}, which is not a day; {DAYS_HELP}")


def schedule_days(value: object, label: str) -> list[str] | None:
    """Days as the API wants them: ["mon", "tue", …] in week order; None when blank."""
    text = as_text(value, label).casefold()
    if not text:
        return None
    text = re.sub(r"\s*(?:[-–—]|\bto\b|\bthrough\b|\bthru\b)\s*", "-", text)
    text = text.replace("every day", "everyday")
    picked: set[int] = set()
    for token in re.split(r"(?:[\s,;/&+]|\band\b)+", text.replace(".", "")):
        if not token:
            continue
        if token in _WORDS:
            picked.update(DAYS.index(d) for d in _WORDS[token])
            continue
        ends = token.split("-")
        if len(ends) == 1:
            picked.add(_day(token, label, value))
        elif len(ends) == 2 and all(ends):
            a, b = (_day(e, label, value) for e in ends)
            picked.update(i % 7 for i in range(a, a + (b - a) % 7 + 1))
        else:
            raise Problem(f"{label} {show(value)} has {token!r}, which is not a range; {DAYS_HELP}")
    if not picked:
        raise Problem(f"{label} {show(value)} names no day; {DAYS_HELP}")
    return [DAYS[i] for i in sorted(picked)]


def clock_time(value: object, label: str) -> str | None:
    """HH:MM (24-hour) from text (`9:00`, `09:00:00`, `5:30 pm`), a time cell (a Google serial
    fraction of a day, or a `time`/`datetime` from xlsx); None when blank."""
    check_formula(value, label)
    if is_empty(value):
        return None
    bad = Problem(f"{label} is {show(value)}; use a 24-hour time like 09:00")
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        if not (math.isfinite(value) and 0 <= value < 1):
            raise bad
        minutes = round(value * 24 * 60)
        if minutes >= 24 * 60:
            raise bad
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if not isinstance(value, str):
        raise bad
    m = _TIME_RE.match(as_text(value, label))
    if not m:
        raise bad
    hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if m[4]:
        if not 1 <= hour <= 12:
            raise bad
        hour = hour % 12 + (12 if m[4].lower().startswith("p") else 0)
    elif m[2] is None:
        raise bad  # a bare number: hours or a serial? ask for HH:MM
    if hour > 23 or minute > 59 or second > 59:
        raise bad
    return f"{hour:02d}:{minute:02d}"
