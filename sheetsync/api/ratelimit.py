"""The per-workspace call budget: one limiter shared by every client and thread of a process
(RateLimiter), or by every worker of a PostgreSQL state (SharedRateLimiter: the same Window,
kept in a row of the `rate_limits` table).

Two rules, both enforced before a call starts:

1. Our own sliding log: never more than `limit` starts in any `window_s` seconds (plus a small
   `margin_s`, so a call that reaches the server a little late still lands in a fresh window).
   A sliding log is safe against fixed-window, sliding-window and token-bucket servers alike.
2. The server's view: after `X-RateLimit-Remaining: r` / `X-RateLimit-Reset: t`, at most `r`
   more starts before `t`, because other processes may spend the same workspace's budget.
   After a 429, `block_until(now + Retry-After)` stops every call until then.

`X-RateLimit-Limit` replaces the configured limit. Reset is a Unix timestamp in seconds and is
compared with `clock.time()`; the log itself runs on `clock.monotonic()` in one process, on
`clock.time()` when shared.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sheetsync.clock import Clock, SystemClock
from sheetsync.errors import RateLimited

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool  # only a worker (a PostgreSQL state) passes one

# A Reset above this is in milliseconds; below `_RELATIVE_BELOW` it is "seconds from now".
MARGIN_S = 0.5  # a slot is held window_s + this, so a call that arrives a little late still fits
_MS_ABOVE = 100_000_000_000.0
_RELATIVE_BELOW = 1_000_000_000.0
_MIN_SLEEP = 1e-6
_MAX_BUDGETS = 128


class Limiter(Protocol):
    """What the client and the executor use: RateLimiter in one process, SharedRateLimiter
    across the workers of a PostgreSQL state."""

    @property
    def limit(self) -> int: ...

    def wait_time(self) -> float: ...

    def acquire(self, *, max_wait: float | None = None) -> bool: ...

    def observe(self, headers: Mapping[str, str]) -> None: ...

    def block_until(self, when: float) -> None: ...


@dataclass
class Window:
    """One budget as plain data: the sliding log of starts (`at` is monotonic in one process,
    epoch seconds when shared), the server's promises by Reset (epoch) and the 429 block."""

    limit: int
    hold: float  # window_s + margin_s
    log: deque[float] = field(default_factory=deque)  # start times, oldest first
    budgets: dict[float, int] = field(default_factory=dict)  # Reset -> starts left before it
    blocked_until: float = 0.0  # epoch seconds

    def wait(self, at: float, now: float) -> float:
        """Seconds until a call may start (0 = now); drops what has expired."""
        while self.log and self.log[0] + self.hold <= at:
            self.log.popleft()
        wait = 0.0
        if len(self.log) >= self.limit:
            wait = self.log[len(self.log) - self.limit] + self.hold - at
        if self.blocked_until > now:
            wait = max(wait, self.blocked_until - now)
        for reset in [r for r in self.budgets if r <= now]:
            del self.budgets[reset]
        for reset, left in self.budgets.items():
            if left <= 0:
                wait = max(wait, reset - now)
        return max(wait, 0.0)

    def start(self, at: float) -> None:
        self.log.append(at)
        for reset in self.budgets:
            self.budgets[reset] -= 1

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        limit = _number(lowered.get("x-ratelimit-limit"))
        remaining = _number(lowered.get("x-ratelimit-remaining"))
        reset = _number(lowered.get("x-ratelimit-reset"))
        if limit is not None and limit >= 1:
            self.limit = int(limit)
        if remaining is None or reset is None:
            return
        reset = _epoch(reset, now)
        if reset <= now:
            return  # that window is over already: nothing to honour
        left = max(int(remaining), 0)
        # Every promise holds until its Reset; for the same Reset trust the lower count
        # (ours already counts calls the server had not seen when it answered).
        self.budgets[reset] = min(self.budgets.get(reset, left), left)
        if len(self.budgets) > _MAX_BUDGETS:
            loosest = max(self.budgets, key=lambda r: (self.budgets[r], -r))
            del self.budgets[loosest]

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)


def _hold(per_minute: int, window_s: float, margin_s: float) -> float:
    if per_minute < 1:
        raise ValueError(f"per_minute must be at least 1, got {per_minute}")
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    return window_s + max(margin_s, 0.0)


def _acquire(clock: Clock, try_start: Callable[[], float], max_wait: float | None) -> bool:
    """Call `try_start` (0: a slot was taken; else the seconds to wait) until it takes a slot,
    sleeping on the clock; give up once the wait would pass `max_wait` seconds in total."""
    waited = 0.0
    while True:
        wait = try_start()
        if wait <= 0:
            return True
        if max_wait is not None and waited + wait > max_wait:
            return False
        wait = max(wait, _MIN_SLEEP)  # always move on, even when float rounding leaves 1 ulp
        clock.sleep(wait)
        waited += wait


