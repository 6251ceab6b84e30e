"""SharedRateLimiter: the in-process limiter's rules kept in PostgreSQL, so that every worker
(each with its own connections, as separate processes have) spends one budget."""

from __future__ import annotations

import itertools
import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.ratelimit import SharedRateLimiter
from sheetsync.clock import FakeClock
from sheetsync.config import Secret
from sheetsync.errors import RateLimited
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer
from sheetsync.state.postgres import connect_pool, open_postgres
from tests.engine.conftest import seed

_keys = itertools.count()


@pytest.fixture
def pools(pg_url: str) -> Iterator[list[ConnectionPool]]:
    """Three pools on a migrated state: three workers' connections."""
    open_postgres(Secret(pg_url)).close()
    made = [connect_pool(Secret(pg_url)) for _ in range(3)]
    yield made
    for p in made:
        p.close()


def max_in_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    return max((bisect_left(starts, s + window) - i for i, s in enumerate(starts)), default=0)


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.floats(0, 40)),
        st.tuples(st.just("acquire"), st.integers(0, 2), st.none() | st.floats(0, 30)),
        st.tuples(st.just("observe"), st.integers(0, 2), st.integers(0, 6), st.floats(0.5, 90)),
        st.tuples(st.just("block"), st.integers(0, 2), st.floats(0, 30)),
    ),
    max_size=40,
)


ONE_DATABASE = [HealthCheck.function_scoped_fixture]  # each example uses a key of its own


@settings(max_examples=20, deadline=None, suppress_health_check=ONE_DATABASE)
@given(ops=OPS, limit=st.integers(1, 6), window=st.floats(1, 60))
def test_three_workers_never_break_any_rule_together(
    pools: list[ConnectionPool], ops: list[tuple[Any, ...]], limit: int, window: float
) -> None:
    clock = FakeClock()
    starts: list[float] = []  # epoch, from every worker
    key = f"k{next(_keys)}"
    limiters = [
        SharedRateLimiter(p, key, limit, clock=clock, window_s=window, margin_s=0,
                          on_start=starts.append)
        for p in pools
    ]  # fmt: skip
    promises: list[tuple[int, int, float]] = []
    blocks: list[tuple[int, float]] = []
    for op in ops:
        if op[0] == "advance":
            clock.advance(op[1])
            continue
        limiter = limiters[op[1]]
        if op[0] == "acquire":
            before = len(starts)
            took = limiter.acquire(max_wait=op[2])
            assert len(starts) == before + took
        elif op[0] == "observe":
            remaining, reset = op[2], clock.time() + op[3]
            limiter.observe(
                {"X-RateLimit-Remaining": str(remaining), "X-RateLimit-Reset": str(reset)}
            )
            promises.append((len(starts), remaining, reset))
        else:
            until = clock.time() + op[2]
            limiter.block_until(until)
            blocks.append((len(starts), until))
    assert max_in_window(starts, window) <= limit
    for first, remaining, reset in promises:
        assert sum(1 for t in starts[first:] if t < reset - 1e-6) <= remaining
    for first, until in blocks:
        assert all(t >= until - 1e-6 for t in starts[first:])


def test_what_one_worker_learns_binds_the_others(pools: list[ConnectionPool]) -> None:
    clock = FakeClock()
    a, b = (SharedRateLimiter(p, "ws", 60, clock=clock, margin_s=0) for p in pools[:2])
    a.observe({"X-RateLimit-Limit": "2"})
    assert b.limit == 2
    assert a.acquire() and b.acquire()
    assert b.wait_time() == 60 and a.acquire(max_wait=59) is False
    b.block_until(clock.time() + 90)
    assert a.wait_time() == 90
    a.observe({"Content-Type": "application/json"})  # nothing to learn: nothing written
    assert b.limit == 2


def test_a_spent_budget_defers_instead_of_holding_the_cycle(pools: list[ConnectionPool]) -> None:
    clock = FakeClock()
    a = SharedRateLimiter(pools[0], "ws", 1, clock=clock, margin_s=0, max_block_s=5)
    b = SharedRateLimiter(pools[1], "ws", 1, clock=clock, margin_s=0, max_block_s=5)
    assert a.acquire()
    with pytest.raises(RateLimited, match="spent for the next 60s") as err:
        b.acquire()
    assert err.value.retry_after == 60 and clock.slept == 0
    clock.advance(56)
    assert b.acquire() and clock.slept == 4  # a wait within max_block_s is waited


def test_three_clients_sharing_a_60_per_minute_workspace_get_no_429(
    pools: list[ConnectionPool],
) -> None:
    clock = FakeClock()
    sandbox = Sandbox(seed(60), clock=clock, faults=Faults())
    with SandboxServer(sandbox) as server:
        clients = [
            WarmySenderClient(server.base_url, Secret(DEMO_KEY), clock=clock,
                              limiter=SharedRateLimiter(p, "ws_demo", clock=clock))
            for p in pools
        ]  # fmt: skip

        def work(client: WarmySenderClient) -> None:
            for _ in range(50):
                client.list_mailboxes()

        threads = [threading.Thread(target=work, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for c in clients:
            c.close()
    calls = sandbox.state()["workspaces"][0]["requestsByEndpoint"]
    assert calls == {"GET /mailboxes": 150}  # every call answered the first time: no 429
    assert clock.slept >= 120  # 150 calls at 60 a minute
