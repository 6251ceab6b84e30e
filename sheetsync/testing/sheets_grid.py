"""Cells, tabs and A1 ranges of the Sheets emulator: how Google stores, parses and renders values.

Test-only code (see sheetsync/testing/__init__.py). Row and column indexes here are 0-based.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

Scalar = str | int | float | bool
EPOCH = datetime(1899, 12, 30)  # noqa: DTZ001 - Sheets serial numbers are naive local days
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


class RangeError(ValueError):
    """A range the real API refuses; `message` is Google's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Cell:
    value: Scalar | None = None  # the computed value (a formula's result, a date's serial)
    formula: str | None = None  # "=…" as entered
    number_format: str | None = None  # DATE_FORMAT / DATETIME_FORMAT for date cells
    error: bool = False  # value is an error text like "#REF!"
    note: str | None = None
    validation: dict[str, Any] | None = None  # a setDataValidation rule

    @property
    def empty(self) -> bool:
        return self.value is None or self.value == ""

    def copy(self) -> Cell:
        return Cell(
            self.value, self.formula, self.number_format, self.error, self.note, self.validation
        )


@dataclass
class Tab:
    sheet_id: int
    title: str
    row_count: int = 1000
    col_count: int = 26
    frozen_rows: int = 0
    frozen_cols: int = 0
    rows: list[list[Cell | None]] = field(default_factory=list)  # only up to the data extent

    def cell(self, r: int, c: int) -> Cell | None:
        if r < len(self.rows) and c < len(self.rows[r]):
            return self.rows[r][c]
        return None

    def ensure(self, r: int, c: int) -> Cell:
        while len(self.rows) <= r:
            self.rows.append([])
        row = self.rows[r]
        while len(row) <= c:
            row.append(None)
        cell = row[c]
        if cell is None:
            cell = row[c] = Cell()
        return cell

    def put(self, r: int, c: int, new: Cell) -> None:
        """Store the value parts of `new` at (r, c), keeping the cell's note and validation."""
        cell = self.ensure(r, c)
        cell.value, cell.formula = new.value, new.formula
        cell.number_format, cell.error = new.number_format, new.error

    def clear_values(self, r0: int, r1: int, c0: int, c1: int) -> None:
        for r in range(r0, min(r1, len(self.rows))):
            for c in range(c0, min(c1, len(self.rows[r]))):
                cell = self.rows[r][c]
                if cell is not None:
                    cell.value, cell.formula, cell.number_format, cell.error = (
                        None,
                        None,
                        None,
                        False,
                    )

    def insert_rows(self, at: int, count: int) -> None:
        if at < len(self.rows):
            self.rows[at:at] = [[] for _ in range(count)]
        self.row_count += count

    def delete_rows(self, start: int, count: int) -> None:
        del self.rows[start : start + count]
        self.row_count -= min(count, max(0, self.row_count - start))

    def insert_cols(self, at: int, count: int) -> None:
        for row in self.rows:
            if at < len(row):
                row[at:at] = [None] * count
        self.col_count += count

    def delete_cols(self, start: int, count: int) -> None:
        for row in self.rows:
            del row[start : start + count]
        self.col_count -= min(count, max(0, self.col_count - start))


# --- A1 notation -------------------------------------------------------------------------------

_A1 = re.compile(r"^([A-Za-z]{1,3})?([0-9]+)?(?::([A-Za-z]{1,3})?([0-9]+)?)?$")
_SIMPLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CELLISH = re.compile(r"^([A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*)$")


def col_letters(c: int) -> str:
    s = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        s = chr(65 + rem) + s
    return s


def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def quote_title(title: str) -> str:
    """How Google echoes a sheet name: bare when it is a plain word, else quoted."""
    if _SIMPLE_NAME.match(title) and not _CELLISH.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def a1(r0: int, c0: int, r1: int, c1: int) -> str:
    """Half-open bounds → "A1" for one cell, else "A1:C5"."""
    first = f"{col_letters(c0)}{r0 + 1}"
    if r1 - r0 == 1 and c1 - c0 == 1:
        return first
    return f"{first}:{col_letters(c1 - 1)}{r1}"


@dataclass(frozen=True)
class A1Range:
    """A parsed range: the tab title and optional bounds (None = open side, 0-based, end
    exclusive). `whole` is True when the range named only a tab."""

    title: str
    r0: int | None = None
    c0: int | None = None
    r1: int | None = None
    c1: int | None = None
    whole: bool = False

    def bounds(self, tab: Tab) -> tuple[int, int, int, int]:
        """Bounds resolved against the tab's grid size (not clipped)."""
        r0 = self.r0 or 0
        c0 = self.c0 or 0
        r1 = tab.row_count if self.r1 is None else self.r1
        c1 = tab.col_count if self.c1 is None else self.c1
        return r0, c0, r1, c1


