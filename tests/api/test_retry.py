"""Retries: what is retried, with which waits, and that a retried write is the same write."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from sheetsync.api import RateLimiter, RetryPolicy, WarmySenderClient
from sheetsync.clock import FakeClock
from sheetsync.config import Secret
from sheetsync.errors import IdempotencyConflict, RateLimited, RetriableError
from sheetsync.retry import parse_retry_after

from .conftest import BASE, KEY, Wire

CAMPAIGN = {"data": {"id": "cmp_1", "name": "Q3", "status": "draft"}}
BODY = {"name": "Q3", "mailboxIds": ["m1"], "steps": [{"stepIndex": 0, "subject": "Hi"}]}


def test_5xx_then_success(client: WarmySenderClient, wire: Wire, clock: FakeClock) -> None:
    wire.add(500, {"error": {"code": "internal", "message": "boom"}}).add(502, raw=b"")
    wire.add(201, CAMPAIGN)
    assert client.create_campaign(BODY, idempotency_key="create:q3").id == "cmp_1"
    assert len(wire.requests) == 3
    assert {r.headers["idempotency-key"] for r in wire.requests} == {"create:q3"}
    assert len({r.content for r in wire.requests}) == 1
    assert client.calls == {"POST /campaigns": 3}
    assert 0 < clock.slept <= 0.5 + 1.0  # two full-jitter waits within base*2**n


def test_timeout_then_success(client: WarmySenderClient, wire: Wire) -> None:
    wire.fail(httpx.ReadTimeout, "timed out").add(200, CAMPAIGN)
    assert client.get_campaign("cmp_1").id == "cmp_1"
    assert client.calls == {"GET /campaigns/{id}": 2}


def test_lost_response_is_retried_with_the_same_key_and_bytes(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.fail(httpx.RemoteProtocolError, "Server disconnected without sending a response.")
    wire.fail(httpx.ConnectError, "connection refused")
    wire.add(200, {"data": {"enrolled": 2}})
    result = client.enroll("cmp_1", emails=["a@x.io", "b@x.io"], idempotency_key="enroll:1")
    assert result.enrolled == 2
    assert [r.headers["idempotency-key"] for r in wire.requests] == ["enroll:1"] * 3
    assert len({r.content for r in wire.requests}) == 1
    assert [r.headers["authorization"] for r in wire.requests] == [f"Bearer {KEY}"] * 3


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=30.0)
    rng = random.Random(3)
    for retry in range(12):
        ceiling = min(30.0, 0.5 * 2**retry)
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # full jitter spreads over the whole range


def test_deadline_exhausted_raises_retriable(wire: Wire, clock: FakeClock) -> None:
    for _ in range(50):
        wire.add(503, {"error": {"code": "unavailable", "message": "down"}})
    policy = RetryPolicy(base_s=10.0, cap_s=30.0, deadline_s=60.0, max_attempts=50)
    with (
        httpx.Client(transport=httpx.MockTransport(wire.handler)) as http,
        WarmySenderClient(
            BASE, Secret(KEY), http=http, clock=clock, retry=policy, rng=random.Random(5)
        ) as client,  # fmt: skip
        pytest.raises(RetriableError) as info,
    ):
        client.get_campaign("cmp_1")
    assert type(info.value) is RetriableError
    assert info.value.status == 503 and info.value.endpoint == "GET /campaigns/{id}"
    assert clock.slept <= 60.0
    assert 2 <= len(wire.requests) < 50


def test_max_attempts_on_timeouts(client: WarmySenderClient, wire: Wire) -> None:
    for _ in range(8):
        wire.fail(httpx.ConnectTimeout, "connect timed out")
    with pytest.raises(RetriableError, match="after 8 attempts") as info:
        client.me()
    assert info.value.code == "timeout" and info.value.status is None
    assert client.calls == {"GET /me": 8}


def test_idempotency_conflict_is_never_retried(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(409, {"error": {"code": "idempotency_key_reused", "message": "different body"}})
    with pytest.raises(IdempotencyConflict):
        client.create_prospect({"email": "a@x.io"}, idempotency_key="k")
    assert len(wire.requests) == 1
    assert client.total_calls == 1


def test_4xx_is_not_retried(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(422, {"error": {"code": "validation_error", "message": "bad"}})
    with pytest.raises(Exception, match="bad"):
        client.create_campaign(BODY, idempotency_key="k")
    assert len(wire.requests) == 1


def test_429_waits_retry_after_on_the_clock(
    client: WarmySenderClient, wire: Wire, clock: FakeClock
) -> None:
    start = clock.time()
    wire.add(429, {"error": {"code": "rate_limited", "message": "slow down"}},
             headers={"Retry-After": "12"})  # fmt: skip
    wire.add(200, CAMPAIGN)
    assert client.get_campaign("cmp_1").id == "cmp_1"
    assert clock.slept == pytest.approx(12.0)
    assert clock.time() - start == pytest.approx(12.0)
    assert client.calls == {"GET /campaigns/{id}": 2}


def test_429_with_http_date(client: WarmySenderClient, wire: Wire, clock: FakeClock) -> None:
    when = datetime.fromtimestamp(clock.time() + 30, UTC)
    wire.add(429, {"error": {"code": "rate_limited", "message": "x"}},
             headers={"Retry-After": format_datetime(when, usegmt=True)})  # fmt: skip
    wire.add(200, CAMPAIGN)
    client.get_campaign("cmp_1")
    assert clock.slept == pytest.approx(30.0)


def test_429_blocks_the_shared_limiter(wire: Wire, clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    wire.add(429, {"error": {"code": "rate_limited", "message": "x"}},
             headers={"Retry-After": "20"})  # fmt: skip
    wire.add(200, CAMPAIGN)
    with (
        httpx.Client(transport=httpx.MockTransport(wire.handler)) as http,
        WarmySenderClient(BASE, Secret(KEY), http=http, clock=clock, limiter=limiter) as a,
    ):
        # another client of the same workspace waits as well, before its first call
        limiter.block_until(clock.time() + 5)
        a.get_campaign("cmp_1")
        assert limiter.wait_time() == 0.0
    assert clock.slept == pytest.approx(25.0)


def test_429_past_the_deadline_gives_up_with_retry_after(
    client: WarmySenderClient, wire: Wire, clock: FakeClock
) -> None:
    wire.add(429, {"error": {"code": "rate_limited", "message": "x"}},
             headers={"Retry-After": "3600"})  # fmt: skip
    with pytest.raises(RateLimited) as info:
        client.get_campaign("cmp_1")
    assert info.value.retry_after == 3600.0
    assert "3600" in str(info.value)
    assert clock.slept == 0.0 and len(wire.requests) == 1


def test_503_retry_after_is_honoured(
    client: WarmySenderClient, wire: Wire, clock: FakeClock
) -> None:
    wire.add(503, raw=b"busy", headers={"Retry-After": "4"}).add(200, CAMPAIGN)
    client.get_campaign("cmp_1")
    assert clock.slept == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 2.5 ", 2.5), ("-3", 0.0), ("soon", None), ("", None), (None, None),
     ("Wed, 21 Oct 2026 07:28:00 GMT", 0.0)],
)  # fmt: skip
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1_900_000_000.0) == expected


@pytest.mark.parametrize("base", ["warmysender.com/api/v1", "http://[::1/api/v1"])
def test_bad_base_url_is_a_clear_error(clock: FakeClock, base: str) -> None:
    with WarmySenderClient(base, Secret(KEY), clock=clock) as client:
        with pytest.raises(Exception, match=r"check \[warmysender\] base_url") as info:
            client.me()
    assert KEY not in str(info.value)
