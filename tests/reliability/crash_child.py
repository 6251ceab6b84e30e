"""Runs `sheetsync` (argv after the first two arguments) with crash hooks, for the crash tests.

    python crash_child.py KIND N sheetsync-args...

KIND names where the process dies with SIGKILL at the N-th occurrence (N = 0: never; the
counts of every kind are then written as JSON to $CRASH_COUNTS at exit, to size the sweep):

- commit:   right after the N-th state transaction commits
- write:    at the N-th write-back, before the source is touched
- zip:      during the xlsx save, after the N-th part of the new workbook is written
- replace:  during the xlsx save, right before the temp file is renamed over the workbook
- replaced: right after that rename (before anything else is recorded)

The hooks live in this child process only; shipped code has none.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import sheetsync.sheet.xlsx as xlsx_module
from sheetsync.app.cli import main
from sheetsync.state import State

KINDS = ("commit", "write", "zip", "replace", "replaced")
seen: Counter[str] = Counter()


def hit(kind: str, target: tuple[str, int]) -> None:
    seen[kind] += 1
    if target == (kind, seen[kind]):
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def install(target: tuple[str, int]) -> None:
    transaction = State.transaction

    @contextlib.contextmanager
    def counted(self: State) -> Iterator[None]:
        with transaction(self):
            yield
        if self._depth == 0:
            hit("commit", target)

    State.transaction = counted  # type: ignore[method-assign]

    write = xlsx_module.XlsxSource.write

    def hooked_write(self: Any, cells: Any) -> None:
        if cells:
            hit("write", target)
        write(self, cells)

    xlsx_module.XlsxSource.write = hooked_write  # type: ignore[method-assign]

    writestr = zipfile.ZipFile.writestr

    def hooked_writestr(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        writestr(self, *args, **kwargs)
        if self.mode == "w":
            hit("zip", target)

    zipfile.ZipFile.writestr = hooked_writestr  # type: ignore[method-assign]

    zwrite = zipfile.ZipFile.write  # openpyxl writes worksheets from temp files this way

    def hooked_zwrite(self: zipfile.ZipFile, *args: Any, **kwargs: Any) -> None:
        zwrite(self, *args, **kwargs)
        if self.mode == "w":
            hit("zip", target)

    zipfile.ZipFile.write = hooked_zwrite  # type: ignore[method-assign]

    replace: Callable[..., None] = os.replace

    def hooked_replace(src: Any, dst: Any, **kwargs: Any) -> None:
        hit("replace", target)
        replace(src, dst, **kwargs)
        hit("replaced", target)

    xlsx_module.os.replace = hooked_replace  # type: ignore[assignment]


def dump_counts() -> None:
    path = os.environ.get("CRASH_COUNTS")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({k: seen[k] for k in KINDS}, fh)


if __name__ == "__main__":
    kind, n = sys.argv[1], int(sys.argv[2])
    if kind not in KINDS:
        raise SystemExit(f"unknown crash kind {kind!r}; one of {KINDS}")
    install((kind, n))
    sys.argv = ["sheetsync", *sys.argv[3:]]
    try:
        main()
    finally:
        dump_counts()
