"""`python -m sheetsync run` with [webhooks] as a real process, killed with SIGKILL while the
sandbox (in this test process) delivers events to it: every event it acknowledged is in its
state file, the restart re-uses its webhook (no second one), the deliveries that failed are
retried, and every event ends up in its Enrollments row."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheetsync.clock import FakeClock
from sheetsync.data import demo_workbook as sample
from sheetsync.sandbox import Sandbox, SandboxServer, demo_seed
from sheetsync.serving import free_port

from .test_run_process import Daemon, cycle_of

FOUNDERS = [e for e in sample._FOUNDERS if e != sample.BOUNCED]
REPLIED = FOUNDERS[:4]


def outcomes(workbook: Path) -> dict[str, Any]:
    wb = openpyxl.load_workbook(workbook, read_only=True)
    try:
        grid = [list(r) for r in wb["Enrollments"].iter_rows(values_only=True)]
    finally:
        wb.close()
    head = grid[0]
    email, campaign = head.index("Email"), head.index("Campaign")
    outcome = head.index("Outcome") if "Outcome" in head else None
    return {
        r[email]: r[outcome] if outcome is not None and outcome < len(r) else None
        for r in grid[1:]
        if r[campaign] == sample.RUNNING
    }


@pytest.mark.slow
def test_kill_while_events_arrive_loses_no_acknowledged_event(tmp_path: Path) -> None:
    clock = FakeClock(start=time.time())  # signatures in real time; retries when advanced
    seed = demo_seed()
    seed["workspaces"][0]["rateLimitPerMinute"] = 600
    sandbox = Sandbox(seed, clock=clock)
    port = free_port()
    with SandboxServer(sandbox) as server:
        (tmp_path / "leads.xlsx").write_bytes(sample.build_workbook())
        (tmp_path / "sheetsync.toml").write_text(
            "[warmysender]\n"
            f'base_url = "{server.base_url}"\n'
            "[state]\n"
            'path = "state/state.db"\n'
            "[webhooks]\n"
            f'listen = "127.0.0.1:{port}"\n'
            f'public_url = "http://127.0.0.1:{port}/warmysender"\n'
            "[[sheet]]\n"
            'name = "demo"\n'
            'source = "xlsx"\n'
            'spreadsheet = "leads.xlsx"\n'
            "poll_seconds = 1\n"
            "settle_polls = 0\n"
            'custom_fields = ["Industry"]\n',
            encoding="utf-8",
        )
        first = Daemon(tmp_path, "--log-format", "json")
        try:
            first.wait_for(lambda line: "webhook: registered" in line)
            first.wait_for(lambda line: (cycle_of(line) or {}).get("enrolled", 0) > 0)
            events = [("email.opened", e) for e in FOUNDERS] + [
                ("reply.received", e) for e in REPLIED
            ]
            some_in = threading.Event()

            def deliver() -> None:  # goes on delivering while the process is killed
                for n, (kind, email) in enumerate(events):
                    sandbox.event({"type": kind, "email": email})
                    if n == 4:
                        some_in.set()

            poster = threading.Thread(target=deliver)
            poster.start()
            assert some_in.wait(30)
            first.proc.kill()
            poster.join(30)
            first.finish()
        finally:
            first.kill()

        deliveries = sandbox.state()["deliveries"]
        acked = {d["eventId"] for d in deliveries if d["status"] == "delivered"}
        pending = [d for d in deliveries if d["status"] == "pending"]
        assert acked and pending, "the kill should land while events arrive"
        db = sqlite3.connect(tmp_path / "state" / "state.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            kept = {r[0] for r in db.execute("SELECT event_id FROM events")}
        finally:
            db.close()
        assert acked <= kept  # nothing acknowledged was lost

        [hook] = sandbox.state()["workspaces"][0]["webhooks"]
        second = Daemon(tmp_path, "--log-format", "json")
        try:
            second.wait_for(lambda line: "webhook: re-using" in line)
            second.wait_for(lambda line: "webhooks: listening" in line)
            assert sandbox.state()["workspaces"][0]["webhooks"] == [hook]
            clock.advance(61)  # the first retry of what failed during the kill
            retried = sandbox.deliver_due()
            assert retried and all(d["status"] == "delivered" for d in retried)
            assert all(d["status"] == "delivered" for d in sandbox.state()["deliveries"])
            want = {e: ("replied" if e in REPLIED else "opened") for e in FOUNDERS}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                second.wait_for(lambda line: cycle_of(line) is not None)
                got = outcomes(tmp_path / "leads.xlsx")
                if all(got.get(e) == o for e, o in want.items()):
                    break
            assert {e: got.get(e) for e in FOUNDERS} == want
            second.proc.terminate()
            assert second.finish() == 0
        finally:
            second.kill()
        log = "\n".join(first.lines + second.lines)
        assert "whsec_" not in log and "Traceback" not in log
        stored = json.dumps(sandbox.state()["workspaces"][0]["webhooks"])
        assert "whsec_" not in stored  # GET /webhooks never shows the secret either
