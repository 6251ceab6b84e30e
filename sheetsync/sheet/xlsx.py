"""An xlsx workbook as a sheet source, through openpyxl.

Reading opens the workbook read-only with ``data_only=True``: a formula cell reads as the value
Excel or LibreOffice cached when the file was last saved there (openpyxl never evaluates
formulas; a workbook written only by openpyxl has no cached values, so its formulas read as
empty). Dates read as ``datetime``, booleans as ``bool``, numbers as ``int``/``float``.

Writing loads the full workbook (formulas kept as formulas), sets the cells, and saves to a
temporary file beside the workbook, fsyncs it and renames it over the original: a crash mid-save
leaves the old workbook intact. Every string is stored as a string (``=SUM(A1)`` stays text).
Nothing is cached between calls: the marketer may edit the file between polls.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from sheetsync.errors import (
    SheetError,
    SheetNotFound,
    SheetPermission,
    SheetUnavailable,
    TabNotFound,
)
from sheetsync.sheet.base import (
    CellValue,
    CellWrite,
    KeyColumns,
    RequestCounts,
    Row,
    SheetData,
    TabLayout,
    match_titles,
    trim_row,
    trim_rows,
)

EXCEL_MAX_CELL_CHARS = 32_767  # Excel refuses longer cells; longer strings are cut to fit
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters xlsx cannot hold


class XlsxSource:
    """A local .xlsx workbook. Each read, read_keys and write counts as one request."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.counts = RequestCounts()

    @property
    def label(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"XlsxSource({str(self.path)!r})"

    # --- reading ---------------------------------------------------------------------------

    def close(self) -> None:
        """Nothing to release: the workbook is opened and closed by each read and write."""

    def read(self, tabs: Sequence[str]) -> SheetData:
        self.counts.count("xlsx.read", write=False)
        with self._open(read_only=True) as wb:
            titles = list(wb.sheetnames)
            out: dict[str, list[Row]] = {}
            for tab in match_titles(tabs, titles):
                if tab in titles:
                    ws = wb[tab]
                    ws.reset_dimensions()  # trust the cells, not the file's <dimension> tag
                    out[tab] = trim_rows([_row(r) for r in ws.iter_rows(values_only=True)])
        return SheetData(tabs=out, titles=titles)

    def read_keys(self, columns: Mapping[str, Sequence[int]]) -> dict[str, KeyColumns]:
        self.counts.count("xlsx.read_keys", write=False)
        out: dict[str, KeyColumns] = {}
        with self._open(read_only=True) as wb:
            for tab, cols in columns.items():
                if tab not in wb.sheetnames:
                    continue
                ws = wb[tab]
                ws.reset_dimensions()
                rows = [_row(r) for r in ws.iter_rows(values_only=True)]
                header = trim_row(rows[0]) if rows else []
                values: dict[int, list[CellValue]] = {}
                for c in cols:
                    col = [_blank_none(r[c]) if c < len(r) else None for r in rows[1:]]
                    while col and col[-1] is None:
                        col.pop()
                    values[c] = col
                out[tab] = KeyColumns(header=header, columns=values)
        return out

    # --- writing ---------------------------------------------------------------------------

    def write(self, cells: Sequence[CellWrite]) -> None:
        if not cells:
            return
        self._check_not_open_elsewhere()
        self.counts.count("xlsx.write", write=True)
        with self._open(read_only=False) as wb:
            for cw in cells:
                if cw.tab not in wb.sheetnames:
                    raise TabNotFound(cw.tab, list(wb.sheetnames), sheet=self.label)
                if cw.row < 1 or cw.col < 0:
                    raise ValueError(f"bad cell address row={cw.row} col={cw.col}")
                _set(wb[cw.tab].cell(row=cw.row, column=cw.col + 1), cw.value)
            self._save(wb)

    def create_tabs(self, layouts: Sequence[TabLayout]) -> list[str]:
        """Create the missing tabs; creates the workbook itself when it does not exist yet."""
        self._check_not_open_elsewhere()
        new_book = not self.path.exists()
        wb: Workbook
        with contextlib.ExitStack() as stack:
            if new_book:
                wb = Workbook()
                placeholder = wb.active
            else:
                wb = stack.enter_context(self._open(read_only=False))
                placeholder = None
            created: list[str] = []
            for layout in layouts:
                if layout.title in wb.sheetnames:
                    continue
                _build_tab(wb, layout)
                created.append(layout.title)
            if not created:
                return []
            if placeholder is not None:
                wb.remove(placeholder)
            self.counts.count("xlsx.create_tabs", write=True)
            self._save(wb)
        return created

    # --- file handling ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _open(self, *, read_only: bool) -> Iterator[Workbook]:
        try:
            with warnings.catch_warnings():
                # openpyxl warns about Excel extensions it drops (x14 validations, slicers...)
                warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
                wb = load_workbook(self.path, read_only=read_only, data_only=read_only)
        except FileNotFoundError:
            raise SheetNotFound(
                f"workbook {self.label} not found; check the path in [[sheet]] spreadsheet, "
                f"or create it with `sheetsync init`",
                sheet=self.label,
            ) from None
        except PermissionError:
            raise SheetPermission(
                f"cannot open workbook {self.label}: permission denied; close it in Excel if "
                f"it is open there, or give sheetsync's user read and write access to the file",
                sheet=self.label,
            ) from None
        except IsADirectoryError:
            raise SheetError(
                f"{self.label} is a folder, not an .xlsx workbook; point [[sheet]] spreadsheet "
                f"at the .xlsx file",
                sheet=self.label,
            ) from None
        except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
            raise SheetError(
                f"{self.label} is not a readable .xlsx workbook ({type(exc).__name__}: {exc}); "
                f"open it in Excel or LibreOffice and save it as .xlsx, or restore a backup",
                sheet=self.label,
            ) from None
        try:
            yield wb
        finally:
            wb.close()

    def _lock_files(self) -> list[Path]:
        name = self.path.name
        return [
            self.path.with_name("~$" + name),  # Excel
            self.path.with_name(f".~lock.{name}#"),  # LibreOffice
        ]

    def _check_not_open_elsewhere(self) -> None:
        for lock in self._lock_files():
            if lock.exists():
                raise SheetUnavailable(
                    f"workbook {self.label} is open in another program (lock file {lock.name}); "
                    f"close it there so sheetsync can write, or the edits of one of you are "
                    f"lost. sheetsync tries again on the next poll.",
                    sheet=self.label,
                )

    def _save(self, wb: Workbook) -> None:
        """Atomic save: temp file in the same folder, fsync, rename over the workbook."""
        tmp = self.path.with_name(f".{self.path.name}.sheetsync-tmp")
        try:
            with open(tmp, "wb") as fh:
                wb.save(fh)
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileNotFoundError):
                os.chmod(tmp, stat.S_IMODE(os.stat(self.path).st_mode))
            os.replace(tmp, self.path)
        except PermissionError:
            _unlink(tmp)
            raise SheetPermission(
                f"cannot save workbook {self.label}: permission denied; close it in Excel if "
                f"it is open there, or give sheetsync write access to the file and its folder",
                sheet=self.label,
            ) from None
        except OSError as exc:
            _unlink(tmp)
            raise SheetError(
                f"cannot save workbook {self.label}: {exc.strerror or exc}; the workbook was "
                f"left as it was. Check the disk space and the folder's permissions.",
                sheet=self.label,
            ) from None
        except BaseException:
            _unlink(tmp)
            raise
        _fsync_dir(self.path.parent)


