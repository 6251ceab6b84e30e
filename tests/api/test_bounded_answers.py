"""Answers that never end or never stop: a real server on 127.0.0.1 that trickles its answer a
byte at a time (headers or body), or floods one far larger than any WarmySender page. Each
attempt ends by its total deadline (`timeout_s`, headers and body together; httpx's own timeout
bounds each read only), the retry deadline bounds the attempts, and an answer over the size cap
is not read. Retry waits pass on a FakeClock; only the trickle itself takes real time.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator

import pytest

from sheetsync.api import RateLimiter, RetryPolicy, WarmySenderClient
from sheetsync.api.parse import Unreadable
from sheetsync.clock import FakeClock, SystemClock
from sheetsync.config import Secret
from sheetsync.errors import RetriableError

from .conftest import KEY
from .slow_server import RawRequest, SlowServer, answer

CAMPAIGN = b'{"data":{"id":"cmp_1","name":"Q3","status":"draft"}}'
EVERY_S = 0.1  # a byte every 100 ms: every read succeeds long before any per-read timeout


def client_of(server: SlowServer, **kw: object) -> WarmySenderClient:
    clock = kw.pop("clock", FakeClock())
    return WarmySenderClient(
        server.base_url,
        Secret(KEY),
        clock=clock,  # type: ignore[arg-type]
        limiter=RateLimiter(clock=clock),  # type: ignore[arg-type]
        rng=random.Random(1),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def headers_trickle() -> Iterator[SlowServer]:
    def serve(req: RawRequest, conn: socket.socket) -> None:
        server.trickle(conn, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 10_000, EVERY_S)

    with SlowServer(serve) as server:
        yield server


@pytest.fixture
def body_trickle() -> Iterator[SlowServer]:
    def serve(req: RawRequest, conn: socket.socket) -> None:
        head, body = answer(200, CAMPAIGN + b" " * 10_000).split(b"\r\n\r\n", 1)
        conn.sendall(head + b"\r\n\r\n")
        server.trickle(conn, body, EVERY_S)

    with SlowServer(serve) as server:
        yield server


@pytest.mark.parametrize("trickle", ["headers_trickle", "body_trickle"])
def test_a_trickled_answer_ends_each_attempt_at_its_total_deadline(
    trickle: str, request: pytest.FixtureRequest
) -> None:
    server: SlowServer = request.getfixturevalue(trickle)
    policy = RetryPolicy(max_attempts=2)
    t0 = time.monotonic()
    with (
        client_of(server, timeout_s=1.0, retry=policy) as client,
        pytest.raises(RetriableError) as caught,
    ):
        client.get_campaign("cmp_1")
    took = time.monotonic() - t0
    assert caught.value.code == "timeout" and "after 2 attempts" in str(caught.value)
    assert len(server.requests) == 2
    assert 1.9 < took < 10, took  # two attempts of 1 s each, not the 1,000 s the trickle lasts
    assert server.sent >= 15  # the server kept trickling: no single read ever timed out


def test_the_retry_deadline_cuts_an_attempt_short(body_trickle: SlowServer) -> None:
    """timeout_s = 30, but the call's retry deadline is 2 s away: the attempt ends then."""
    policy = RetryPolicy(base_s=0.01, cap_s=0.01, deadline_s=2.0, max_attempts=100)
    t0 = time.monotonic()
    with client_of(body_trickle, timeout_s=30.0, retry=policy, clock=SystemClock()) as client:
        with pytest.raises(RetriableError):
            client.get_campaign("cmp_1")
    assert time.monotonic() - t0 < 3.5


def test_an_answer_over_the_size_cap_is_not_read() -> None:
    def serve(req: RawRequest, conn: socket.socket) -> None:
        server.flood(conn, 200, 200 * 1024 * 1024)

    with SlowServer(serve) as server, client_of(server, max_body_bytes=1024 * 1024) as client:
        with pytest.raises(Unreadable, match="larger than the 1,048,576 bytes"):
            client.list_campaigns()
        assert len(server.requests) == 1  # not retried: the next answer would be as large
    assert server.sent < 16 * 1024 * 1024  # stopped reading at the cap (plus socket buffers)


def test_a_huge_error_answer_is_not_read_and_still_retried() -> None:
    def serve(req: RawRequest, conn: socket.socket) -> None:
        if len(server.requests) == 1:
            server.flood(conn, 503, 50 * 1024 * 1024)
        else:
            conn.sendall(answer(200, CAMPAIGN))

    with SlowServer(serve) as server, client_of(server, max_body_bytes=1024 * 1024) as client:
        assert client.get_campaign("cmp_1").id == "cmp_1"
        assert len(server.requests) == 2
