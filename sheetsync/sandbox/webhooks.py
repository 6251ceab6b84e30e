"""Webhooks as WarmySender sends them: endpoints, signed deliveries, retries on the sandbox clock.

An endpoint is `{id, url, events, isActive, createdAt}` plus its `secret` (`whsec_…`, shown only
in the answer to POST /webhooks). The URL must be https; plain http is accepted only for a
loopback host (127.0.0.0/8, ::1, localhost), so a receiver on this machine can be tried.

A delivery is one event for one endpoint: `POST <url>` with the JSON envelope
`{"type", "data", "timestamp"}` and the headers

    X-Warmy-Event-Id: <uuid>              the same on every attempt (de-duplication)
    X-Warmy-Event-Type: <type>
    X-Warmy-Timestamp: <ISO 8601>         informational
    X-Warmy-Signature: t=<unix ms>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>

signed afresh at each attempt with the sandbox clock. A 2xx answer within TIMEOUT_S delivers
it; anything else (another status, a refused connection, a timeout) is tried again
`RETRY_AFTER_S[n]` seconds later on the sandbox clock, at most len(RETRY_AFTER_S) times, then
the delivery is `failed`. `Outbox` keeps the deliveries; the Sandbox decides when attempts run
(`Sandbox.deliver_due`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from sheetsync.config import webhook_url_fault
from sheetsync.sandbox.validate import JSON, invalid, stamp

# The events `POST /_sandbox/events` makes happen (events.py), then the others WarmySender
# documents (warmysender-api.md §5.10), which an endpoint may subscribe to.
MADE = (
    "email.sent",
    "email.opened",
    "email.clicked",
    "reply.received",
    "email.bounced",
    "email.unsubscribed",
    "prospect.suppressed",
)
EVENTS = (
    *MADE,
    "limit.hit",
    "linkedin.reply_received",
    "linkedin.invite_accepted",
    "webhook.test",
)
TIMEOUT_S = 5.0
# 1 minute to 72 hours, ten retries (WarmySender: "up to 10, exponential backoff from 1 minute
# to 72 hours"; the exact steps are the sandbox's choice).
RETRY_AFTER_S = (60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400, 259200)
MAX_BODY = 256 * 1024


_TLS: list[ssl.SSLContext] = []


def tls_context() -> ssl.SSLContext:
    """One TLS context for every delivery client (loading the CA bundle takes ~40 ms)."""
    if not _TLS:
        _TLS.append(ssl.create_default_context())
    return _TLS[0]


def sign(secret: str, t_ms: int, body: bytes) -> str:
    """The X-Warmy-Signature value for `body` signed at `t_ms`."""
    mac = hmac.new(secret.encode(), f"{t_ms}.".encode() + body, hashlib.sha256)
    return f"t={t_ms},v1={mac.hexdigest()}"


def check_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("url is required: the https URL WarmySender should call")
    url = value.strip()
    fault = webhook_url_fault(url)
    if fault == "unparsable":
        raise invalid(f"url {url!r} is not a valid URL")
    if fault == "not https":
        raise invalid(f"url {url!r} must be an https:// URL")
    if fault == "remote http":
        raise invalid(
            f"url {url!r} must use https; plain http is accepted only for a loopback address "
            "(127.0.0.1, ::1, localhost)"
        )
    return url


def check_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise invalid("events is required: a non-empty list of event types")
    unknown = [e for e in value if e not in EVENTS]
    if unknown:
        raise invalid(f"events: unknown event type {unknown[0]!r}; known: {', '.join(EVENTS)}")
    return list(dict.fromkeys(value))


@dataclass
class Endpoint:
    id: str
    url: str
    events: list[str]
    secret: str
    created_at: str
    active: bool = True

    def to_json(self, *, with_secret: bool = False) -> JSON:
        out: JSON = {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "isActive": self.active,
            "createdAt": self.created_at,
        }
        if with_secret:
            out["secret"] = self.secret
        return out


def new_endpoint(endpoint_id: str, body: JSON, now: float) -> Endpoint:
    """Validate a POST /webhooks body into an Endpoint with a fresh secret."""
    return Endpoint(
        id=endpoint_id,
        url=check_url(body.get("url")),
        events=check_events(body.get("events")),
        secret="whsec_" + secrets.token_hex(24),
        created_at=stamp(now),
    )


@dataclass
class Delivery:
    """One event for one endpoint, and every attempt made."""

    event_id: str
    type: str
    body: bytes  # the envelope as sent, byte for byte on every attempt
    endpoint: Endpoint
    next_at: float
    status: str = "pending"  # pending, delivered, failed
    attempts: list[JSON] = field(default_factory=list)  # {at, status} or {at, error}
    in_flight: bool = False

    def to_json(self) -> JSON:
        return {
            "eventId": self.event_id,
            "type": self.type,
            "webhookId": self.endpoint.id,
            "status": self.status,
            "attempts": [dict(a) for a in self.attempts],
            "nextAttemptAt": stamp(self.next_at) if self.status == "pending" else None,
        }


def envelope(event_type: str, data: JSON, at: float) -> bytes:
    return json.dumps(
        {"type": event_type, "data": data, "timestamp": stamp(at)}, separators=(",", ":")
    ).encode()


class Outbox:
    """Every delivery of the sandbox. Not thread-safe: the Sandbox holds its lock around each
    method (attempts themselves run outside the lock, see `attempt`)."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def add(
        self, event_id: str, event_type: str, body: bytes, to: Sequence[Endpoint], now: float
    ) -> list[Delivery]:
        made = [Delivery(event_id, event_type, body, e, now) for e in to]
        self.deliveries.extend(made)
        return made

    def take_due(self, now: float) -> list[Delivery]:
        """The pending deliveries whose time has come, marked in flight."""
        due = [d for d in self.deliveries if d.status == "pending" and not d.in_flight]
        due = [d for d in due if d.next_at <= now and d.endpoint.active]
        for d in due:
            d.in_flight = True
        return due

    def again(self, event_id: str, now: float) -> list[Delivery]:
        """A second delivery of an event already sent (a duplicate, as after a timeout)."""
        sent = [d for d in self.deliveries if d.event_id == event_id]
        if not sent:
            raise invalid(f"eventId {event_id!r}: no such event was delivered")
        copies = [Delivery(d.event_id, d.type, d.body, d.endpoint, now) for d in sent]
        for d in copies:
            d.in_flight = True
        self.deliveries.extend(copies)
        return copies

    @staticmethod
    def record(d: Delivery, result: JSON, now: float) -> None:
        d.in_flight = False
        d.attempts.append(result)
        status = result.get("status")
        if isinstance(status, int) and 200 <= status < 300:
            d.status = "delivered"
        elif len(d.attempts) > len(RETRY_AFTER_S):
            d.status = "failed"
        else:
            d.next_at = now + RETRY_AFTER_S[len(d.attempts) - 1]

    def state(self) -> list[JSON]:
        return [d.to_json() for d in self.deliveries]


def attempt(http: httpx.Client, d: Delivery, now: float) -> JSON:
    """POST the delivery once, signed at `now`; {at, status, ms} or {at, error, ms}, where `ms`
    is how long the receiver took to answer (real milliseconds)."""
    t_ms = int(now * 1000)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WarmySender-Webhooks (sheetsync sandbox)",
        "X-Warmy-Event-Id": d.event_id,
        "X-Warmy-Event-Type": d.type,
        "X-Warmy-Timestamp": stamp(now),
        "X-Warmy-Signature": sign(d.endpoint.secret, t_ms, d.body),
    }
    t0 = time.perf_counter()
    try:
        response = http.post(d.endpoint.url, content=d.body, headers=headers)
    except httpx.HTTPError as exc:
        took = round((time.perf_counter() - t0) * 1000, 1)
        return {"at": stamp(now), "error": type(exc).__name__, "ms": took}
    took = round((time.perf_counter() - t0) * 1000, 1)
    return {"at": stamp(now), "status": response.status_code, "ms": took}
