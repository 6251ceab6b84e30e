"""`sheetsync sync` SIGKILLed at every point where a process can die, then run again: the end
state equals that of a crash-free run, and nothing in WarmySender exists twice.

The points, in the order a cycle meets them (counts from the crash-free run of the reference
workbook, checked by the first test so the sweep always covers every point):

- request N: the sandbox did the work of the N-th API request, then the process is killed before
  the answer arrives (the call was sent; its outcome was not stored);
- commit N: right after the N-th state transaction commits (intent recorded, outcome stored,
  statuses set, run recorded);
- write: after every state commit of the API work, before the write-back touches the workbook;
- zip N: during the xlsx save, after the N-th part of the new workbook is written to the temp file;
- replace / replaced: right before and right after the temp file is renamed over the workbook.

Then a second sync after an edit of each kind the first one does not write (a prospect's field,
a Draft campaign's setting, Running → Paused, two enrollments unticked), killed after the server
did the work of each of its requests: with the first sync, every write kind is killed once
between the server's work and the stored answer. The emails are not in sorted order, so a batch
replayed in another order than it was first sent would be refused (409) and caught here.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import pytest

from sheetsync.testing.sheets_emulator import WRITE_KINDS, SheetsEmulator
from tests.reliability.conftest import (
    WAIT_S,
    WRITES,
    Folder,
    Reference,
    check_invariants,
    remote_writes,
)

POINTS = {"request": 13, "commit": 28, "write": 1, "zip": 13, "replace": 1, "replaced": 1}
EDIT_REQUESTS = 4  # requests of the second sync (PATCH prospect, PATCH campaign, DELETE, pause)
API_WRITES = {
    "POST /prospects",  # create prospect
    "PATCH /prospects/{id}",  # update prospect
    "POST /campaigns",  # create campaign
    "PATCH /campaigns/{id}",  # update campaign
    "POST /campaigns/{id}/start",
    "POST /campaigns/{id}/pause",
    "POST /campaigns/{id}/enrollments",  # enroll
    "DELETE /campaigns/{id}/enrollments",  # unenroll
}
GOOGLE_WRITES = 1  # write requests of the first cycle on the Google source (checked below)
SWEEP = [(kind, n) for kind, count in POINTS.items() for n in range(1, count + 1)]


def test_the_sweep_covers_every_point_of_a_crash_free_run(reference: Reference) -> None:
    found = {"request": reference.requests, **reference.points}
    assert found == POINTS, "the cycle's crash points changed: update POINTS to sweep them all"
    report = reference.report
    assert (report["prospects_created"], report["prospects_existing"]) == (3, 1)
    assert (report["campaigns_created"], report["campaigns_started"]) == (2, 1)
    assert (report["enrolled"], report["suppressed"], report["errors"]) == (5, 1, 0)


def crash(folder: Folder, kind: str, n: int) -> None:
    if kind == "request":
        result = folder.sync(kill_at_request=n)
        assert folder.sandbox.killed, f"the sync made fewer than {n} requests"
    else:
        result = folder.sync(kind, n)
    assert result.killed, f"not killed at {kind} {n}: exit {result.code}\n{result.stderr}"
    folder.table("Prospects")  # whatever the point, the workbook on disk still opens


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "n"), SWEEP, ids=[f"{k}-{n}" for k, n in SWEEP])
def test_killed_then_rerun_ends_like_a_crash_free_run(
    folder: Folder, reference: Reference, kind: str, n: int
) -> None:
    crash(folder, kind, n)
    rerun = folder.sync()
    assert rerun.code == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    check_invariants(folder, reference.statuses)


@pytest.mark.slow
def test_killed_again_during_the_recovery_run(folder: Folder, reference: Reference) -> None:
    """Killed after sending the first create, then killed again while replaying it."""
    crash(folder, "request", 4)
    crash(folder, "request", 1)
    crash(folder, "commit", 3)
    rerun = folder.sync()
    assert rerun.code == 0, rerun.stderr
    check_invariants(folder, reference.statuses)
    again = folder.sync()
    assert json.loads(again.stdout)["api_calls"] <= 1


def test_the_two_syncs_kill_every_write_kind_after_the_server_did_it(
    reference: Reference, edited: Reference
) -> None:
    assert edited.requests == EDIT_REQUESTS, "update EDIT_REQUESTS to sweep them all"
    assert (edited.report["prospects_updated"], edited.report["campaigns_updated"]) == (1, 1)
    assert (edited.report["campaigns_paused"], edited.report["unenrolled"]) == (1, 2)
    writes = {e for e in reference.endpoints + edited.endpoints if e.split(" ")[0] in WRITES}
    assert writes == API_WRITES


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, EDIT_REQUESTS + 1))
def test_killed_after_the_server_did_an_edit_then_rerun(
    folder: Folder, edited: Reference, n: int
) -> None:
    assert folder.sync().code == 0
    folder.edit()
    crash(folder, "request", n)
    rerun = folder.sync()
    assert rerun.code == 0, rerun.stderr
    check_invariants(folder, edited.statuses)


def test_the_google_write_back_is_swept_request_by_request(
    google_reference: dict[str, Any],
) -> None:
    assert google_reference["write requests"] == GOOGLE_WRITES, "update GOOGLE_WRITES"


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, GOOGLE_WRITES + 1))
def test_killed_during_the_google_write_back(
    gfolder: Folder, emu: SheetsEmulator, google_reference: dict[str, Any], n: int
) -> None:
    """Google source: the process dies right before its n-th write request reaches the sheet
    (the write-back is one all-or-nothing batchUpdate today, so n = 1 is the only point): the
    rerun sends nothing to WarmySender again and writes the whole sheet."""
    seen = []

    def kill_at_nth_write(kind: str, e: SheetsEmulator) -> None:
        if kind in WRITE_KINDS:
            seen.append(kind)
            if len(seen) == n and gfolder.sandbox.proc is not None:
                os.kill(gfolder.sandbox.proc.pid, signal.SIGKILL)
                gfolder.sandbox.proc.wait(WAIT_S)

    emu.hook = kill_at_nth_write
    assert gfolder.sync().killed
    emu.hook = None
    writes = remote_writes(gfolder.remote())
    rerun = gfolder.sync()
    assert rerun.code == 0, rerun.stderr
    assert remote_writes(gfolder.remote()) == writes
    check_invariants(gfolder, google_reference)
