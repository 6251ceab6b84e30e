"""The Sandbox: the in-memory WarmySender service, without HTTP.

`Sandbox.handle(method, target, headers, body)` answers one request with a `Reply`. Order of
the checks on /api/v1 (each step answers and stops when it applies):

1. the Bearer key → workspace (401 unauthorized); the request is counted for the workspace;
2. burst_429 fault, then the fixed 60-second rate-limit window (429 rate_limited, no work);
3. error_rate fault (500/503, no work);
4. the route (404/405) and its scope (403 insufficient_scope);
5. the JSON body (400 invalid_json);
6. Idempotency-Key on writes: replay the stored answer, or 409 idempotency_key_reused;
7. the work; a 2xx answer to a keyed write is stored for 24 h;
8. drop faults: the answer is thrown away and the connection closed (a lost response);
9. latency_ms: the answer waits on the clock.

Every /api/v1 answer for a known workspace carries X-RateLimit-Limit/Remaining/Reset.

Webhooks: events (email.sent from the sending simulation, and those made with
`POST /_sandbox/events`) become one delivery per endpoint subscribed to their type;
`deliver_due()` attempts the deliveries whose time has come on the sandbox clock, outside the
lock (see webhooks.py for the signature and the retry steps).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from sheetsync.clock import Clock, SystemClock
from sheetsync.sandbox.events import apply_event
from sheetsync.sandbox.faults import Faults
from sheetsync.sandbox.routes import Route, endpoint_name, match, page
from sheetsync.sandbox.seed import check_seed, demo_seed
from sheetsync.sandbox.validate import JSON, PROSPECT_STATUSES, Refusal, invalid
from sheetsync.sandbox.webhooks import (
    TIMEOUT_S,
    Delivery,
    Outbox,
    attempt,
    envelope,
    tls_context,
)
from sheetsync.sandbox.workspace import Workspace

__all__ = ["Faults", "Reply", "Sandbox"]  # Faults re-exported: it used to live here

WINDOW_S = 60
_WEBHOOK_ROUTES = (
    "POST /_sandbox/events",
    "POST /_sandbox/webhooks/deliver",
    "POST /_sandbox/webhooks/redeliver",
)
IDEMPOTENCY_TTL_S = 24 * 3600
WRITES = ("POST", "PATCH", "DELETE")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    endpoint: str = ""  # route template, for the request log


@dataclass
class _Stored:
    fingerprint: str
    status: int
    body: bytes
    expires: float


def _expire(store: dict[str, _Stored], heap: list[tuple[float, str]], now: float) -> None:
    """Drop the stored answers whose time is over, soonest first: O(log n) per answer, where
    scanning the whole store on every write made a long backlog quadratic."""
    while heap and heap[0][0] <= now:
        _, key = heapq.heappop(heap)
        stored = store.get(key)
        if stored is not None and stored.expires <= now:
            del store[key]


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=False).encode()


class Sandbox:
    """The service and its rules. Thread-safe: one lock around each request's work."""

    def __init__(
        self,
        seed: JSON | None = None,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._seed = check_seed(demo_seed() if seed is None else seed)
        self.clock: Clock = clock or SystemClock()
        self.faults = faults or Faults()
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Back to the seed: data, counters, rate windows and idempotency keys (not faults)."""
        with self._lock:
            self._workspaces = [Workspace(ws) for ws in check_seed(self._seed)["workspaces"]]
            self._keys = {key: ws for ws in self._workspaces for key in ws.keys}
            self._windows: dict[str, tuple[float, int]] = {}
            self._idempotency: dict[str, dict[str, _Stored]] = {}
            self._expiry: dict[str, list[tuple[float, str]]] = {}  # per workspace, a heap
            self._request_seq = 0
            self._outbox = Outbox()

    def state(self) -> JSON:
        """What GET /_sandbox/state returns."""
        with self._lock:
            now = self.clock.time()
            for ws in self._workspaces:
                ws.tick(now)
                self._flush(ws)
            return {
                "workspaces": [ws.state() for ws in self._workspaces],
                "deliveries": self._outbox.state(),
                "faults": asdict(self.faults),
            }

    # --- the entry point ---------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request. `headers` keys are lower-case."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query))
        if parts.path == "/_sandbox" or parts.path.startswith("/_sandbox/"):
            return self._admin(method, parts.path, body)
        with self._lock:
            reply = self._api(method, parts.path, query, headers, body)
            delay = self.faults.latency_ms
        if delay:
            self.clock.sleep(delay / 1000)
        return reply

    def _api(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Reply:
        if not path.startswith("/api/v1/"):
            return self._error(Refusal(404, "not_found", "no such path; the API is under /api/v1"))
        path = path[len("/api/v1") :]
        endpoint = endpoint_name(method, path)
        token = headers.get("authorization", "")
        ws = self._keys.get(token[7:].strip()) if token.lower().startswith("bearer ") else None
        api_key = ws.keys[token[7:].strip()] if ws else None
        if ws is None or api_key is None or api_key["revoked"]:
            return self._error(
                Refusal(
                    401,
                    "unauthorized",
                    "missing, unknown or revoked API key; send Authorization: Bearer <key> "
                    "with a key from Settings > API Keys",
                ),
                endpoint=endpoint,
            )
        ws.requests += 1
        ws.by_endpoint[endpoint] += 1
        now = self.clock.time()
        window = math.floor(now / WINDOW_S) * WINDOW_S
        reset = int(window + WINDOW_S)
        start, used = self._windows.get(ws.id, (window, 0))
        if start != window:
            used = 0
        limited = self.faults.burst_429 > 0 or used >= ws.rate_limit
        if self.faults.burst_429 > 0:
            self.faults.burst_429 -= 1
        elif not limited:
            used += 1
        self._windows[ws.id] = (window, used)
        rate = {
            "X-RateLimit-Limit": str(ws.rate_limit),
            "X-RateLimit-Remaining": str(max(0, ws.rate_limit - used)),
            "X-RateLimit-Reset": str(reset),
        }
        if limited:
            wait = max(1, math.ceil(reset - now))
            refusal = Refusal(
                429,
                "rate_limited",
                f"rate limit of {ws.rate_limit} requests per minute reached; "
                f"retry in {wait} seconds",
            )
            return self._error(refusal, {**rate, "Retry-After": str(wait)}, endpoint)
        if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
            status = self._rng.choice((500, 503))
            code = "internal_error" if status == 500 else "service_unavailable"
            refusal = Refusal(status, code, "the sandbox injected a server error (error_rate)")
            return self._error(refusal, rate, endpoint)
        try:
            route, ident = match(method, path)
            status, payload = self._work(ws, api_key, route, ident, query, headers, body, now)
        except Refusal as refusal:
            return self._error(refusal, rate, endpoint)
        if isinstance(payload, _Stored):  # an idempotent replay
            reply = Reply(payload.status, payload.body, {**rate, "Idempotent-Replayed": "true"})
        else:
            reply = Reply(status, payload, dict(rate))
        if self.faults.drop_next > 0:
            self.faults.drop_next -= 1
            return Reply(0, b"", drop=True, endpoint=endpoint)
        if self.faults.drop_rate and self._rng.random() < self.faults.drop_rate:
            return Reply(0, b"", drop=True, endpoint=endpoint)
        return Reply(reply.status, reply.body, reply.headers, endpoint=endpoint)

    def _work(
        self,
        ws: Workspace,
        api_key: JSON,
        route: Route,
        ident: str,
        query: dict[str, str],
        headers: dict[str, str],
        raw: bytes,
        now: float,
    ) -> tuple[int, bytes | _Stored]:
        if route.scope is not None and route.scope not in api_key["scopes"]:
            raise Refusal(
                403,
                "insufficient_scope",
                f"this API key lacks the {route.scope} scope; create a key with {route.scope} "
                "in Settings > API Keys",
                required_scope=route.scope,
            )
        body: JSON = {}
        if route.method in WRITES and raw.strip():
            try:
                parsed = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise Refusal(
                    400, "invalid_json", f"the request body is not valid JSON: {exc}"
                ) from exc
            if not isinstance(parsed, dict):
                raise invalid("the request body must be a JSON object")
            body = parsed
        key = headers.get("idempotency-key", "").strip()
        store = self._idempotency.setdefault(ws.id, {})
        fingerprint = ""
        if key and route.method in WRITES:
            canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
            fingerprint = hashlib.sha256(
                f"{route.method} {ident} {route.template}\n{canonical}".encode()
            ).hexdigest()
            _expire(store, self._expiry.setdefault(ws.id, []), now)
            stored = store.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise Refusal(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was already used with another request body or "
                        "path; use a new key for a different request",
                    )
                return stored.status, stored
        ws.tick(now)
        if route.template == "/me":
            status, data = 200, None
            out = _json(
                {
                    "apiKey": {
                        "id": api_key["id"],
                        "name": api_key["name"],
                        "scopes": list(api_key["scopes"]),
                    },
                    "workspace": {"id": ws.id},
                    "subscriptionActive": ws.subscription_active,
                }
            )
        else:
            status, data = route.handler(ws, ident, query, body, now)
            envelope: JSON = {"data": data}
            if route.is_list:
                envelope["data"], envelope["pagination"] = page(data, query)
            envelope["meta"] = {"request_id": self._request_id()}
            out = _json(envelope)
        if fingerprint and 200 <= status < 300:
            store[key] = _Stored(fingerprint, status, out, now + IDEMPOTENCY_TTL_S)
            heapq.heappush(self._expiry.setdefault(ws.id, []), (now + IDEMPOTENCY_TTL_S, key))
        self._flush(ws)
        return status, out

    def _request_id(self) -> str:
        self._request_seq += 1
        return f"req_{self._request_seq:08x}"

    def _error(
        self, refusal: Refusal, headers: dict[str, str] | None = None, endpoint: str = ""
    ) -> Reply:
        return Reply(refusal.status, _json(refusal.body()), dict(headers or {}), endpoint=endpoint)

    # --- /_sandbox/ --------------------------------------------------------------------------

    def _admin(self, method: str, path: str, raw: bytes) -> Reply:
        route = f"{method} {path.rstrip('/')}"
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return self._error(Refusal(400, "invalid_json", f"the body is not valid JSON: {exc}"))
        if not isinstance(body, dict):
            return self._error(invalid("the request body must be a JSON object"))
        try:
            if route in _WEBHOOK_ROUTES:
                payload = self._webhook_route(route, body)  # takes the lock only around state
            else:
                with self._lock:
                    payload = self._admin_route(route, body)
        except Refusal as refusal:
            return self._error(refusal, endpoint=route)
        return Reply(200, _json(payload), endpoint=route)

    # --- webhooks ------------------------------------------------------------------------------

    def event(self, body: JSON) -> JSON:
        """POST /_sandbox/events: apply the event, then deliver what is due (unless `deliver`
        is false): `{"event": {id, type, data}, "deliveries": [...]}`."""
        deliver = body.get("deliver", True)
        if not isinstance(deliver, bool):
            raise invalid("deliver must be true or false")
        with self._lock:
            ws = self._workspace(body.get("workspace"))
            now = self.clock.time()
            ws.tick(now)
            self._flush(ws)  # what happened before this event is delivered before it
            kind, data = apply_event(ws, body, now)
            ws.events.append((kind, data, now))
            made = self._flush(ws)
        event_id = made[0].event_id if made else None
        if deliver:
            self.deliver_due()
        with self._lock:
            return {
                "event": {"id": event_id, "type": kind, "data": data},
                "deliveries": [d.to_json() for d in made],
            }

    def deliver_due(self, *, workers: int = 1) -> list[JSON]:
        """Attempt every delivery whose time has come on the sandbox clock (`workers` at once);
        their state after the attempt. Safe from any thread: the HTTP calls run unlocked."""
        with self._lock:
            now = self.clock.time()
            for ws in self._workspaces:
                ws.tick(now)  # the sends due by now are events too
                self._flush(ws)
            due = self._outbox.take_due(now)
        return self._attempt(due, workers)

    def redeliver(self, event_id: str) -> list[JSON]:
        """Send an event that was already delivered once more, at once (a duplicate)."""
        with self._lock:
            copies = self._outbox.again(event_id, self.clock.time())
        return self._attempt(copies, 1)

    def _attempt(self, due: list[Delivery], workers: int) -> list[JSON]:
        if not due:
            return []
        with httpx.Client(timeout=TIMEOUT_S, verify=tls_context()) as http:

            def one(d: Delivery) -> tuple[Delivery, JSON]:
                return d, attempt(http, d, self.clock.time())

            if workers > 1:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    results = list(pool.map(one, due))
            else:
                results = [one(d) for d in due]
        with self._lock:
            for d, result in results:
                self._outbox.record(d, result, self.clock.time())
            return [d.to_json() for d in due]

    def _flush(self, ws: Workspace) -> list[Delivery]:
        """The workspace's new events, one delivery per endpoint that subscribes to them."""
        made: list[Delivery] = []
        for kind, data, at in ws.events:
            to = [e for e in ws.webhooks.values() if e.active and kind in e.events]
            if to:
                event_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
                made += self._outbox.add(event_id, kind, envelope(kind, data, at), to, at)
        ws.events.clear()
        return made

    def _webhook_route(self, route: str, body: JSON) -> JSON:
        if route == "POST /_sandbox/events":
            return self.event(body)
        if route == "POST /_sandbox/webhooks/deliver":
            return {"deliveries": self.deliver_due()}
        event_id = body.get("eventId")
        if not isinstance(event_id, str) or not event_id:
            raise invalid("eventId is required: the X-Warmy-Event-Id of a delivered event")
        return {"deliveries": self.redeliver(event_id)}

    def _admin_route(self, route: str, body: JSON) -> JSON:
        if route == "GET /_sandbox/state":
            return self.state()
        if route == "POST /_sandbox/faults":
            try:
                self.faults = self.faults.updated(body)
            except (TypeError, ValueError) as exc:
                raise invalid(str(exc)) from exc
            return asdict(self.faults)
        if route == "POST /_sandbox/reset":
            self.reset()
            return {"reset": True}
        if route == "POST /_sandbox/prospects/status":
            status = body.get("status")
            if status not in PROSPECT_STATUSES:
                raise invalid("status must be one of: " + ", ".join(PROSPECT_STATUSES))
            ws = self._workspace(body.get("workspace"))
            return ws.set_prospect_status(str(body.get("email", "")), status)
        if route == "POST /_sandbox/mailboxes":
            ws = self._workspace(body.get("workspace"))
            return ws.set_mailbox(str(body.get("email", "")), body)
        if route == "POST /_sandbox/campaigns":
            ws = self._workspace(body.get("workspace"))
            return ws.edit_campaign(str(body.get("id", "")), body)
        raise Refusal(
            404,
            "not_found",
            f"no such sandbox endpoint: {route}; see docs/sandbox.md",
        )

    def _workspace(self, ws_id: Any) -> Workspace:
        """The workspace named by `ws_id` (None: the only one)."""
        if ws_id is None and len(self._workspaces) == 1:
            return self._workspaces[0]
        for ws in self._workspaces:
            if ws.id == ws_id:
                return ws
        raise invalid(f"workspace {ws_id!r} not found; pass one of the seeded workspace ids")
