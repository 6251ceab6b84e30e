"""Fakes for driving the daemon: a scripted engine on a FakeClock and a config builder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sheetsync.api.ratelimit import RateLimiter, forget_limiters
from sheetsync.clock import Clock, FakeClock
from sheetsync.config import Config, SheetConfig, parse_config
from sheetsync.sheet.google.quota import Quota
from sheetsync.sync.counts import CycleReport

API_KEY = "wsk_test_daemon_secret_key_42"
GOOGLE_TOKEN = "ya29.test-google-token-secret"


def make_config(tmp_path: Path, polls: dict[str, int]) -> Config:
    data = {
        "warmysender": {"base_url": "http://127.0.0.1:9/api/v1"},
        "state": {"path": str(tmp_path / "state" / "state.db")},
        "sheet": [
            {"name": n, "source": "xlsx", "spreadsheet": f"{n}.xlsx", "poll_seconds": p}
            for n, p in polls.items()
        ],
    }
    env = {"WARMYSENDER_API_KEY": API_KEY, "SHEETSYNC_GOOGLE_TOKEN": GOOGLE_TOKEN}
    return parse_config(data, path=tmp_path / "sheetsync.toml", env=env)


class FakeSync:
    def __init__(self, engine: FakeEngine, sheet: SheetConfig) -> None:
        self.engine = engine
        self.sheet = sheet

    def close(self) -> None:
        self.engine.closed += 1

    def cycle(self, *, confirm_unenroll: bool = False) -> CycleReport:
        e = self.engine
        name = self.sheet.name
        with e.lock:
            e.running += 1
            e.max_running = max(e.max_running, e.running)
            e.starts.setdefault(name, []).append(e.clock.monotonic())
            e.confirm.append(confirm_unenroll)
        try:
            gate = e.gates.get(name)
            if gate is not None:
                e.entered.set()
                assert gate.wait(5), "the test never opened the gate"
            script = e.script.get(name, [])
            step: Any = script.pop(0) if script else e.default
            if isinstance(step, BaseException):
                e.clock.sleep(1)
                raise step
            e.clock.sleep(float(step))
            return CycleReport(name, "2026-01-01T00:00:00Z", duration_s=float(step), rows_read=3)
        finally:
            with e.lock:
                e.running -= 1


class FakeEngine:
    """open_sync for the daemon: each sheet's cycles follow `script[name]` (a number of seconds
    the cycle takes on the clock, or an exception it raises), then `default` seconds.
    `limiters[name]` are the limiters each opening of the sheet got."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.script: dict[str, list[object]] = {}
        self.default: float = 1.0
        self.starts: dict[str, list[float]] = {}
        self.limiters: dict[str, list[RateLimiter]] = {}
        self.gates: dict[str, threading.Event] = {}
        self.entered = threading.Event()
        self.confirm: list[bool] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.closed = 0
        self.opened = 0

    def __call__(
        self, config: Config, sheet: SheetConfig, clock: Clock, limiter: RateLimiter, quota: Quota
    ) -> FakeSync:
        assert clock is self.clock
        with self.lock:
            self.limiters.setdefault(sheet.name, []).append(limiter)
            self.opened += 1
        return FakeSync(self, sheet)


class Failures:
    """on_failure for the daemon: remembers what would go to the state file."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str]] = []

    def __call__(self, config: Config, sheet: str, message: str) -> None:
        self.recorded.append((sheet, message))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> FakeEngine:
    return FakeEngine(clock)


@pytest.fixture(autouse=True)
def _fresh_limiters() -> Iterator[None]:
    forget_limiters()
    yield
    forget_limiters()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo setup_logging: its handler and the levels it sets."""
    names = ["", "sheetsync", "apscheduler", "httpx", "httpcore", "urllib3", "google", "gspread"]
    levels = {n: logging.getLogger(n).level for n in names}
    handlers = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)
