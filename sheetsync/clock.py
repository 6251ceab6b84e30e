"""Time, injectable. Everything that waits or stamps goes through a Clock so tests never sleep."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch (wall clock; used for stamps and Reset headers)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes back (used for intervals)."""

    def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when slept on or advanced. Thread-safe; shared by client and
    sandbox in tests so both see the same time."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._origin = start
        self._lock = threading.Lock()
        self.slept = 0.0

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._now - self._origin

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self._now += seconds
                self.slept += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def utc_iso(clock: Clock) -> str:
    """`2026-11-26T05:03:19Z`: the format of `Synced At` and of run stamps."""
    return datetime.fromtimestamp(clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
