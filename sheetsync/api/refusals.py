"""WarmySender error answers → sheetsync exceptions, through one table.

A refusal body is `{error: {code, message, fix?, docs_url?, required_scope?}}`, or a top-level
`message`, or not JSON at all; `read_refusal` accepts each. `to_error` walks `TABLE` and builds
the exception of the first row that matches: the same table the tests check row by row.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

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

_SCOPE = re.compile(r"\b([a-z_]+:(?:read|write))\b")
_SCOPE_WORDS = re.compile(r"insufficient[ _-]?scope|missing[ _-]?scope|scope[ _-]?required", re.I)
KEY_FIX = (
    "create a new key in WarmySender (Settings > API Keys) and export it in the variable named "
    "by [warmysender] api_key_env (WARMYSENDER_API_KEY by default)"
)


@dataclass(frozen=True)
class Refusal:
    """What the server said, read tolerantly; texts already have the key redacted."""

    status: int
    code: str | None
    message: str
    fix: str | None = None
    scope: str | None = None
    request_id: str | None = None
    retry_after: float | None = None


def read_refusal(response: httpx.Response, redact: Callable[[str], str]) -> Refusal:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    err: Any = body.get("error") if isinstance(body, dict) else None
    fields: Mapping[str, Any] = err if isinstance(err, dict) else {}
    top: Mapping[str, Any] = body if isinstance(body, dict) else {}
    message = _text(fields.get("message")) or _text(err) or _text(top.get("message"))
    if not message and body is None:
        snippet = " ".join(response.text.split())[:200]
        message = snippet if snippet and "<" not in snippet else ""
    if not message:
        message = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    fix = _text(fields.get("fix"))
    docs = _text(fields.get("docs_url") or fields.get("docsUrl"))
    if docs:
        fix = f"{fix} (see {docs})" if fix else f"See {docs}."
    meta = top.get("meta")
    request_id = (
        _text(meta.get("request_id") or meta.get("requestId")) if isinstance(meta, dict) else None
    )
    retry = fields.get("retry_after", fields.get("retryAfter"))
    return Refusal(
        status=response.status_code,
        code=_text(fields.get("code")) or _text(top.get("code")),
        message=redact(message),
        fix=redact(fix) if fix else None,
        scope=_text(fields.get("required_scope") or fields.get("scope")),
        request_id=request_id or response.headers.get("x-request-id"),
        retry_after=float(retry) if isinstance(retry, int | float) and retry >= 0 else None,
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _is_scope(r: Refusal) -> bool:
    return (r.code or "").lower() == "insufficient_scope" or bool(_SCOPE_WORDS.search(r.message))


def _is_idempotency(r: Refusal) -> bool:
    return "idempot" in (r.code or r.message).lower()


def _scope_error(r: Refusal, kw: dict[str, Any]) -> ApiError:
    found = _SCOPE.search(r.message)
    scope = r.scope or (found.group(1) if found else None)
    if scope:
        text = (
            f"the WarmySender API key lacks the {scope} scope: create a key with {scope} "
            f"(Settings > API Keys) and use it instead (the server said: {r.message})"
        )
    else:
        text = (
            "the WarmySender API key lacks a scope this call needs: create a key with "
            "prospects:read/write, campaigns:read/write, enrollments:write and mailboxes:read "
            f"(the server said: {r.message})"
        )
    return ScopeError(text, missing_scope=scope, **kw)


def _asks(retry_after: float | None) -> str:
    return f" (it asks to wait {retry_after:g}s)" if retry_after is not None else ""


Build = Callable[[Refusal, dict[str, Any]], ApiError]


@dataclass(frozen=True)
class Row:
    statuses: frozenset[int]
    when: Callable[[Refusal], bool] | None
    build: Build


def _s(*codes: int) -> frozenset[int]:
    return frozenset(codes)


_5XX = frozenset(range(500, 600))
_4XX = frozenset(range(400, 500))

TABLE: tuple[Row, ...] = (
    Row(_s(401), None, lambda r, kw: AuthError(
        f"the WarmySender API key was refused (revoked, expired or wrong): {KEY_FIX} "
        f"(the server said: {r.message})", **kw)),
    Row(_s(403), _is_scope, _scope_error),
    Row(_s(403), None, lambda r, kw: Forbidden(
        f"WarmySender refused this key: {r.message}. Check the key's workspace and plan in "
        f"WarmySender, or {KEY_FIX}", **kw)),
    Row(_s(400, 422), None, lambda r, kw: InvalidRequest(
        f"WarmySender rejected the data: {r.message}", **kw)),
    Row(_s(402), None, lambda r, kw: PaymentRequired(
        f"WarmySender refused because the subscription is not active: {r.message}. Renew the "
        f"plan in WarmySender (Billing), then sync again", **kw)),
    Row(_s(404), None, lambda r, kw: NotFound(
        f"WarmySender has no such resource: {r.message} (deleted in WarmySender, or a wrong "
        f"id)", **kw)),
    Row(_s(409), _is_idempotency, lambda r, kw: IdempotencyConflict(
        f"WarmySender refused a reused Idempotency-Key with a different body: {r.message}. "
        f"This is a sheetsync bug; please report it", **kw)),
    Row(_s(409), None, lambda r, kw: StateConflict(
        f"WarmySender refused in the resource's current state: {r.message}", **kw)),
    Row(_s(429), None, lambda r, kw: RateLimited(
        f"WarmySender is still rate limiting{_asks(r.retry_after)}: {r.message}. The call is "
        f"left for the next poll", retry_after=r.retry_after, **kw)),
    Row(_s(408) | _5XX, None, lambda r, kw: RetriableError(
        f"WarmySender kept failing ({r.message}); gave up after retrying. It will be tried "
        f"again next poll", **kw)),
    Row(_4XX, None, lambda r, kw: RowError(
        f"WarmySender refused the request: {r.message}", **kw)),
)  # fmt: skip


def to_error(r: Refusal, endpoint: str) -> ApiError:
    """The exception for a refusal of `endpoint` (a route template like "POST /prospects")."""
    kw: dict[str, Any] = {
        "status": r.status,
        "code": r.code,
        "endpoint": endpoint,
        "request_id": r.request_id,
        "fix": r.fix,
    }
    for row in TABLE:
        if r.status in row.statuses and (row.when is None or row.when(r)):
            return row.build(r, kw)
    return ApiError(f"WarmySender answered with an unexpected HTTP {r.status}: {r.message}", **kw)
