"""Google Sheets request pieces: A1 notation, values:batchUpdate ranges, and the
spreadsheets.batchUpdate requests that build a tab for `sheetsync init`. Pure functions."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sheetsync.sheet.base import CellWrite, TabLayout, column_letter

GOOGLE_MAX_CELL_CHARS = 50_000


def quote_title(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def cell_out(v: str | int | float | bool | None) -> str | int | float | bool:
    if v is None:
        return ""  # RAW "" clears the cell
    if isinstance(v, str) and len(v) > GOOGLE_MAX_CELL_CHARS:
        return v[:GOOGLE_MAX_CELL_CHARS]
    return v


def write_ranges(cells: Sequence[CellWrite]) -> list[dict[str, Any]]:
    """Contiguous runs of cells on one row become one range; the last write to a cell wins."""
    last: dict[tuple[str, int, int], CellWrite] = {}
    for c in cells:
        last[(c.tab, c.row, c.col)] = c
    out: list[dict[str, Any]] = []
    run: list[CellWrite] = []

    def flush() -> None:
        if run:
            first, end = run[0], run[-1]
            q = quote_title(first.tab)
            rng = f"{q}!{column_letter(first.col)}{first.row}:{column_letter(end.col)}{end.row}"
            out.append({"range": rng, "values": [[cell_out(c.value) for c in run]]})
            run.clear()

    for key in sorted(last):
        c = last[key]
        if run and not (run[-1].tab == c.tab and run[-1].row == c.row and run[-1].col + 1 == c.col):
            flush()
        run.append(c)
    flush()
    return out


def new_sheet_id(rng: random.Random, used: set[int]) -> int:
    while True:
        candidate = rng.randint(1, 2_000_000_000)
        if candidate not in used:
            return candidate


def layout_requests(lay: TabLayout, sheet_id: int, rows: int, cols: int) -> list[dict[str, Any]]:
    reqs: list[dict[str, Any]] = [
        {
            "addSheet": {
                "properties": {
                    "sheetId": sheet_id,
                    "title": lay.title,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": rows, "columnCount": cols},
                }
            }
        },
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
                "fields": "gridProperties.frozenRowCount",
            }
        },
    ]
    for c in lay.checkbox_columns:
        reqs.append(
            {
                "setDataValidation": {
                    "range": col_range(sheet_id, c, start_row=1, end_row=rows),
                    "rule": {
                        "condition": {"type": "BOOLEAN"},
                        "strict": True,
                        "showCustomUi": True,
                    },
                }
            }
        )
    for c in lay.status_columns:
        reqs.append(
            {
                "addProtectedRange": {
                    "protectedRange": {
                        "range": col_range(sheet_id, c),
                        "description": lay.note,
                        "warningOnly": True,
                    }
                }
            }
        )
        reqs.append(
            {
                "updateCells": {
                    "rows": [{"values": [{"note": lay.note}]}],
                    "fields": "note",
                    "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": c},
                }
            }
        )
    return reqs


def col_range(
    sheet_id: int, c: int, *, start_row: int | None = None, end_row: int | None = None
) -> dict[str, int]:
    r: dict[str, int] = {"sheetId": sheet_id, "startColumnIndex": c, "endColumnIndex": c + 1}
    if start_row is not None:
        r["startRowIndex"] = start_row
    if end_row is not None:
        r["endRowIndex"] = end_row
    return r