def split_range(text: str) -> tuple[str | None, str | None]:
    """'My Tab'!A1:B2 → ("My Tab", "A1:B2"); 'Tab' → ("Tab", None); A1:B2 → (None, "A1:B2")
    when there is no sheet part. Raises RangeError for an unterminated quote."""
    bad = RangeError(f"Unable to parse range: {text}")
    if text.startswith("'"):
        i, name = 1, []
        while True:
            if i >= len(text):
                raise bad
            ch = text[i]
            if ch == "'":
                if text[i + 1 : i + 2] == "'":
                    name.append("'")
                    i += 2
                    continue
                break
            name.append(ch)
            i += 1
        rest = text[i + 1 :]
        if rest == "":
            return "".join(name), None
        if not rest.startswith("!"):
            raise bad
        return "".join(name), rest[1:]
    if "!" in text:
        title, _, cells = text.rpartition("!")
        return title, cells
    return None, text


def parse_cells(title: str, cells: str, source: str) -> A1Range:
    m = _A1.match(cells)
    bad = RangeError(f"Unable to parse range: {source}")
    if not m or not (m.group(1) or m.group(2)):
        raise bad
    c_a, r_a, c_b, r_b = m.groups()
    has_colon = ":" in cells
    if has_colon and not (c_b or r_b):
        raise bad
    if not has_colon:
        if not (c_a and r_a):  # "A" or "1" alone is not a range
            raise bad
        r, c = int(r_a) - 1, col_index(c_a)
        if r < 0:
            raise bad
        return A1Range(title, r, c, r + 1, c + 1)
    if (c_a is None) != (c_b is None) and not (c_a and r_a):
        # "1:B" / "A:2" are not ranges; "A1:B" and "A1:2" are (open on one side).
        raise bad
    if r_a is None and r_b is not None and c_a is not None:
        raise bad  # "A:B2"
    ra = int(r_a) - 1 if r_a else None
    rb = int(r_b) if r_b else None
    ca = col_index(c_a) if c_a else None
    cb = col_index(c_b) + 1 if c_b else None
    if (ra is not None and ra < 0) or rb == 0:
        raise bad
    # Normalise reversed corners like Sheets does (B2:A1 == A1:B2).
    if ra is not None and rb is not None and rb <= ra:
        ra, rb = rb - 1, ra + 1
    if ca is not None and cb is not None and cb <= ca:
        ca, cb = cb - 1, ca + 1
    return A1Range(title, ra, ca, rb, cb)


# --- values in and out -------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_ISO_DATETIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?$")


def to_serial(value: date | datetime) -> float:
    if isinstance(value, datetime):
        delta = value.replace(tzinfo=None) - EPOCH
        return delta.days + delta.seconds / 86400
    return float((value - EPOCH.date()).days)


def from_serial(serial: float) -> datetime:
    return EPOCH + timedelta(days=serial)


def number(v: float) -> int | float:
    """JSON-shaped number: 2.0 → 2 (Google sends integral values without a fraction)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v


def python_cell(value: object, *, formula_value: str) -> Cell:
    """A cell from a Python value given to create_spreadsheet/set_values/set_cell."""
    if value is None or value == "":
        return Cell()
    if isinstance(value, bool):
        return Cell(value)
    if isinstance(value, int | float):
        return Cell(value)
    if isinstance(value, datetime):
        return Cell(number(to_serial(value)), number_format=DATETIME_FORMAT)
    if isinstance(value, date):
        return Cell(number(to_serial(value)), number_format=DATE_FORMAT)
    if isinstance(value, str):
        if value.startswith("="):
            return formula_cell(value, formula_value)
        return Cell(value)
    raise TypeError(f"unsupported cell value {value!r}: use str, int, float, bool, date or None")


def entered_cell(value: object, option: str, *, formula_value: str) -> Cell | None:
    """A cell from a JSON value written with valueInputOption RAW or USER_ENTERED.
    None means "leave the cell as it is" (the API skips nulls)."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return Cell(value)
    if not isinstance(value, str):
        raise ValueError(f"Invalid values: {value!r}")
    if value == "":
        return Cell()
    if option == "RAW":
        return Cell(value)
    if value.startswith("'"):
        return Cell(value[1:])
    if value.startswith("=") and len(value) > 1:
        return formula_cell(value, formula_value)
    text = value.strip()
    if _NUMBER.match(text.replace(",", "")) and not text.startswith(","):
        f = float(text.replace(",", ""))
        return Cell(number(f) if "." not in text and "e" not in text.lower() else f)
    if text.endswith("%") and _NUMBER.match(text[:-1]):
        return Cell(float(text[:-1]) / 100)
    if text.upper() in ("TRUE", "FALSE"):
        return Cell(text.upper() == "TRUE")
    m = _ISO_DATE.match(text)
    if m:
        try:
            d = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return Cell(value)
        return Cell(number(to_serial(d)), number_format=DATE_FORMAT)
    m = _ISO_DATETIME.match(text)
    if m:
        try:
            dt = datetime(  # noqa: DTZ001 - spreadsheet-local time
                int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0)
            )
        except ValueError:
            return Cell(value)
        return Cell(number(to_serial(dt)), number_format=DATETIME_FORMAT)
    return Cell(value)


