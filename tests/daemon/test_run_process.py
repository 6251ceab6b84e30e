"""`python -m sheetsync run` as a real process: an xlsx workbook synced against the sandbox
(served from this test process on 127.0.0.1), stopped by signals, guarded by the run lock."""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sheetsync.app.lock import lock_path_for
from sheetsync.data.demo_workbook import build_workbook
from sheetsync.sandbox.seed import DEMO_KEY
from sheetsync.sandbox.server import SandboxServer
from sheetsync.sandbox.service import Faults, Reply, Sandbox
from sheetsync.state import State

WAIT_S = 30.0  # the bound on every wait; the happy path takes a second or two


class WatchedSandbox(Sandbox):
    """The sandbox, telling the test when the daemon's first write arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.first_write = threading.Event()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST":
            self.first_write.set()
        return super().handle(method, target, headers, body)


class Daemon:
    """A `sheetsync run` process; its stderr lines arrive on a queue as they are written."""

    def __init__(self, folder: Path, *args: str) -> None:
        env = {**os.environ, "WARMYSENDER_API_KEY": DEMO_KEY, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "sheetsync", "--config", "sheetsync.toml", "run", *args]
        self.proc = subprocess.Popen(
            cmd, cwd=folder, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, match: Callable[[str], bool]) -> str:
        """The first new stderr line that matches (fails on exit or after WAIT_S)."""
        while True:
            try:
                line = self._queue.get(timeout=WAIT_S)
            except queue.Empty:
                pytest.fail(f"no matching log line within {WAIT_S}s; got {self.lines}")
            if line is None:
                pytest.fail(f"the daemon exited ({self.proc.wait()}) first; got {self.lines}")
            self.lines.append(line)
            if match(line):
                return line

    def finish(self) -> int:
        """Wait for the exit (bounded), collect the remaining lines, return the exit code."""
        code = self.proc.wait(timeout=WAIT_S)
        self._reader.join(WAIT_S)
        while not self._queue.empty():
            line = self._queue.get_nowait()
            if line is not None:
                self.lines.append(line)
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.finish()


def cycle_of(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    obj: dict[str, Any] = json.loads(line)
    return obj if obj.get("event") == "cycle" else None


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(WatchedSandbox()) as server:
        yield server


@pytest.fixture
def folder(tmp_path: Path, sandbox: SandboxServer) -> Path:
    (tmp_path / "leads.xlsx").write_bytes(build_workbook())
    (tmp_path / "sheetsync.toml").write_text(
        "[warmysender]\n"
        f'base_url = "{sandbox.base_url}"\n'
        "[state]\n"
        'path = "state/state.db"\n'
        "[[sheet]]\n"
        'name = "demo"\n'
        'source = "xlsx"\n'
        'spreadsheet = "leads.xlsx"\n'
        "poll_seconds = 60\n"
        "settle_polls = 0\n"
        'custom_fields = ["Industry"]\n',
        encoding="utf-8",
    )
    return tmp_path


def assert_state_intact(folder: Path, *, ran: bool) -> None:
    path = folder / "state" / "state.db"
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    with State(path) as state:
        runs = state.recent_runs("demo")
    assert bool(runs and runs[0].ok) is ran


@pytest.mark.slow
def test_sigterm_finishes_the_cycle_then_exits_0_and_a_second_run_is_locked_out(
    folder: Path, sandbox: SandboxServer
) -> None:
    first = Daemon(folder, "--log-format", "json")
    try:
        cycle = cycle_of(first.wait_for(lambda line: cycle_of(line) is not None))
        assert cycle is not None and cycle["sheet"] == "demo"
        assert cycle["prospects_created"] > 0 and cycle["api_calls"] > 0

        second = Daemon(folder)
        assert second.finish() == 2
        lock = lock_path_for(folder / "state" / "state.db", "demo")
        assert f"{lock} is locked by process {first.proc.pid}" in "\n".join(second.lines)
        assert not any("Traceback" in line for line in second.lines)

        first.proc.send_signal(signal.SIGTERM)
        assert first.finish() == 0
    finally:
        first.kill()
    assert "stopped; state saved in" in first.lines[-1]
    assert DEMO_KEY not in "\n".join(first.lines)
    assert_state_intact(folder, ran=True)


@pytest.mark.slow
def test_sigterm_during_a_cycle_waits_for_it(folder: Path, sandbox: SandboxServer) -> None:
    sandbox.sandbox.faults = Faults(latency_ms=50)  # ~1.5 s of cycle to land a signal in
    watched = sandbox.sandbox
    assert isinstance(watched, WatchedSandbox)
    proc = Daemon(folder)
    try:
        assert watched.first_write.wait(WAIT_S)
        proc.proc.send_signal(signal.SIGTERM)
        proc.wait_for(lambda line: "finishing the cycle in progress" in line)
        # ...and only then does the cycle that was in progress end, with all its work done
        line = proc.wait_for(lambda line: "demo: " in line and "rows;" in line)
        assert "prospects created" in line and "enrolled" in line
        assert proc.finish() == 0
    finally:
        proc.kill()
    assert "stopped; state saved in" in proc.lines[-1]
    assert_state_intact(folder, ran=True)


@pytest.mark.slow
def test_a_second_signal_exits_at_once_and_leaves_the_state_usable(
    folder: Path, sandbox: SandboxServer
) -> None:
    sandbox.sandbox.faults = Faults(latency_ms=200)  # the cycle would take many seconds
    watched = sandbox.sandbox
    assert isinstance(watched, WatchedSandbox)
    proc = Daemon(folder)
    try:
        assert watched.first_write.wait(WAIT_S)
        proc.proc.send_signal(signal.SIGINT)
        proc.wait_for(lambda line: "finishing the cycle in progress" in line)
        proc.proc.send_signal(signal.SIGINT)
        assert proc.finish() == 128 + signal.SIGINT
    finally:
        proc.kill()
    assert "second SIGINT, exiting now" in proc.lines[-1]
    assert_state_intact(folder, ran=False)  # cut short: no run recorded, but a sound file
