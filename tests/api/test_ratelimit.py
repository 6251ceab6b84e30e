"""The per-workspace limiter on a fake clock: sliding log, the server's headers, 429 blocks."""

from __future__ import annotations

import threading
from bisect import bisect_left

from hypothesis import given, settings
from hypothesis import strategies as st

from sheetsync.api import RateLimiter, forget_limiters, limiter_for
from sheetsync.clock import FakeClock


def max_in_window(starts: list[float], window: float) -> int:
    """The most starts in any half-open window [s, s + window)."""
    starts = sorted(starts)
    return max((bisect_left(starts, s + window) - i for i, s in enumerate(starts)), default=0)


def headers(limit: int | None, remaining: int, reset: float) -> dict[str, str]:
    out = {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}
    if limit is not None:
        out["X-RateLimit-Limit"] = str(limit)
    return out


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0, 40)),
        st.tuples(st.just("acquire"), st.none() | st.floats(0, 30)),
        st.tuples(st.just("observe"), st.integers(0, 8), st.floats(0.5, 90)),
        st.tuples(st.just("block"), st.floats(0, 30)),
    ),
    max_size=150,
)


@settings(max_examples=150, deadline=None)
@given(ops=OPS, limit=st.integers(1, 12), window=st.floats(1, 60), margin=st.sampled_from([0, 0.5]))
def test_random_schedules_never_break_any_rule(
    ops: list[tuple[object, ...]], limit: int, window: float, margin: float
) -> None:
    clock = FakeClock()
    starts: list[float] = []  # monotonic
    limiter = RateLimiter(limit, clock=clock, window_s=window, margin_s=margin,
                          on_start=starts.append)  # fmt: skip
    promises: list[tuple[int, int, float]] = []  # (index into starts, remaining, reset epoch)
    blocks: list[tuple[int, float]] = []  # (index into starts, until epoch)
    for op in ops:
        if op[0] == "advance":
            clock.advance(float(op[1]))  # type: ignore[arg-type]
        elif op[0] == "acquire":
            before = len(starts)
            took = limiter.acquire(max_wait=op[1])  # type: ignore[arg-type]
            assert len(starts) == before + took  # a refusal takes nothing
        elif op[0] == "observe":
            remaining, offset = int(op[1]), float(op[2])  # type: ignore[call-overload]
            reset = clock.time() + offset
            limiter.observe(headers(None, remaining, reset))
            promises.append((len(starts), remaining, reset))
        else:
            until = clock.time() + float(op[1])  # type: ignore[arg-type]
            limiter.block_until(until)
            blocks.append((len(starts), until))
    assert max_in_window(starts, window) <= limit
    origin = clock.time() - clock.monotonic()
    epochs = [origin + s for s in starts]
    for first, remaining, reset in promises:
        assert sum(1 for t in epochs[first:] if t < reset - 1e-6) <= remaining
    for first, until in blocks:
        assert all(t >= until - 1e-6 for t in epochs[first:])


def test_blocks_are_honoured() -> None:
    clock = FakeClock()
    starts: list[float] = []
    limiter = RateLimiter(5, clock=clock, on_start=starts.append)
    limiter.block_until(clock.time() + 42)
    assert limiter.wait_time() == 42
    assert limiter.acquire()
    assert starts == [42.0] and clock.slept == 42


def test_blocking_acquire_advances_the_fake_clock() -> None:
    clock = FakeClock()
    starts: list[float] = []
    limiter = RateLimiter(3, clock=clock, window_s=10, margin_s=0, on_start=starts.append)
    for _ in range(7):
        assert limiter.acquire()
    assert starts == [0, 0, 0, 10, 10, 10, 20]
    assert clock.slept == 20


def test_margin_holds_each_slot_a_little_longer() -> None:
    clock = FakeClock()
    limiter = RateLimiter(1, clock=clock, window_s=60)
    limiter.acquire()
    assert limiter.wait_time() == 60.5


def test_max_wait_gives_up_and_takes_nothing() -> None:
    clock = FakeClock()
    starts: list[float] = []
    limiter = RateLimiter(2, clock=clock, window_s=60, margin_s=0, on_start=starts.append)
    assert limiter.acquire() and limiter.acquire()
    assert limiter.acquire(max_wait=59.0) is False
    assert clock.slept == 0 and len(starts) == 2
    assert limiter.acquire(max_wait=0) is False
    assert limiter.acquire(max_wait=60.0) is True
    assert clock.slept == 60


def test_limit_header_replaces_the_default() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert limiter.limit == 60
    limiter.observe({"x-ratelimit-limit": "240"})
    assert limiter.limit == 240
    limiter.observe({"X-RateLimit-Limit": "nonsense"})
    limiter.observe({"X-RateLimit-Limit": "0"})
    assert limiter.limit == 240
    limiter.observe(headers(2, 50, clock.time() + 60))
    assert limiter.limit == 2
    assert limiter.acquire() and limiter.acquire()
    assert limiter.acquire(max_wait=10) is False


def test_remaining_and_reset_bound_calls_shared_with_other_processes() -> None:
    clock = FakeClock()
    starts: list[float] = []
    limiter = RateLimiter(60, clock=clock, on_start=starts.append)
    # the server has seen 58 calls this window (most of them not ours)
    limiter.observe(headers(60, 2, clock.time() + 25))
    assert limiter.acquire() and limiter.acquire()
    assert limiter.wait_time() == 25
    assert limiter.acquire()
    assert starts == [0, 0, 25]


def test_a_late_answer_cannot_loosen_the_budget() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    reset = clock.time() + 30
    limiter.observe(headers(None, 1, reset))
    limiter.acquire()
    limiter.observe(headers(None, 5, reset))  # an older answer arriving late
    assert limiter.wait_time() == 30
    limiter.observe(headers(None, 9, clock.time() + 50))  # another view: the 0 still binds
    assert limiter.wait_time() == 30


def test_reset_in_the_past_or_odd_units() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    limiter.observe(headers(None, 0, clock.time() - 5))
    assert limiter.wait_time() == 0
    limiter.observe(headers(None, 0, (clock.time() + 8) * 1000))  # milliseconds
    assert limiter.wait_time() == 8
    clock.advance(8)
    limiter.observe(headers(None, 0, 12))  # seconds from now
    assert limiter.wait_time() == 12


def test_thread_safety_smoke() -> None:
    clock = FakeClock()
    starts: list[float] = []
    limiter = RateLimiter(10, clock=clock, window_s=60, margin_s=0, on_start=starts.append)

    def work() -> None:
        for _ in range(25):
            assert limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads)
    assert len(starts) == 200
    assert max_in_window(starts, 60) <= 10
    assert starts == sorted(starts)


def test_registry_shares_one_limiter_per_workspace() -> None:
    forget_limiters()
    clock = FakeClock()
    a = limiter_for("ws_1", clock)
    assert limiter_for("ws_1") is a
    assert limiter_for("ws_2", clock) is not a
    forget_limiters()
    assert limiter_for("ws_1", clock) is not a
    forget_limiters()