class RateLimiter:
    """Thread-safe call budget of one process; `acquire()` before every HTTP attempt."""

    def __init__(
        self,
        per_minute: int = 60,
        *,
        clock: Clock | None = None,
        window_s: float = 60.0,
        margin_s: float = MARGIN_S,
        on_start: Callable[[float], None] | None = None,
    ) -> None:
        self._window = Window(per_minute, _hold(per_minute, window_s, margin_s))
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._on_start = on_start  # called under the lock with each start's monotonic time

    def __repr__(self) -> str:
        return f"RateLimiter(limit={self._window.limit}, window_s={self._window.hold:g})"

    @property
    def limit(self) -> int:
        return self._window.limit

    def wait_time(self) -> float:
        """Seconds until a call may start (0 = now)."""
        with self._lock:
            return self._window.wait(self._clock.monotonic(), self._clock.time())

    def acquire(self, *, max_wait: float | None = None) -> bool:
        """Take one call slot, sleeping on the clock until one is free.

        With `max_wait`, give up (return False, take nothing) as soon as the wait would go past
        `max_wait` seconds in total.
        """
        return _acquire(self._clock, self._try_start, max_wait)

    def _try_start(self) -> float:
        with self._lock:
            at = self._clock.monotonic()
            wait = self._window.wait(at, self._clock.time())
            if wait <= 0:
                self._window.start(at)
                if self._on_start is not None:
                    self._on_start(at)
            return wait

    def observe(self, headers: Mapping[str, str]) -> None:
        """Adapt to the X-RateLimit-Limit / -Remaining / -Reset headers of a response."""
        with self._lock:
            self._window.observe(headers, self._clock.time())

    def block_until(self, when: float) -> None:
        """After a 429: no call starts before `when` (epoch seconds)."""
        with self._lock:
            self._window.block(when)


class SharedRateLimiter:
    """The same budget (Window) kept in PostgreSQL, shared by every worker of a workspace (or a
    Google credential): one row of `rate_limits` per `key`, read and changed under its row lock
    in one transaction per start, header or block. The log runs on `clock.time()` (epoch), the
    one clock the workers' machines share; keep them NTP-synced (skew eats into `margin_s`).

    Between the executor's check (`wait_time`) and the client's `acquire()` another worker may
    take the last slot of the window. With `max_block_s`, `acquire()` without a `max_wait`
    raises RateLimited instead of sleeping longer than that: the executor then defers the rest
    of the cycle to the next poll, as after a long 429, rather than hold the sheet for most of
    a minute. Without it, `acquire()` waits as long as it takes (the Google quota: a read must
    happen)."""

    def __init__(
        self,
        pool: ConnectionPool,
        key: str,
        per_minute: int = 60,
        *,
        clock: Clock | None = None,
        window_s: float = 60.0,
        margin_s: float = MARGIN_S,
        on_start: Callable[[float], None] | None = None,
        max_block_s: float | None = None,
    ) -> None:
        self._pool = pool
        self.key = key
        self.max_block_s = max_block_s
        self._per_minute = per_minute
        self._hold = _hold(per_minute, window_s, margin_s)
        self._clock: Clock = clock or SystemClock()
        self._on_start = on_start  # called in the transaction with each start's epoch time

    def __repr__(self) -> str:
        return f"SharedRateLimiter({self.key!r}, window_s={self._hold:g})"

    @contextmanager
    def _locked(self) -> Iterator[Window]:
        """The window under its row lock, in a transaction that saves it at the end."""
        select = "SELECT budget FROM rate_limits WHERE key = %s FOR UPDATE"
        with self._pool.connection() as conn, conn.transaction():
            row = conn.execute(select, (self.key,)).fetchone()
            if row is None:  # the budget's first use: its row, made once by whoever comes first
                conn.execute(
                    "INSERT INTO rate_limits VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                    (self.key, _dump(Window(self._per_minute, self._hold))),
                )
                row = conn.execute(select, (self.key,)).fetchone()
            assert row is not None
            window = _load(row[0], self._hold)
            yield window
            conn.execute(
                "UPDATE rate_limits SET budget = %s WHERE key = %s", (_dump(window), self.key)
            )

    def _read(self) -> Window:
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT budget FROM rate_limits WHERE key = %s", (self.key,)
            ).fetchone()
        return _load(row[0], self._hold) if row else Window(self._per_minute, self._hold)

    @property
    def limit(self) -> int:
        return self._read().limit

    def wait_time(self) -> float:
        now = self._clock.time()
        return self._read().wait(now, now)

    def acquire(self, *, max_wait: float | None = None) -> bool:
        if max_wait is not None or self.max_block_s is None:
            return _acquire(self._clock, self._try_start, max_wait)
        if not _acquire(self._clock, self._try_start, self.max_block_s):
            wait = self.wait_time()
            raise RateLimited(
                f"the shared budget {self.key!r} is spent for the next {wait:.0f}s by the other "
                "workers; the call is left for the next poll",
                retry_after=wait,
                code="budget_spent",
            )
        return True

    def _try_start(self) -> float:
        with self._locked() as window:
            now = self._clock.time()
            wait = window.wait(now, now)
            if wait <= 0:
                window.start(now)
                if self._on_start is not None:
                    self._on_start(now)
            return wait

    def observe(self, headers: Mapping[str, str]) -> None:
        if not any(k.lower().startswith("x-ratelimit-") for k in headers):
            return  # nothing to learn: no transaction
        with self._locked() as window:
            window.observe(headers, self._clock.time())

    def block_until(self, when: float) -> None:
        with self._locked() as window:
            window.block(when)


def _dump(w: Window) -> str:
    return json.dumps(
        {"limit": w.limit, "log": list(w.log), "budgets": list(w.budgets.items()),
         "blocked_until": w.blocked_until}
    )  # fmt: skip


def _load(text: str, hold: float) -> Window:
    d = json.loads(text)
    budgets = {float(r): int(n) for r, n in d["budgets"]}
    return Window(int(d["limit"]), hold, deque(d["log"]), budgets, float(d["blocked_until"]))


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
