"""When and how long to wait before trying a call again: the one retry policy of the WarmySender
client and the Google source.

Capped exponential backoff with full jitter: the n-th retry (n = 0, 1, …) sleeps
`rng.uniform(0, min(cap_s, base_s * 2**n))`, and retrying stops after `max_attempts` attempts or
when the next wait would end past `deadline_s` after the first attempt started.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 0.5
    cap_s: float = 30.0
    deadline_s: float = 120.0
    max_attempts: int = 8

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The sleep before retry number `retry` (0-based)."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**retry))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from `now` (epoch seconds): delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)