def _build_tab(wb: Workbook, layout: TabLayout) -> None:
    ws = wb.create_sheet(layout.title)
    for i, header in enumerate(layout.headers):
        _set(ws.cell(row=1, column=i + 1), header)
    ws.freeze_panes = "A2"
    if layout.checkbox_columns:
        dv = DataValidation(type="list", formula1='"TRUE,FALSE"', allow_blank=True)
        for c in layout.checkbox_columns:
            letter = get_column_letter(c + 1)
            dv.add(f"{letter}2:{letter}1048576")
        ws.add_data_validation(dv)
    for c in layout.status_columns:
        ws.cell(row=1, column=c + 1).comment = Comment(layout.note, "sheetsync")


def _set(cell: Any, value: CellValue) -> None:
    if isinstance(value, str):
        text = _ILLEGAL.sub("", value)[:EXCEL_MAX_CELL_CHARS]
        cell.value = text
        cell.data_type = "s"  # openpyxl would otherwise store "=…" as a formula
    else:
        cell.value = value


def _row(values: tuple[Any, ...]) -> Row:
    return trim_row([_cell_value(v) for v in values])


def _cell_value(v: Any) -> CellValue:
    if v is None or isinstance(v, str | bool | int | float | datetime | date):
        return v
    if isinstance(v, time | timedelta):
        return str(v)
    return str(v)


def _blank_none(v: CellValue) -> CellValue:
    return None if v == "" else v


def _unlink(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
