"""Google's per-user request quota: 60 read and 60 write requests a minute per user by default
(a service account is a user; `[google] reads_per_minute` / `writes_per_minute`). Every source
signed in with one credential shares one `Quota`, and each of their requests takes a slot of it
first (`GoogleSource`), so a healthy process never causes a 429.

Two backings, one type: `sheetsync run` on SQLite keeps the slots in the process
(api.ratelimit.RateLimiter, app.daemon.google_quota); the workers of a PostgreSQL state share
theirs in the database (api.ratelimit.SharedRateLimiter, app.worker.Runtime.google_quota)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Slots(Protocol):
    """A request budget (a RateLimiter or a SharedRateLimiter): `acquire()` waits for a slot."""

    def acquire(self) -> bool: ...


@dataclass(frozen=True)
class Quota:
    reads: Slots
    writes: Slots
