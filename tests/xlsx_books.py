"""Workbooks as Excel saves them, for the xlsx tests: formulas WITH their cached results and
text in the shared strings part (written by XlsxWriter, which stores the result it is given the
way Excel stores the one it computed), and what a workbook holds, read around sheetsync."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import xlsxwriter


@dataclass(frozen=True)
class F:
    """A formula cell and the result Excel cached for it."""

    formula: str
    value: str | int | float | bool


def literal(value: str | int | float | bool) -> F:
    """The value as a formula that computes it: "x" -> ="x", 3 -> =3, True -> =TRUE()."""
    if isinstance(value, bool):
        return F("=TRUE()" if value else "=FALSE()", value)
    if isinstance(value, int | float):
        return F(f"={value}", value)
    return F('="' + value.replace('"', '""') + '"', value)


def excel_book(path: Path, tabs: dict[str, list[list[Any]]]) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    for title, rows in tabs.items():
        ws = wb.add_worksheet(title)
        for r, row in enumerate(rows):
            for c, v in enumerate(row):
                if isinstance(v, F):
                    ws.write_formula(r, c, v.formula, None, v.value)
                elif v is not None:
                    ws.write(r, c, v)
    wb.close()
    return path


def cells(path: Path) -> dict[str, dict[str, tuple[object, object]]]:
    """Per tab, every non-empty cell as (what it holds: a formula or a value, what it shows:
    the cached result or the value), read with openpyxl."""
    held = openpyxl.load_workbook(path)
    shown = openpyxl.load_workbook(path, data_only=True)
    out: dict[str, dict[str, tuple[object, object]]] = {}
    for ws in held.worksheets:
        tab: dict[str, tuple[object, object]] = {}
        for row in ws.iter_rows():
            for cell in row:
                if cell.value is not None:
                    tab[cell.coordinate] = (cell.value, shown[ws.title][cell.coordinate].value)
        out[ws.title] = tab
    return out


def formulas(path: Path) -> dict[str, dict[str, tuple[object, object]]]:
    """`cells` of the formula cells only."""
    return {
        tab: {k: v for k, v in found.items() if str(v[0]).startswith("=")}
        for tab, found in cells(path).items()
    }
