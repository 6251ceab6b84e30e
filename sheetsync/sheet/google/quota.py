"""Google's per-user request quota: 60 read and 60 write requests a minute per user by default
(a service account is a user). Every source signed in with one credential shares one `Quota`,
and each of their requests takes a slot of it first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Slots(Protocol):
    """A request budget (api.ratelimit.RateLimiter): `acquire()` waits for a free slot."""

    def acquire(self) -> bool: ...


@dataclass(frozen=True)
class Quota:
    reads: Slots
    writes: Slots
