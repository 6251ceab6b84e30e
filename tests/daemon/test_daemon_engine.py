"""The real Daemon with the real engine (sync/cycle.py) over several ticks of a FakeClock, against
the Google Sheets emulator (with Google's 60 reads / 60 writes a minute per user) and the
sandbox: each sheet's sync stays open between polls, so an unchanged poll is one Sheets read;
a failure or a config change opens it again."""

from __future__ import annotations

import copy
import gc
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sheetsync.api.ratelimit import MARGIN_S
from sheetsync.app.daemon import Daemon
from sheetsync.app.pace import paces
from sheetsync.clock import FakeClock
from sheetsync.config import Config, parse_config
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.testing.sheets_emulator import SheetsEmulator

TOKEN = "ya29.daemon-engine-token"
MBX = "alex@outreach-demo.example"


def tabs(n: int) -> dict[str, list[list[Any]]]:
    return {
        "Prospects": [
            ["Email", "First Name", "Company"],
            *([f"p{i}@example.com", f"First{i}", "Acme"] for i in range(n)),
        ],
        "Campaigns": [["Campaign", "Mailboxes"], ["Q1", MBX]],
        "Steps": [["Campaign", "Step", "Subject", "Body"], ["Q1", 1, "Hi", "<p>Hi</p>"]],
        "Enrollments": [["Email", "Campaign", "Enrolled"], ["p0@example.com", "Q1", True]],
    }


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[SheetsEmulator]:
    with SheetsEmulator(clock=clock, tokens={TOKEN}) as e:  # Google's quota: 60 + 60 a minute
        yield e


@pytest.fixture
def server(clock: FakeClock) -> Iterator[SandboxServer]:
    seed = copy.deepcopy(demo_seed())
    srv = SandboxServer(Sandbox(seed, clock=clock, faults=Faults()))
    srv.start()
    yield srv
    srv.close()


def make_config(
    tmp_path: Path, emu: SheetsEmulator, server: SandboxServer, sheets: Any, **google: Any
) -> Config:
    data = {
        "warmysender": {"base_url": server.base_url},
        "google": {"auth": "token", "sheets_base_url": emu.base_url, **google},
        "state": {"path": str(tmp_path / "state.db")},
        "sheet": [{"settle_polls": 0, "poll_seconds": 60, **s} for s in sheets],
    }
    env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
    return parse_config(data, path=tmp_path / "sheetsync.toml", env=env)


def tick(daemon: Daemon, emu: SheetsEmulator, clock: FakeClock) -> tuple[dict[str, str], int, int]:
    """run_due once, then a minute later: (outcomes, Sheets reads, Sheets writes) of the tick."""
    reads, writes = emu.reads, emu.writes
    outcomes = dict(daemon.run_due())
    done = (outcomes, emu.reads - reads, emu.writes - writes)
    clock.advance(60)
    return done


