"""A scripted WarmySender for httpx.MockTransport: queued answers, recorded requests."""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from sheetsync.api import RateLimiter, RetryPolicy, WarmySenderClient
from sheetsync.clock import FakeClock
from sheetsync.config import Secret

KEY = "wsk_live_S3CRET_do_not_leak_91f2"
BASE = "http://127.0.0.1:9/api/v1"


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    exc: type[httpx.TransportError] | None = None
    message: str = ""


class Wire:
    """Answers are served in order; every request (with its body bytes) is recorded."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.answers: deque[Answer | Callable[[httpx.Request], httpx.Response]] = deque()

    def add(
        self,
        status: int = 200,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Wire:
        self.answers.append(Answer(status, body, headers or {}, raw))
        return self

    def fail(self, exc: type[httpx.TransportError], message: str = "") -> Wire:
        self.answers.append(Answer(exc=exc, message=message))
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        assert self.answers, f"unexpected request {request.method} {request.url}"
        answer = self.answers.popleft()
        if callable(answer):
            return answer(request)
        if answer.exc is not None:
            raise answer.exc(answer.message, request=request)
        if answer.raw is not None:
            return httpx.Response(answer.status, content=answer.raw, headers=answer.headers)
        return httpx.Response(answer.status, json=answer.body, headers=answer.headers)

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)

    def path(self, i: int = -1) -> str:
        return self.requests[i].url.path.removeprefix("/api/v1")


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http(wire: Wire) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(wire.handler)) as client:
        yield client


@pytest.fixture
def client(http: httpx.Client, clock: FakeClock) -> Iterator[WarmySenderClient]:
    with WarmySenderClient(
        BASE,
        Secret(KEY),
        http=http,
        clock=clock,
        limiter=RateLimiter(clock=clock),
        retry=RetryPolicy(),
        rng=random.Random(7),
    ) as c:
        yield c
