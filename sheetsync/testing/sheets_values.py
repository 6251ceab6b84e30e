"""The spreadsheets.values endpoints of the emulator: get, batchGet, update, batchUpdate,
append, clear, batchClear. Each function takes the Book and the request, returns the JSON body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sheetsync.testing.sheets_book import ApiFailure, Book, bad_request
from sheetsync.testing.sheets_grid import (
    A1Range,
    Cell,
    Tab,
    a1,
    col_letters,
    entered_cell,
    render,
    trim,
)
from sheetsync.testing.sheets_grid import quote_title as q

VALUE_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
DATE_OPTIONS = ("SERIAL_NUMBER", "FORMATTED_STRING")
INPUT_OPTIONS = ("RAW", "USER_ENTERED")
DIMENSIONS = ("ROWS", "COLUMNS")


def _choice(value: str | None, allowed: tuple[str, ...], name: str, default: str) -> str:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise bad_request(f"Invalid value at '{name}' (TYPE_ENUM), \"{value}\"")
    return value


def _grid_limits(tab: Tab, r0: int, c0: int, r1: int, c1: int) -> None:
    if r1 > tab.row_count or c1 > tab.col_count or r0 >= tab.row_count or c0 >= tab.col_count:
        raise bad_request(
            f"Range ('{tab.title.replace(chr(39), chr(39) * 2)}'!{a1(r0, c0, r1, c1)}) exceeds "
            f"grid limits. Max rows: {tab.row_count}, max columns: {tab.col_count}"
        )


def _clipped(tab: Tab, rng: A1Range) -> tuple[int, int, int, int]:
    r0, c0, r1, c1 = rng.bounds(tab)
    if r0 >= tab.row_count or c0 >= tab.col_count:
        _grid_limits(tab, r0, c0, max(r1, r0 + 1), max(c1, c0 + 1))
    return r0, c0, min(r1, tab.row_count), min(c1, tab.col_count)


def read_range(book: Book, text: str, params: dict[str, str]) -> dict[str, Any]:
    major = _choice(params.get("majorDimension"), DIMENSIONS, "major_dimension", "ROWS")
    vopt = _choice(
        params.get("valueRenderOption"), VALUE_OPTIONS, "value_render_option", "FORMATTED_VALUE"
    )
    dopt = _choice(
        params.get("dateTimeRenderOption"), DATE_OPTIONS, "date_time_render_option", "SERIAL_NUMBER"
    )
    tab, rng = book.parse_range(text)
    r0, c0, r1, c1 = _clipped(tab, rng)
    # Cells beyond the data are empty and trimmed away: render only up to the data's extent.
    rend = min(r1, len(tab.rows))
    if major == "ROWS":
        grid = [
            [render(tab.cell(r, c), vopt, dopt) for c in range(c0, min(c1, len(tab.rows[r])))]
            for r in range(r0, rend)
        ]
    else:
        cend = min(c1, max((len(tab.rows[r]) for r in range(r0, rend)), default=c0))
        grid = [
            [render(tab.cell(r, c), vopt, dopt) for r in range(r0, rend)] for c in range(c0, cend)
        ]
    out: dict[str, Any] = {"range": f"{q(tab.title)}!{a1(r0, c0, r1, c1)}", "majorDimension": major}
    values = trim(grid)
    if values:
        out["values"] = values
    return out


def batch_get(book: Book, ranges: list[str], params: dict[str, str]) -> dict[str, Any]:
    return {
        "spreadsheetId": book.spreadsheet_id,
        "valueRanges": [read_range(book, r, params) for r in ranges],
    }


def _rows_of(body: dict[str, Any], major: str | None) -> list[list[Any]]:
    values = body.get("values", [])
    if values is None:
        values = []
    if not isinstance(values, list) or any(not isinstance(r, list) for r in values):
        shown = values if isinstance(values, str) else "..."
        msg = (
            "Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), "
            f'"{shown}"'
        )
        violation = {"field": "data.values", "description": msg}
        raise ApiFailure(
            400,
            msg,
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [violation],
                }
            ],
        )
    major = _choice(major, DIMENSIONS, "data.major_dimension", "ROWS")
    if major == "COLUMNS":
        height = max((len(col) for col in values), default=0)
        return [[col[i] if i < len(col) else None for col in values] for i in range(height)]
    return values


def write_range(
    book: Book,
    text: str,
    body: dict[str, Any],
    option: str | None,
    formula_value: str,
    pending: list[Callable[[], None]] | None = None,
) -> dict[str, Any]:
    """values.update and one entry of values.batchUpdate. Everything is checked before a cell
    changes; with `pending` the change is queued there instead of made (batchUpdate applies
    all entries only once every one of them is valid)."""
    opt = _choice(option, INPUT_OPTIONS, "value_input_option", "")
    if not opt:
        raise bad_request("'valueInputOption' is required but not specified")
    tab, rng = book.parse_range(text)
    rows = _rows_of(body, body.get("majorDimension"))
    r0, c0, r1, c1 = rng.bounds(tab)
    nrows = len(rows)
    ncols = max((len(r) for r in rows), default=0)
    single = r1 - r0 == 1 and c1 - c0 == 1  # one cell is only the start of the write
    if not rng.whole and not single and rng.r1 is not None and rng.c1 is not None:
        if nrows > r1 - r0:
            raise bad_request(
                f"Requested writing within range [{text}], but tried writing to row [{r0 + nrows}]"
            )
        if ncols > c1 - c0:
            raise bad_request(
                f"Requested writing within range [{text}], but tried writing to column "
                f"[{col_letters(c0 + ncols - 1)}]"
            )
    if nrows == 0 or ncols == 0:
        return {
            "spreadsheetId": book.spreadsheet_id,
            "updatedRange": f"{q(tab.title)}!{a1(r0, c0, r0 + 1, c0 + 1)}",
        }
    _grid_limits(tab, r0, c0, r0 + nrows, c0 + ncols)
    cells = _parse(rows, opt, formula_value)
    if pending is None:
        _store(tab, r0, c0, cells)
    else:
        pending.append(lambda: _store(tab, r0, c0, cells))
    return {
        "spreadsheetId": book.spreadsheet_id,
        "updatedRange": f"{q(tab.title)}!{a1(r0, c0, r0 + nrows, c0 + ncols)}",
        "updatedRows": nrows,
        "updatedColumns": ncols,
        "updatedCells": sum(len(r) for r in rows),
    }


def _parse(rows: list[list[Any]], opt: str, fv: str) -> list[list[Cell | None]]:
    try:
        return [[entered_cell(v, opt, formula_value=fv) for v in row] for row in rows]
    except ValueError as e:
        raise bad_request(str(e)) from None


def _store(tab: Tab, r0: int, c0: int, parsed: list[list[Cell | None]]) -> None:
    for i, row in enumerate(parsed):
        for j, cell in enumerate(row):
            if cell is not None:
                tab.put(r0 + i, c0 + j, cell)


def batch_update(book: Book, body: dict[str, Any], formula_value: str) -> dict[str, Any]:
    opt = body.get("valueInputOption")
    data = body.get("data") or []
    if not isinstance(data, list):
        raise bad_request("Invalid value at 'data'")
    responses = []
    pending: list[Callable[[], None]] = []
    rows: set[tuple[int, int]] = set()
    cols: set[tuple[int, int]] = set()
    sheets: set[int] = set()
    cells = 0
    for entry in data:
        if not isinstance(entry, dict) or "range" not in entry:
            raise bad_request("Invalid data[]: a ValueRange needs a range")
        resp = write_range(book, entry["range"], entry, opt, formula_value, pending)
        responses.append(resp)
        if "updatedRows" in resp:
            tab, rng = book.parse_range(entry["range"])
            r0, c0, _, _ = rng.bounds(tab)
            sheets.add(tab.sheet_id)
            rows.update((tab.sheet_id, r) for r in range(r0, r0 + resp["updatedRows"]))
            cols.update((tab.sheet_id, c) for c in range(c0, c0 + resp["updatedColumns"]))
            cells += resp["updatedCells"]
    for apply in pending:
        apply()
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if responses:
        out.update(
            totalUpdatedRows=len(rows),
            totalUpdatedColumns=len(cols),
            totalUpdatedCells=cells,
            totalUpdatedSheets=len(sheets),
            responses=responses,
        )
    return out


def _table(tab: Tab, r0: int, c0: int, r1: int, c1: int) -> tuple[int, int, int, int] | None:
    """Google's "table" for append: the block of connected non-empty cells holding the last
    non-empty cell of the searched range (bounds half-open), or None when the range is empty."""
    last: tuple[int, int] | None = None
    for r in range(min(r1, len(tab.rows)) - 1, r0 - 1, -1):
        row = tab.rows[r]
        for c in range(min(c1, len(row)) - 1, c0 - 1, -1):
            cell = row[c]
            if cell is not None and not cell.empty:
                last = (r, c)
                break
        if last:
            break
    if last is None:
        return None
    seen = {last}
    todo = [last]
    while todo:
        r, c = todo.pop()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if nr < 0 or nc < 0 or (nr, nc) in seen:
                continue
            cell = tab.cell(nr, nc)
            if cell is not None and not cell.empty:
                seen.add((nr, nc))
                todo.append((nr, nc))
    rs = [r for r, _ in seen]
    cs = [c for _, c in seen]
    return min(rs), min(cs), max(rs) + 1, max(cs) + 1


def append(
    book: Book, text: str, body: dict[str, Any], params: dict[str, str], formula_value: str
) -> dict[str, Any]:
    opt = _choice(params.get("valueInputOption"), INPUT_OPTIONS, "value_input_option", "")
    if not opt:
        raise bad_request("'valueInputOption' is required but not specified")
    insert = _choice(
        params.get("insertDataOption"),
        ("OVERWRITE", "INSERT_ROWS"),
        "insert_data_option",
        "OVERWRITE",
    )
    tab, rng = book.parse_range(text)
    r0, c0, r1, c1 = _clipped(tab, rng)
    rows = _rows_of(body, body.get("majorDimension"))
    nrows = len(rows)
    ncols = max((len(r) for r in rows), default=0)
    cells = _parse(rows, opt, formula_value)
    found = _table(tab, r0, c0, r1, c1)
    out: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id}
    if found is None:
        at_r, at_c = r0, c0
    else:
        out["tableRange"] = f"{q(tab.title)}!{a1(*found)}"
        at_r, at_c = found[2], found[1]
    if nrows and ncols:
        if insert == "INSERT_ROWS":
            tab.insert_rows(at_r, nrows)
        if at_r + nrows > tab.row_count:
            tab.row_count = at_r + nrows
        if at_c + ncols > tab.col_count:
            tab.col_count = at_c + ncols
        _store(tab, at_r, at_c, cells)
    written = f"{q(tab.title)}!{a1(at_r, at_c, at_r + max(nrows, 1), at_c + max(ncols, 1))}"
    updates: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id, "updatedRange": written}
    if nrows and ncols:
        updates.update(
            updatedRows=nrows, updatedColumns=ncols, updatedCells=sum(len(r) for r in rows)
        )
    if str(params.get("includeValuesInResponse", "")).lower() == "true":
        updates["updatedData"] = read_range(
            book,
            written,
            {"valueRenderOption": params.get("responseValueRenderOption", "FORMATTED_VALUE")},
        )
    out["updates"] = updates
    return out


def clear(book: Book, text: str) -> str:
    tab, rng = book.parse_range(text)
    r0, c0, r1, c1 = _clipped(tab, rng)
    tab.clear_values(r0, r1, c0, c1)
    return f"{q(tab.title)}!{a1(r0, c0, r1, c1)}"


def batch_clear(book: Book, body: dict[str, Any]) -> dict[str, Any]:
    ranges = body.get("ranges") or []
    if not isinstance(ranges, list):
        raise bad_request("Invalid value at 'ranges'")
    for text in ranges:  # check every range before clearing any
        _clipped(*book.parse_range(text))
    return {"spreadsheetId": book.spreadsheet_id, "clearedRanges": [clear(book, r) for r in ranges]}


__all__ = [
    "Cell",
    "append",
    "batch_clear",
    "batch_get",
    "batch_update",
    "clear",
    "read_range",
    "write_range",
]