def test_the_daemon_keeps_each_sync_open_and_an_unchanged_poll_is_one_read(
    tmp_path: Path, clock: FakeClock, emu: SheetsEmulator, server: SandboxServer
) -> None:
    sid = emu.create_spreadsheet(tabs(3))
    config = make_config(tmp_path, emu, server, [{"name": "a", "spreadsheet": sid}])
    daemon = Daemon(config, clock=clock)
    collector = gc.isenabled(), gc.get_threshold()
    try:
        first = tick(daemon, emu, clock)
        assert first[0] == {"a": "ok"}
        assert first[1] >= 2 and first[2] == 1  # metadata + values (+ keys); the statuses
        run = daemon.runs["a"]
        sync: Any = run.sync
        source = sync.source
        tick(daemon, emu, clock)  # the statuses just written are read once
        calls = server.sandbox.state()["workspaces"][0]["requests"]
        for _ in range(3):
            assert tick(daemon, emu, clock) == ({"a": "ok"}, 1, 0)
            assert run.sync is sync and sync.source is source  # the same objects, reused
        assert server.sandbox.state()["workspaces"][0]["requests"] == calls  # no API call
        assert run.opened == 1

        emu.set_cell(sid, "Prospects", 3, 2, "Globex")  # a person edits one cell
        assert tick(daemon, emu, clock) == ({"a": "ok"}, 1, 0)  # its status stays `synced`
        ws = server.sandbox.state()["workspaces"][0]
        assert ws["requestsByEndpoint"]["PATCH /prospects/{id}"] == 1
        assert [p["company"] for p in ws["prospects"] if p["email"] == "p1@example.com"] == [
            "Globex"
        ]

        # A failed cycle closes the sync; the next poll (after the backoff) opens a new one,
        # which fetches the spreadsheet's metadata again.
        emu.share(sid, allowed_tokens=set())
        assert tick(daemon, emu, clock)[0] == {"a": "failed"}
        assert run.sync is None
        emu.share(sid, allowed_tokens=None)
        clock.advance(120)
        outcomes, reads, _ = tick(daemon, emu, clock)
        assert outcomes == {"a": "ok"} and reads == 2  # metadata + values
        assert run.sync is not None and run.sync is not sync and run.opened == 2
        sync = run.sync
        assert tick(daemon, emu, clock) == ({"a": "ok"}, 1, 0)
        assert run.sync is sync

        # A config change opens the sheet's sync again; an unchanged sheet keeps its own.
        sid_b = emu.create_spreadsheet(tabs(1))
        sheets = [{"name": "a", "spreadsheet": sid, "monitor_seconds": 900}]
        sheets.append({"name": "b", "spreadsheet": sid_b})
        daemon.reload(make_config(tmp_path, emu, server, sheets))
        tick(daemon, emu, clock)
        assert run.sync is not sync and run.opened == 3
        tick(daemon, emu, clock)  # b's first poll comes half a poll after a's (spread)
        kept_b = daemon.runs["b"].sync
        assert kept_b is not None
        daemon.reload(make_config(tmp_path, emu, server, [sheets[1]]))  # a is removed
        assert "a" not in daemon.runs and run.sync is None
        tick(daemon, emu, clock)
        assert daemon.runs["b"].sync is kept_b
        assert emu.answered[429] == 0
        assert (gc.isenabled(), gc.get_threshold()) == collector  # polls leave the GC alone
    finally:
        daemon.close()


def test_google_sheets_beyond_the_quota_poll_evenly_less_often_without_a_429(
    tmp_path: Path,
    clock: FakeClock,
    emu: SheetsEmulator,
    server: SandboxServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Four sheets at poll_seconds = 1 need 240 reads a minute; the credential has 60 (set to
    20 here to keep the test short): every sheet polls 12x less often, and no request is
    refused even while the sheets start up (two reads each)."""
    emu.read_quota_per_min = emu.write_quota_per_min = 20
    sheets = [
        {"name": f"s{i}", "spreadsheet": emu.create_spreadsheet(tabs(1)), "poll_seconds": 1}
        for i in range(4)
    ]
    config = make_config(tmp_path, emu, server, sheets, reads_per_minute=20)
    with caplog.at_level(logging.WARNING, logger="sheetsync"):
        daemon = Daemon(config, clock=clock)
    stretched = [r.getMessage() for r in caplog.records if "less often" in r.getMessage()]
    assert len(stretched) == 1 and "the 4 Google sheets need 240 reads a minute" in stretched[0]
    pace = paces(config, margin_s=MARGIN_S)
    assert {round(p.poll_s, 1) for p in pace.values()} == {12.1}  # 1 s x 240 / (20 x 60/60.5)
    assert sorted(round(p.offset_s, 1) for p in pace.values()) == [0.0, 3.0, 6.0, 9.1]
    try:
        start = clock.monotonic()
        reads0 = emu.reads
        while clock.monotonic() - start < 600:
            daemon.run_due()
            clock.advance(1)
        minutes = (clock.monotonic() - start) / 60
        assert emu.answered[429] == 0  # never more than 20 reads in any 60 s
        assert (emu.reads - reads0) / minutes >= 0.9 * 20  # and the quota is used
        assert all(r.opened == 1 for r in daemon.runs.values())
    finally:
        daemon.close()
