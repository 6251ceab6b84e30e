"""When and how long to wait before trying a WarmySender call again.

Capped exponential backoff with full jitter: the n-th retry (n = 0, 1, …) sleeps
`rng.uniform(0, min(cap_s, base_s * 2**n))`, and retrying stops after `max_attempts` attempts or
when the next wait would end past `deadline_s` after the first attempt started.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 0.5
    cap_s: float = 30.0
    deadline_s: float = 120.0
    max_attempts: int = 8

    def backoff(self, retry: int, rng: random.Random) -> float:
        """The sleep before retry number `retry` (0-based)."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2.0**retry))


# Transport failures worth another attempt: the request may not have arrived, or the answer got
# lost on the way back (writes are safe to repeat: they carry the same Idempotency-Key).
RETRIABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError,
                       httpx.ProxyError)  # fmt: skip

# Statuses retried with backoff (429 is handled apart: it waits for Retry-After).
RETRIABLE_STATUS = frozenset({408, 500, 502, 503, 504}) | frozenset(range(505, 600))


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