_OPS: dict[type, Callable[..., Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _arith(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _arith(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise ValueError("not a number")
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_arith(node.left), _arith(node.right)))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
        return float(_OPS[type(node.op)](_arith(node.operand)))
    raise ValueError("not arithmetic")


def formula_cell(formula: str, formula_value: str) -> Cell:
    """Constant arithmetic (=4/2, =1+1) is computed; any other formula is opaque and reads as
    `formula_value` (an error text such as "#ERROR!")."""
    expr = formula[1:].replace("^", "**")
    if re.fullmatch(r"[0-9.+\-*/() ]+", expr):
        try:
            result = _arith(ast.parse(expr, mode="eval"))
        except (ValueError, SyntaxError, ZeroDivisionError, OverflowError):
            return Cell("#DIV/0!" if "/0" in expr else "#ERROR!", formula=formula, error=True)
        if math.isfinite(result):
            return Cell(number(result), formula=formula)
    return Cell(formula_value, formula=formula, error=formula_value.startswith("#"))


def format_number(v: int | float) -> str:
    if isinstance(v, int) or (v.is_integer() and abs(v) < 1e15):
        return str(int(v))
    text = f"{v:.15g}"
    if "e" in text:
        return text.upper().replace("E+", "E+")
    return text


def format_date(serial: float, fmt: str) -> str:
    dt = from_serial(serial)
    if fmt == DATE_FORMAT:
        return dt.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def render(cell: Cell | None, value_option: str, date_option: str) -> Scalar:
    """One cell as values.get answers it ("" for an empty cell)."""
    if cell is None or cell.empty:
        return ""
    v = cell.value
    assert v is not None
    if value_option == "FORMULA" and cell.formula is not None:
        return cell.formula
    if isinstance(v, str) and _is_checkbox(cell) and v.upper() in ("TRUE", "FALSE"):
        v = v.upper() == "TRUE"  # a checkbox holds a boolean whatever was typed into it
    if cell.error or isinstance(v, str):
        return v
    if isinstance(v, bool):
        if value_option == "FORMATTED_VALUE":
            return "TRUE" if v else "FALSE"
        return v
    if cell.number_format and (value_option == "FORMATTED_VALUE" or date_option != "SERIAL_NUMBER"):
        return format_date(v, cell.number_format)
    if value_option == "FORMATTED_VALUE":
        return format_number(v)
    return number(v)


def _is_checkbox(cell: Cell) -> bool:
    rule = cell.validation or {}
    return bool((rule.get("condition") or {}).get("type") == "BOOLEAN")


def stored(cell: Cell | None) -> Scalar | date | datetime:
    """The cell as entered, for SheetsEmulator.values() assertions."""
    if cell is None or cell.empty:
        return ""
    if cell.formula is not None:
        return cell.formula
    v = cell.value
    assert v is not None
    if cell.number_format and isinstance(v, int | float) and not isinstance(v, bool):
        dt = from_serial(v)
        return dt.date() if cell.number_format == DATE_FORMAT else dt
    return v


def trim(rows: list[list[Any]]) -> list[list[Any]]:
    """Drop trailing "" of each row and trailing empty rows, like the API does."""
    out: list[list[Any]] = []
    for row in rows:
        end = len(row)
        while end and row[end - 1] == "":
            end -= 1
        out.append(row[:end])
    while out and not out[-1]:
        out.pop()
    return out


def sort_key(cell: Cell | None) -> tuple[int, Any]:
    """Sheets' sort order: numbers, then text (case-insensitive), then booleans, errors."""
    if cell is None or cell.empty:
        return (9, 0)
    v = cell.value
    if cell.error:
        return (4, str(v))
    if isinstance(v, bool):
        return (3, v)
    if isinstance(v, int | float):
        return (1, v)
    return (2, str(v).lower())
