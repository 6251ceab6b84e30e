"""The status/code → exception table, row by row, through the real client."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sheetsync.api import RateLimiter, RetryPolicy, WarmySenderClient
from sheetsync.api.refusals import TABLE, Refusal, to_error
from sheetsync.clock import FakeClock
from sheetsync.config import Secret
from sheetsync.errors import (
    ApiError,
    AuthError,
    Forbidden,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PaymentRequired,
    RateLimited,
    RetriableError,
    RowError,
    ScopeError,
    StateConflict,
)

from .conftest import BASE, KEY, Wire

META = {"meta": {"request_id": "req_42"}}


def err(code: str | None, message: str, **extra: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"message": message, **extra}
    if code:
        fields["code"] = code
    return {"error": fields, **META}


# status, body (bytes = not JSON), expected class, expected code, text the message must hold,
# extra attributes
CASES: list[tuple[int, Any, type[ApiError], str | None, str, dict[str, Any]]] = [
    (401, err("unauthorized", "Invalid API key"), AuthError, "unauthorized",
     "was refused (revoked, expired or wrong): create a new key", {}),
    (403, err("insufficient_scope", "Insufficient scope", required_scope="campaigns:write"),
     ScopeError, "insufficient_scope", "lacks the campaigns:write scope: create a key with "
     "campaigns:write", {"missing_scope": "campaigns:write"}),
    (403, err(None, "insufficient scope: this key needs enrollments:write"), ScopeError, None,
     "create a key with enrollments:write", {"missing_scope": "enrollments:write"}),
    (403, err("insufficient_scope", "missing scope"), ScopeError, "insufficient_scope",
     "lacks a scope this call needs", {"missing_scope": None}),
    (403, err("forbidden", "Workspace suspended"), Forbidden, "forbidden",
     "WarmySender refused this key: Workspace suspended", {}),
    (400, {"message": "email is required"}, InvalidRequest, None,
     "rejected the data: email is required", {}),
    (422, err("validation_error", "steps[0].subject is required", fix="Add a subject"),
     InvalidRequest, "validation_error", "steps[0].subject is required Add a subject", {}),
    (402, err("subscription_inactive", "Your subscription is inactive"), PaymentRequired,
     "subscription_inactive", "subscription is not active: Your subscription is inactive", {}),
    (404, err("not_found", "Campaign not found"), NotFound, "not_found",
     "no such resource: Campaign not found", {}),
    (409, err("idempotency_key_reused", "Key reused with a different body"),
     IdempotencyConflict, "idempotency_key_reused", "sheetsync bug", {}),
    (409, {"message": "Idempotency-Key was already used with another payload"},
     IdempotencyConflict, None, "reused Idempotency-Key", {}),
    (409, err("invalid_state", "Campaign is running; pause it first"), StateConflict,
     "invalid_state", "current state: Campaign is running; pause it first", {}),
    (429, err("rate_limited", "Too many requests"), RateLimited, "rate_limited",
     "still rate limiting", {"retry_after": 7.0}),
    (500, b"Internal Server Error", RetriableError, None, "Internal Server Error", {}),
    (503, err("unavailable", "maintenance", docs_url="https://status.example"),
     RetriableError, "unavailable", "maintenance", {"fix": "See https://status.example."}),
    (408, b"", RetriableError, None, "HTTP 408 Request Timeout", {}),
    (405, err("method_not_allowed", "PATCH is not supported here"), RowError,
     "method_not_allowed", "refused the request: PATCH is not supported here", {}),
    (302, b"<html>moved</html>", ApiError, None, "unexpected HTTP 302: HTTP 302 Found", {}),
]  # fmt: skip


@pytest.fixture
def once(wire: Wire, clock: FakeClock) -> Iterator[WarmySenderClient]:
    """A client that never retries, so each answer maps straight through the table."""
    with (
        httpx.Client(transport=httpx.MockTransport(wire.handler)) as http,
        WarmySenderClient(
            BASE,
            Secret(KEY),
            http=http,
            clock=clock,
            limiter=RateLimiter(clock=clock),
            retry=RetryPolicy(max_attempts=1),
            rng=random.Random(1),
        ) as client,
    ):
        yield client


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "text", "attrs"),
    CASES,
    ids=[f"{c[0]}-{c[2].__name__}-{i}" for i, c in enumerate(CASES)],
)
def test_status_maps_to_exception(
    once: WarmySenderClient,
    wire: Wire,
    status: int,
    body: Any,
    cls: type[ApiError],
    code: str | None,
    text: str,
    attrs: dict[str, Any],
) -> None:
    headers = {"Retry-After": "7"} if status == 429 else {}
    if isinstance(body, bytes):
        wire.add(status, raw=body, headers=headers)
    else:
        wire.add(status, body, headers=headers)
    with pytest.raises(ApiError) as info:
        once.start_campaign("cmp_1", idempotency_key="start:cmp_1")
    exc = info.value
    assert type(exc) is cls
    assert (exc.status, exc.code, exc.endpoint) == (status, code, "POST /campaigns/{id}/start")
    assert exc.request_id == ("req_42" if isinstance(body, dict) and "meta" in body else None)
    assert text in str(exc)
    for name, value in attrs.items():
        assert getattr(exc, name) == value
    assert len(wire.requests) == 1


def test_every_table_row_is_covered() -> None:
    hit: set[int] = set()
    for status, body, _cls, code, _text, _attrs in CASES:
        message = (body.get("error") or body).get("message", "") if isinstance(body, dict) else ""
        refusal = Refusal(status=status, code=code, message=message)
        for i, row in enumerate(TABLE):
            if status in row.statuses and (row.when is None or row.when(refusal)):
                hit.add(i)
                break
    assert hit == set(range(len(TABLE)))


def test_fatal_and_row_branches() -> None:
    assert issubclass(Forbidden, AuthError)
    assert issubclass(PaymentRequired, RowError)
    assert not issubclass(IdempotencyConflict, RowError | RetriableError)
    unknown = to_error(Refusal(status=451, code=None, message="legal"), "GET /me")
    assert type(unknown) is RowError


def test_html_error_page_is_not_shown_raw(once: WarmySenderClient, wire: Wire) -> None:
    wire.add(404, raw=b"<html><body>Not Found</body></html>")
    with pytest.raises(NotFound) as info:
        once.get_campaign("x")
    assert "<html>" not in str(info.value)
    assert "HTTP 404 Not Found" in str(info.value)
