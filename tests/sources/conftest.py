"""Two backends behind one harness: google (the real GoogleSource, gspread and requests code paths
against the Sheets emulator on 127.0.0.1, auth = "token") and xlsx (a real workbook in tmp_path).

The harness seeds a spreadsheet, reads what is really stored there (bypassing the source), and
edits it the way a person would (sort, insert, delete rows) between two requests of a cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from sheetsync.clock import FakeClock
from sheetsync.config import GoogleConfig, Secret, SheetConfig
from sheetsync.sheet.base import SheetSource
from sheetsync.sheet.connect import open_source
from sheetsync.sheet.google.source import GoogleSource
from sheetsync.testing.sheets_emulator import SheetsEmulator

TOKEN = "emulator-token-do-not-print"
EPOCH = date(1899, 12, 30)


def serial(d: date) -> int:
    return (d - EPOCH).days


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[SheetsEmulator]:
    with SheetsEmulator(clock=clock, read_quota_per_min=10_000, write_quota_per_min=10_000) as emu:
        yield emu


def google_config(emu: SheetsEmulator, token: str = TOKEN) -> GoogleConfig:
    return GoogleConfig(auth="token", token=Secret(token), sheets_base_url=emu.base_url)


def sheet_config(source: str, spreadsheet: str) -> SheetConfig:
    return SheetConfig(name="t", source=source, spreadsheet=spreadsheet)  # type: ignore[arg-type]


class Backend:
    name: str
    max_cell_chars: int
    source: SheetSource

    def make(self, tabs: dict[str, list[list[Any]]]) -> SheetSource:
        raise NotImplementedError

    def stored(self, tab: str) -> list[list[Any]]:
        """The tab's cells as stored, read around the source."""
        raise NotImplementedError

    def edit(self, fn: Callable[[], None]) -> None:
        """Run a person's edit right before the source's next read request."""
        raise NotImplementedError

    def sort_rows(self, tab: str, column: int) -> None:
        raise NotImplementedError

    def insert_rows(self, tab: str, at_row: int, rows: list[list[Any]]) -> None:
        raise NotImplementedError

    def delete_rows(self, tab: str, start_row: int, count: int = 1) -> None:
        raise NotImplementedError

    def date_cell(self, d: date) -> Any:
        """How a date cell reads through this backend's source."""
        raise NotImplementedError


class GoogleBackend(Backend):
    name = "google"
    max_cell_chars = 50_000

    def __init__(self, emu: SheetsEmulator, clock: FakeClock) -> None:
        self.emu = emu
        self.clock = clock
        self.sid = ""
        self.sources: list[GoogleSource] = []

    def make(self, tabs: dict[str, list[list[Any]]]) -> SheetSource:
        self.sid = self.emu.create_spreadsheet(tabs)
        src = open_source(
            sheet_config("google", self.sid), google_config(self.emu), clock=self.clock
        )
        assert isinstance(src, GoogleSource)
        self.sources.append(src)
        self.source = src
        return src

    def stored(self, tab: str) -> list[list[Any]]:
        return self.emu.values(self.sid, tab)

    def edit(self, fn: Callable[[], None]) -> None:
        def hook(kind: str, emu: SheetsEmulator) -> None:
            if kind == "values.batchGet":
                emu.hook = None
                fn()

        self.emu.hook = hook

    def sort_rows(self, tab: str, column: int) -> None:
        self.emu.sort_rows(self.sid, tab, column)

    def insert_rows(self, tab: str, at_row: int, rows: list[list[Any]]) -> None:
        self.emu.insert_rows(self.sid, tab, at_row, rows)

    def delete_rows(self, tab: str, start_row: int, count: int = 1) -> None:
        self.emu.delete_rows(self.sid, tab, start_row, count)

    def date_cell(self, d: date) -> Any:
        return serial(d)

    def close(self) -> None:
        for s in self.sources:
            s.close()


class XlsxBackend(Backend):
    name = "xlsx"
    max_cell_chars = 32_767

    def __init__(self, folder: Path) -> None:
        self.path = folder / "book.xlsx"

    def make(self, tabs: dict[str, list[list[Any]]]) -> SheetSource:
        wb = Workbook()
        wb.remove(wb.active)
        for title, rows in tabs.items():
            ws = wb.create_sheet(title)
            for r, row in enumerate(rows, start=1):
                for c, v in enumerate(row, start=1):
                    if v is not None and v != "":
                        ws.cell(row=r, column=c, value=v)
        wb.save(self.path)
        src = open_source(sheet_config("xlsx", str(self.path)), GoogleConfig())
        self.source = src
        return src

    def stored(self, tab: str) -> list[list[Any]]:
        wb = load_workbook(self.path)
        rows = [list(r) for r in wb[tab].iter_rows(values_only=True)]
        wb.close()
        rows = [
            r[: max((i + 1 for i, v in enumerate(r) if v is not None), default=0)] for r in rows
        ]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def edit(self, fn: Callable[[], None]) -> None:
        fn()  # the xlsx source reads the file afresh on every call

    def _rewrite(self, tab: str, change: Callable[[list[list[Any]]], list[list[Any]]]) -> None:
        wb = load_workbook(self.path)
        ws = wb[tab]
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        new = change(rows)
        ws.delete_rows(1, ws.max_row)
        for r, row in enumerate(new, start=1):
            for c, v in enumerate(row, start=1):
                if v is not None:
                    ws.cell(row=r, column=c, value=v)
        wb.save(self.path)

    def sort_rows(self, tab: str, column: int) -> None:
        def key(r: list[Any]) -> tuple[int, str]:
            v = r[column] if column < len(r) else None
            return (1, "") if v is None else (0, str(v))

        self._rewrite(tab, lambda rows: rows[:1] + sorted(rows[1:], key=key))

    def insert_rows(self, tab: str, at_row: int, rows: list[list[Any]]) -> None:
        self._rewrite(tab, lambda old: old[: at_row - 1] + rows + old[at_row - 1 :])

    def delete_rows(self, tab: str, start_row: int, count: int = 1) -> None:
        self._rewrite(tab, lambda old: old[: start_row - 1] + old[start_row - 1 + count :])

    def date_cell(self, d: date) -> Any:
        return datetime.combine(d, time())  # naive, as xlsx stores it


@pytest.fixture(params=["xlsx", "google"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Backend]:
    if request.param == "xlsx":
        yield XlsxBackend(tmp_path)
        return
    emu = request.getfixturevalue("emulator")
    gb = GoogleBackend(emu, clock)
    try:
        yield gb
    finally:
        gb.close()
