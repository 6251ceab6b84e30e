"""Cell values → clean Python values, one function per column kind.

Every function takes the raw cell (as a source returns it: str, int, float, bool, date,
datetime, None; xlsx may also give a `time`) and the column's header as shown in the sheet, and
either returns the clean value or raises `Problem` with a message in plain words that names the
column, says what is wrong and what to do. Nothing else escapes: any cell value is safe.

Empty means None, or text that is only whitespace (zero-width spaces and BOMs included).
Blank (`is_blank`) also counts the words people and exports put in a cell to say "nothing":
`n/a`, `-`, `none`, `null`, `unknown`, … (`BLANK_WORDS`); an optional field treats them as empty,
and an email made of them (or Apollo's `email_not_unlocked@domain.com`) is a placeholder.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

# Spreadsheet error values (Google and Excel), as a formula shows them when it fails.
ERROR_VALUES = frozenset(
    {"#REF!", "#N/A", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!", "#ERROR!", "#SPILL!",
     "#CALC!", "#GETTING_DATA"}
)  # fmt: skip

# Length limits, in characters.
LIMIT_NAME = 500  # names, company, role, campaign name, subject
LIMIT_TEXT = 2_000  # URLs, custom field values, ids and anything not listed
LIMIT_BODY = 50_000  # a step body
LIMIT_EMAIL = 254  # the longest address SMTP allows
LIMIT_PHONE = 50

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x", "✓", "✔", "☑", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off", "✗", "✘", "☐"})
# What people and exports type for "nothing here" (compared casefolded, trimmed).
BLANK_WORDS = frozenset(
    {"n/a", "n.a.", "n.a", "-", "--", "---", "\u2013", "\u2014", "none", "null", "nil", "unknown",
     "not available", "not found", "no data", "tbd", "?"}
)  # fmt: skip
# Local parts of addresses that stand for "no address" (Apollo writes email_not_unlocked@…
# for every address it has not revealed).
PLACEHOLDER_LOCALS = frozenset(
    {"email_not_unlocked", "not_unlocked", "noemail", "no-email", "no_email", "none", "null",
     "unknown", "n/a"}
)  # fmt: skip

BOOL_HELP = "use TRUE or FALSE (also yes/no, y/n, 1/0, x, ✓, on/off, or a checkbox)"

EDGES = " \t\r\n\v\f\u00a0\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"
GOOGLE_EPOCH = date(1899, 12, 30)  # day 0 of Google Sheets (and Excel) serial dates
_MAX_SERIAL = (date(9999, 12, 31) - GOOGLE_EPOCH).days

_LOCAL = r"[^\s@\"(),:;<>\[\]\\]+"
EMAIL_RE = re.compile(
    rf"^(?!\.)(?!.*\.\.){_LOCAL}(?<!\.)@(?!-)[\w-]+(?<!-)(\.(?!-)[\w-]+(?<!-))*\.([^\W\d_]{{2,}}|xn--[\w-]+)$"
)
_INT_RE = re.compile(r"^[+-]?\d{1,15}(\.0*)?$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_RE = re.compile(
    r"^\+?[\d\s().\-/\u2010-\u2015]+(\s*(ext\.?|extension|x|#)\s*\d+)?$", re.IGNORECASE
)


class Problem(Exception):
    """A cell (or row) that cannot be used as it is; `message` goes after `error: `."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def clean(text: str) -> str:
    """Text without surrounding whitespace, zero-width characters or byte-order marks."""
    return text.strip(EDGES)


def is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and clean(value) == "")


def is_blank(value: object) -> bool:
    """Empty, or a word that means "nothing here" (`BLANK_WORDS`)."""
    return is_empty(value) or (isinstance(value, str) and clean(value).casefold() in BLANK_WORDS)


def show(value: object, width: int = 40) -> str:
    """A cell value quoted for a message, shortened when long."""
    if isinstance(value, str):
        text = clean(value)
    else:
        try:
            text = as_text(value, "", limit=10**9)
        except Problem:
            text = f"a {type(value).__name__} value"
    if len(text) > width:
        text = text[: width - 1] + "…"
    return repr(text) if isinstance(value, str) else text


def check_formula(value: object, label: str) -> None:
    if isinstance(value, str) and clean(value).upper() in ERROR_VALUES:
        raise Problem(
            f"{label} shows the spreadsheet error {clean(value).upper()}; fix the formula in "
            f"that cell or type the value"
        )


def check_length(text: str, label: str, limit: int) -> str:
    if len(text) > limit:
        raise Problem(f"{label} is {len(text)} characters; the limit is {limit}")
    return text


