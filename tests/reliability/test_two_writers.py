"""Two real `sheetsync` processes on one workbook (issue 13, finding 2): they take turns on the
sheet's lock, the workbook stays a valid zip with every user tab, formula and cached result
intact, and a command refused because a service holds the sheet says so, with its pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from sheetsync.sandbox import DEMO_KEY
from sheetsync.sandbox.service import Faults
from sheetsync.sheet.base import CellWrite
from sheetsync.sheet.xlsx import XlsxSource
from tests.daemon.test_run_process import Daemon, cycle_of
from tests.reliability.conftest import (
    TABS,
    Folder,
    Reference,
    check_invariants,
    finish,
    remote_writes,
)
from tests.xlsx_books import F, cells, excel_book

ROUNDS = 3  # rounds of two concurrent syncs (bench: 20 rounds, see docs/RELIABILITY.md)
NOTES = [["Owner", "Budget", "Total"], ["ann", 100, F("=B2*12", 1200)], ["=not a formula"]]


def start_sync(folder: Folder, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "WARMYSENDER_API_KEY": DEMO_KEY, "PYTHONUNBUFFERED": "1"}
    env.pop("SHEETSYNC_CONFIG", None)
    cmd = [sys.executable, "-m", "sheetsync", "--config", "sheetsync.toml", "sync", *args]
    return subprocess.Popen(
        cmd, cwd=folder.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def user_tab(folder: Folder) -> dict[str, tuple[object, object]]:
    return cells(folder.book)["Notes"]


@pytest.fixture
def book(folder: Folder) -> Folder:
    """The reference workbook as Excel saves it, with a tab of the user's own."""
    excel_book(folder.book, {**TABS, "Notes": NOTES})
    return folder


@pytest.mark.slow
def test_two_syncs_at_once_take_turns(book: Folder, reference: Reference) -> None:
    folder = book
    notes = user_tab(folder)
    assert notes["C2"] == ("=B2*12", 1200)
    folder.sandbox.faults = Faults(latency_ms=20)  # long enough cycles to overlap, unlocked
    for n in range(ROUNDS):
        if n:  # someone clears a status column: both processes find it to write again
            src = XlsxSource(folder.book)
            src.write([CellWrite("Prospects", r, 4, None) for r in range(2, 6)])
        writes = remote_writes(folder.remote())
        a, b = start_sync(folder, "--json"), start_sync(folder, "--json")
        ra, rb = finish(a), finish(b)
        assert (ra.code, rb.code) == (0, 0), (ra.stderr, rb.stderr)
        reports = [json.loads(r.stdout) for r in (ra, rb)]
        assert all("Traceback" not in r.stderr for r in (ra, rb))
        # they took turns: whichever came second found the work done
        assert min(r["api_calls"] for r in reports) <= 1, reports
        assert sum(r["sheets_writes"] for r in reports) == 1, reports
        if n:
            assert remote_writes(folder.remote()) == writes
        assert user_tab(folder) == notes, f"round {n + 1}: the user's tab changed"
        check_invariants(folder, reference.statuses)
    assert not list(folder.path.glob(".book.xlsx.*"))


@pytest.mark.slow
def test_a_sync_beside_the_service_is_refused_with_its_pid(
    book: Folder, reference: Reference
) -> None:
    folder = book
    notes = user_tab(folder)
    service = Daemon(folder.path, "--log-format", "json")
    try:
        cycle = cycle_of(service.wait_for(lambda line: cycle_of(line) is not None))
        assert cycle is not None and cycle["prospects_created"] == 3
        before = folder.book.read_bytes()
        refused = finish(start_sync(folder, "--confirm-unenroll"))
        assert refused.code == 2
        line = refused.stderr.strip()
        assert line.startswith("error: `sheetsync run` is already writing sheet 'crash'")
        assert f"is locked by process {service.proc.pid}." in line
        assert "tick the Confirm box" in line and "Traceback" not in line
        assert folder.book.read_bytes() == before  # it did not touch the workbook
        service.proc.send_signal(signal.SIGTERM)
        assert service.finish() == 0
    finally:
        service.kill()
    assert user_tab(folder) == notes
    check_invariants(folder, reference.statuses)
    after: Any = finish(start_sync(folder, "--json"))  # the service gone, sync runs
    assert after.code == 0 and json.loads(after.stdout)["api_calls"] <= 1
