"""An xlsx workbook as a sheet source.

Reading and writing work on the workbook's package (xlsx_read, xlsx_write): a formula cell reads
as the result Excel or LibreOffice cached when the file was last saved there (nothing is
evaluated), or as UNCOMPUTED when the file holds no result (a workbook saved by a program that
does not calculate, such as openpyxl). Dates read as ``datetime``, booleans as ``bool``,
numbers as ``int``/``float``. Nothing is cached between calls: the marketer may edit the file
between polls.

A write patches only the cells written: every other cell keeps its formula and cached result,
and every other part of the package its bytes. The new workbook goes to a temp file of its own
beside the workbook (`.<name>.<pid>.<random>.sheetsync-tmp`), is fsynced and renamed over the
original, so a crash mid-save leaves the old workbook intact (the next save removes temp files
whose process is gone). Before the rename the workbook is checked against what sheetsync last
read (size, mtime, SHA-256 of the bytes): when someone saved it in between, their work is not
overwritten (`SheetChanged`; the statuses are written on the next poll). Excel's `~$` and
LibreOffice's `.~lock.…#` lock files mean the workbook is open there: `check_writable` (asked
before any API call) and `write` refuse. `create_tabs` (for `init`) adds the new tabs to the
package of an existing workbook the same way, and saves a new workbook through openpyxl
(xlsx_tabs). Every OS error reaching the file (missing, a folder, permission denied, a name too
long, a full disk) is one SheetError naming the workbook and the cause.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from sheetsync.errors import (
    SheetChanged,
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
    SheetData,
    TabLayout,
    match_titles,
    trim_row,
)
from sheetsync.sheet.xlsx_read import Package, PackageError
from sheetsync.sheet.xlsx_tabs import TabClash, add_tabs, missing_tabs, new_workbook
from sheetsync.sheet.xlsx_write import PatchError, Value, patch_package

TMP_SUFFIX = ".sheetsync-tmp"


@dataclass(frozen=True)
class Snapshot:
    """What one read of the workbook saw: enough to tell whether it was saved since."""

    size: int
    mtime_ns: int
    inode: int
    digest: str  # SHA-256 of the bytes


class XlsxSource:
    """A local .xlsx workbook. Each read, read_keys and write counts as one request."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.counts = RequestCounts()
        self._seen: Snapshot | None = None  # the last read: a write must patch that workbook

    @property
    def label(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"XlsxSource({str(self.path)!r})"

    def close(self) -> None:
        """Nothing to release: the workbook is opened and closed by each read and write."""

    # --- reading ---------------------------------------------------------------------------

    def read(self, tabs: Sequence[str]) -> SheetData:
        self.counts.count("xlsx.read", write=False)
        pkg, self._seen = self._load()
        titles = list(pkg.sheets)
        with self._readable():
            out = {t: pkg.rows(t) for t in match_titles(tabs, titles) if t in pkg.sheets}
        return SheetData(tabs=out, titles=titles, uncomputed=frozenset(pkg.uncomputed))

    def read_keys(self, columns: Mapping[str, Sequence[int]]) -> dict[str, KeyColumns]:
        self.counts.count("xlsx.read_keys", write=False)
        pkg, self._seen = self._load()
        out: dict[str, KeyColumns] = {}
        for tab, cols in columns.items():
            if tab not in pkg.sheets:
                continue
            with self._readable():
                rows = pkg.rows(tab)
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

    def check_writable(self) -> None:
        with self._opening():
            lock = next((lock for lock in self._lock_files() if lock.exists()), None)
        if lock is not None:
            raise SheetUnavailable(
                f"workbook {self.label} is open in another program (lock file {lock.name}); "
                f"close it there so sheetsync can write, or the edits of one of you are "
                f"lost. sheetsync tries again on the next poll.",
                sheet=self.label,
            )

    def write(self, cells: Sequence[CellWrite]) -> None:
        if not cells:
            return
        self.check_writable()
        self.counts.count("xlsx.write", write=True)
        pkg, now = self._load()
        if self._seen is not None and now.digest != self._seen.digest:
            raise self._changed()
        writes: dict[str, dict[tuple[int, int], Value]] = {}
        for cw in cells:
            if cw.tab not in pkg.sheets:
                raise TabNotFound(cw.tab, list(pkg.sheets), sheet=self.label)
            if cw.row < 1 or cw.col < 0:
                raise ValueError(f"bad cell address row={cw.row} col={cw.col}")
            writes.setdefault(cw.tab, {})[(cw.row, cw.col)] = cw.value
        try:
            parts = patch_package(pkg, writes)
        except (PatchError, PackageError, KeyError, ParseError) as exc:
            raise SheetError(
                f"cannot write workbook {self.label}: {exc}; open it in Excel or LibreOffice "
                f"and save it as .xlsx",
                sheet=self.label,
            ) from None
        self._seen = self._save(lambda fh: _copy_with(pkg, parts, fh), expect=now)

    def create_tabs(self, layouts: Sequence[TabLayout]) -> list[str]:
        """Create the missing tabs (see xlsx_tabs): added to the package of an existing
        workbook, every other part kept as it was; a workbook that does not exist yet is
        created with them."""
        self.check_writable()
        with self._opening():
            exists = self.path.exists()
        if not exists:
            self.counts.count("xlsx.create_tabs", write=True)
            self._seen = self._save(lambda fh: fh.write(new_workbook(layouts)), expect=None)
            return [layout.title for layout in layouts]
        pkg, now = self._load()
        try:
            with self._readable():
                missing = missing_tabs(pkg, layouts)
        except TabClash as exc:
            raise SheetError(f"workbook {self.label}: {exc}", sheet=self.label) from None
        if not missing:
            return []

        def build(fh: IO[bytes]) -> None:  # in the save: openpyxl writes temp files as it builds
            with self._readable():
                parts = add_tabs(pkg, missing)
            _copy_with(pkg, parts, fh)

        self.counts.count("xlsx.create_tabs", write=True)
        self._seen = self._save(build, expect=now)
        return [layout.title for layout in missing]

    # --- file handling ---------------------------------------------------------------------

    def _bytes(self) -> tuple[bytes, Snapshot]:
        with self._opening(), open(self.path, "rb") as fh:
            data = fh.read()
            st = os.fstat(fh.fileno())
        return data, _snapshot(data, st)

    @contextlib.contextmanager
    def _opening(self) -> Iterator[None]:
        """Any OS error reaching the workbook: one clear error naming it and the cause."""
        try:
            yield
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
        except OSError as exc:
            raise SheetError(
                f"cannot read workbook {self.label}: {exc.strerror or exc}", sheet=self.label
            ) from None

    def _load(self) -> tuple[Package, Snapshot]:
        data, snap = self._bytes()
        with self._readable():
            return Package(data), snap

    @contextlib.contextmanager
    def _readable(self) -> Iterator[None]:
        """Any malformed part: one clear error naming the workbook and what to do."""
        try:
            yield
        except (
            zipfile.BadZipFile,
            PackageError,
            KeyError,
            ValueError,
            ParseError,
        ) as exc:
            raise SheetError(
                f"{self.label} is not a readable .xlsx workbook ({type(exc).__name__}: {exc}); "
                f"open it in Excel or LibreOffice and save it as .xlsx, or restore a backup",
                sheet=self.label,
            ) from None

    def _lock_files(self) -> list[Path]:
        name = self.path.name
        return [
            self.path.with_name("~$" + name),  # Excel
            self.path.with_name(f".~lock.{name}#"),  # LibreOffice
        ]

    def _changed(self) -> SheetChanged:
        return SheetChanged(
            f"workbook {self.label} was saved by someone else while sheetsync was writing its "
            f"statuses; it was left as they saved it, and the statuses are written on the next "
            f"poll",
            sheet=self.label,
        )

    def _save(self, build: Callable[[IO[bytes]], Any], *, expect: Snapshot | None) -> Snapshot:
        """Atomic save: a temp file of its own in the same folder, fsync, then (when the
        workbook is still what `expect` saw) rename over the workbook. Returns what it wrote."""
        folder = self.path.parent
        prefix = f".{self.path.name}.{os.getpid()}."
        try:
            fd, name = tempfile.mkstemp(prefix=prefix, suffix=TMP_SUFFIX, dir=folder)
        except OSError as exc:
            raise self._save_error(exc) from None
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w+b") as fh:
                build(fh)
                fh.flush()
                os.fsync(fh.fileno())
                fh.seek(0)
                written = _snapshot(fh.read(), os.fstat(fh.fileno()))
            try:
                mode = stat.S_IMODE(os.stat(self.path).st_mode)
            except FileNotFoundError:  # a new workbook: the mode any new file gets, not 0600
                mode = 0o666 & ~_umask()
            os.chmod(tmp, mode)
            if expect is not None and self._saved_since(expect):
                raise self._changed()
            os.replace(tmp, self.path)
        except OSError as exc:
            _unlink(tmp)
            raise self._save_error(exc) from None
        except BaseException:
            _unlink(tmp)
            raise
        _fsync_dir(folder)
        self._sweep(prefix)
        return written

    def _saved_since(self, seen: Snapshot) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        if (st.st_size, st.st_mtime_ns, st.st_ino) == (seen.size, seen.mtime_ns, seen.inode):
            return False
        try:
            data, _ = self._bytes()
        except SheetError:
            return True
        return hashlib.sha256(data).hexdigest() != seen.digest

    def _save_error(self, exc: OSError) -> SheetError:
        if isinstance(exc, PermissionError):
            return SheetPermission(
                f"cannot save workbook {self.label}: permission denied; close it in Excel if "
                f"it is open there, or give sheetsync write access to the file and its folder",
                sheet=self.label,
            )
        kept = "the workbook was left as it was" if os.path.exists(self.path) else "none was made"
        return SheetError(
            f"cannot save workbook {self.label}: {exc.strerror or exc}; {kept}. Check the disk "
            f"space and the folder's permissions.",
            sheet=self.label,
        )

    def _sweep(self, own: str) -> None:
        """Remove temp files left by sheetsync processes that died mid-save (never one of a
        process that is still running: it may be saving right now)."""
        for leftover in self.path.parent.glob(f".{glob.escape(self.path.name)}.*{TMP_SUFFIX}"):
            pid = leftover.name[len(self.path.name) + 2 :].split(".", 1)[0]
            if leftover.name.startswith(own) or not pid.isdigit() or _alive(int(pid)):
                continue
            _unlink(leftover)


def _snapshot(data: bytes, st: os.stat_result) -> Snapshot:
    return Snapshot(st.st_size, st.st_mtime_ns, st.st_ino, hashlib.sha256(data).hexdigest())


def _copy_with(pkg: Package, parts: Mapping[str, bytes | None], fh: IO[bytes]) -> None:
    """The package with `parts` replaced (None: dropped) or added (at the end); every other
    part as it was."""
    with zipfile.ZipFile(fh, "w") as out:
        for info in pkg.zip.infolist():
            new = parts.get(info.filename, b"")
            if new is None:
                continue
            entry = zipfile.ZipInfo(info.filename, info.date_time)
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            out.writestr(entry, new or pkg.zip.read(info))
        for name, data in parts.items():
            if data is not None and name not in pkg.zip.NameToInfo:
                out.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)


def _umask() -> int:
    mask = os.umask(0o022)  # the one way to read it: set one, put it back
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
