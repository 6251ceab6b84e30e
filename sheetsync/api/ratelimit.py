"""The per-workspace call budget: one RateLimiter shared by every client and thread.

Two rules, both enforced before a call starts:

1. Our own sliding log: never more than `limit` starts in any `window_s` seconds (plus a small
   `margin_s`, so a call that reaches the server a little late still lands in a fresh window).
   A sliding log is safe against fixed-window, sliding-window and token-bucket servers alike.
2. The server's view: after `X-RateLimit-Remaining: r` / `X-RateLimit-Reset: t`, at most `r`
   more starts before `t`, because other processes may spend the same workspace's budget.
   After a 429, `block_until(now + Retry-After)` stops every call until then.

`X-RateLimit-Limit` replaces the configured limit. Reset is a Unix timestamp in seconds and is
compared with `clock.time()`; the log itself runs on `clock.monotonic()`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping

from sheetsync.clock import Clock, SystemClock

# A Reset above this is in milliseconds; below `_RELATIVE_BELOW` it is "seconds from now".
_MS_ABOVE = 100_000_000_000.0
_RELATIVE_BELOW = 1_000_000_000.0
_MIN_SLEEP = 1e-6
_MAX_BUDGETS = 128


class RateLimiter:
    """Thread-safe call budget; `acquire()` before every HTTP attempt."""

    def __init__(
        self,
        per_minute: int = 60,
        *,
        clock: Clock | None = None,
        window_s: float = 60.0,
        margin_s: float = 0.5,
        on_start: Callable[[float], None] | None = None,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        if window_s <= 0:
            raise ValueError(f"window_s must be positive, got {window_s}")
        self._limit = per_minute
        self._clock: Clock = clock or SystemClock()
        self._hold = window_s + max(margin_s, 0.0)
        self._log: deque[float] = deque()  # monotonic start times, oldest first
        self._lock = threading.Lock()
        self._budgets: dict[float, int] = {}  # server Reset (epoch s) -> starts left before it
        self._blocked_until = 0.0  # epoch seconds
        self._on_start = on_start  # called under the lock with each start's monotonic time

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self._limit}, window_s={self._hold:g})"

    @property
    def limit(self) -> int:
        return self._limit

    def wait_time(self) -> float:
        """Seconds until a call may start (0 = now)."""
        with self._lock:
            return self._wait_locked()

    def acquire(self, *, max_wait: float | None = None) -> bool:
        """Take one call slot, sleeping on the clock until one is free.

        With `max_wait`, give up (return False, take nothing) as soon as the wait would go past
        `max_wait` seconds in total.
        """
        waited = 0.0
        while True:
            with self._lock:
                wait = self._wait_locked()
                if wait <= 0:
                    started = self._clock.monotonic()
                    self._log.append(started)
                    for reset in self._budgets:
                        self._budgets[reset] -= 1
                    if self._on_start is not None:
                        self._on_start(started)
                    return True
            if max_wait is not None and waited + wait > max_wait:
                return False
            wait = max(wait, _MIN_SLEEP)  # always move on, even when float rounding leaves 1 ulp
            self._clock.sleep(wait)
            waited += wait

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to the X-RateLimit-Limit / -Remaining / -Reset headers of a response."""
        lowered = {k.lower(): v for k, v in headers.items()}
        limit = _number(lowered.get("x-ratelimit-limit"))
        remaining = _number(lowered.get("x-ratelimit-remaining"))
        reset = _number(lowered.get("x-ratelimit-reset"))
        with self._lock:
            now = self._clock.time()
            if limit is not None and limit >= 1:
                self._limit = int(limit)
            if remaining is None or reset is None:
                return
            reset = _epoch(reset, now)
            if reset <= now:
                return  # that window is over already: nothing to honour
            left = max(int(remaining), 0)
            # Every promise holds until its Reset; for the same Reset trust the lower count
            # (ours already counts calls the server had not seen when it answered).
            self._budgets[reset] = min(self._budgets.get(reset, left), left)
            if len(self._budgets) > _MAX_BUDGETS:
                loosest = max(self._budgets, key=lambda r: (self._budgets[r], -r))
                del self._budgets[loosest]

    def block_until(self, when: float) -> None:
        """After a 429: no call starts before `when` (epoch seconds)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, when)

    def _wait_locked(self) -> float:
        mono = self._clock.monotonic()
        while self._log and self._log[0] + self._hold <= mono:
            self._log.popleft()
        wait = 0.0
        if len(self._log) >= self._limit:
            wait = self._log[len(self._log) - self._limit] + self._hold - mono
        now = self._clock.time()
        if self._blocked_until > now:
            wait = max(wait, self._blocked_until - now)
        for reset in [r for r in self._budgets if r <= now]:
            del self._budgets[reset]
        for reset, left in self._budgets.items():
            if left <= 0:
                wait = max(wait, reset - now)
        return max(wait, 0.0)


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and number >= 0 else None  # drop NaN and negatives


def _epoch(reset: float, now: float) -> float:
    if reset >= _MS_ABOVE:
        return reset / 1000.0
    if reset < _RELATIVE_BELOW:
        return now + reset
    return reset


_registry: dict[str, RateLimiter] = {}
_registry_lock = threading.Lock()


def limiter_for(workspace_id: str, clock: Clock | None = None) -> RateLimiter:
    """The process-wide limiter of a workspace, created on first use (later `clock`s are
    ignored: the first caller's clock wins)."""
    with _registry_lock:
        limiter = _registry.get(workspace_id)
        if limiter is None:
            limiter = _registry[workspace_id] = RateLimiter(clock=clock)
        return limiter


def forget_limiters() -> None:
    """Drop every registered limiter (tests, or a daemon reloading its config)."""
    with _registry_lock:
        _registry.clear()