def number_text(value: float) -> str:
    """A number as people write it: 3.0 → "3", 5551234567.0 → "5551234567", never 5.55e9."""
    if not math.isfinite(value):
        raise ValueError(value)
    if float(value).is_integer():
        return str(int(value))
    text = repr(float(value))
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def date_text(value: date | datetime | time) -> str:
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(timespec="seconds")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    return value.isoformat()


def as_text(value: object, label: str, limit: int = LIMIT_TEXT) -> str:
    """Any cell as text: numbers without ".0", booleans TRUE/FALSE, dates ISO; "" when empty."""
    check_formula(value, label)
    if value is None:
        return ""
    if isinstance(value, str):
        text = clean(value)
    elif isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, int | float):
        try:
            text = number_text(value)
        except (ValueError, OverflowError):
            raise Problem(
                f"{label} is not a number the sheet can show ({value}); retype it"
            ) from None
    elif isinstance(value, date | datetime | time):
        text = date_text(value)
    else:
        raise Problem(f"{label} holds a value sheetsync cannot read; retype it as text")
    return check_length(text, label, limit)


def as_scalar(value: object, label: str, limit: int = LIMIT_TEXT) -> str | int | float | bool:
    """A custom field value: text, a number (whole numbers as int) or a boolean."""
    check_formula(value, label)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Problem(f"{label} is not a number the sheet can show ({value}); retype it")
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return as_text(value, label, limit)


def as_email(value: object, label: str) -> str:
    """Trimmed and lower-cased; "" when empty; a Problem when not shaped like an address or
    when it is a placeholder (`n/a`, `email_not_unlocked@domain.com`)."""
    text = as_text(value, label, LIMIT_EMAIL).lower()
    if text in BLANK_WORDS or text.split("@")[0] in PLACEHOLDER_LOCALS:
        raise Problem(
            f"{label} {show(value)} is a placeholder, not an address; fill in the real address "
            f"or delete the row"
        )
    if text and not EMAIL_RE.match(text):
        raise Problem(
            f"{label} {show(value)} is not a valid email address; fix it so it looks like "
            f"name@company.com"
        )
    return text


def as_phone(value: object, label: str) -> str:
    """Text; a number cell keeps its digits (5551234567.0 → "5551234567"); "+" is kept; the
    apostrophe exports put first to keep spreadsheets from reading a number, and `tel:`, are
    dropped."""
    if isinstance(value, bool) or isinstance(value, date | time):
        raise Problem(f"{label} is {show(value)}, not a phone number; type the number as text")
    text = as_text(value, label, LIMIT_PHONE)
    text = clean(text.removeprefix("'").removeprefix("tel:"))
    if text and (not _PHONE_RE.match(text) or sum(c.isdigit() for c in text) < 3):
        raise Problem(
            f"{label} {show(value)} is not a phone number; use digits, spaces and + - ( ), "
            f"e.g. +1 555 123 4567"
        )
    return text


def as_bool(value: object, label: str) -> bool | None:
    """True/False from a checkbox, TRUE/FALSE, yes/no, y/n, 1/0, x, ✓, on/off; None when empty."""
    check_formula(value, label)
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = clean(value).casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise Problem(f"{label} is {show(value)}; {BOOL_HELP}")


def as_int(value: object, label: str) -> int | None:
    """A whole number: 3, 3.0 and "3" are 3; 3.5 and "abc" are Problems; None when empty."""
    check_formula(value, label)
    if is_empty(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(clean(value)):
        return int(clean(value).split(".")[0])
    raise Problem(f"{label} is {show(value)}; use a whole number like 3")


def as_date(value: object, label: str) -> date | None:
    """A date cell, a datetime, a Google serial number or ISO text (2026-12-01); None if empty."""
    check_formula(value, label)
    if is_empty(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and 1 <= value <= _MAX_SERIAL:
            return GOOGLE_EPOCH + timedelta(days=int(value))
    if isinstance(value, str) and _ISO_DATE_RE.match(clean(value)):
        try:
            return date.fromisoformat(clean(value))
        except ValueError:
            pass
    raise Problem(f"{label} is {show(value)}; use a date cell or an ISO date like 2026-12-01")


def as_list(value: object, label: str, limit: int = LIMIT_TEXT * 5) -> tuple[str, ...]:
    """Items separated by commas, semicolons or newlines, trimmed, empties and repeats dropped.
    The one reading of a Mailboxes cell: `sync` and `check` both call it."""
    text = as_text(value, label, limit)
    items = (clean(part) for part in re.split(r"[,;\n]", text))
    return tuple(dict.fromkeys(item for item in items if item))


def digest(data: Any) -> str:
    """A stable content hash: sha256 of the sorted JSON, 32 hex digits."""
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("ascii")).hexdigest()[:32]
