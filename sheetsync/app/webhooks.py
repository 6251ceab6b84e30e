"""The webhook receiver of `sheetsync run` ([webhooks] in the config), and its registration.

`receiving(config, clock)` starts the receiver on `listen`, then registers `public_url` with
WarmySender (`register`): the registration kept in the state is re-used across restarts while
its URL, events and API stay the same and WarmySender still lists it active; otherwise a new one
is made and every other webhook pointing at our URLs is deleted, so there is never a second one.
The POST /webhooks is recorded before it is sent (its Idempotency-Key in the state), so a crash
right after it replays the same answer, signing secret included. Without [webhooks], a
registration left in the state is deleted.

Each request, in this order, before anything is parsed or stored:
1. POST only (405); a Content-Length (411; chunked bodies are refused) of at most MAX_BODY
   bytes (413, the body is not read); the body is read with a READ_TIMEOUT_S socket timeout;
2. X-Warmy-Signature `t=<ms>,v1=<hex>` checked: t within TOLERANCE_S of our clock, and
   HMAC-SHA256(secret, "<t>.<raw body>") equal to one v1, compared in constant time (401);
3. the body must be a JSON object (400); then it is stored once, keyed by X-Warmy-Event-Id (a
   repeated delivery is answered 200 and stored nothing new), committed, and answered 200. A
   state file too busy to store it is answered 503 (WarmySender retries).
The next poll of each sheet projects the stored events into its Enrollments tab (sync/outcomes).

Logged: one line per registration (URL and id), rejected requests at WARNING (the reason and the
client address, at most one line a minute with a count), accepted events at DEBUG (type only).
Never the secret, a signature, a body or an email address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.models import Webhook
from sheetsync.clock import Clock, utc_iso
from sheetsync.config import Config
from sheetsync.errors import AuthError, ConfigError, RowError, ScopeError
from sheetsync.serving import ClosingHTTPServer
from sheetsync.state import Registration, State, fresh_key
from sheetsync.state.inbox import Inbox
from sheetsync.sync.outcomes import EVENT_OUTCOME

log = logging.getLogger("sheetsync.app.webhooks")

EVENTS = tuple(EVENT_OUTCOME)  # the events sheetsync asks for: every one that moves an Outcome
MAX_BODY = 64 * 1024  # WarmySender's events are well under 2 KB
TOLERANCE_S = 300  # WarmySender (and its n8n node) reject signatures older than five minutes
READ_TIMEOUT_S = 5.0
WARN_EVERY_S = 60.0


def verify(secret: str, header: str | None, body: bytes, now: float) -> str | None:
    """None when `header` signs `body` with `secret` within TOLERANCE_S of `now` (seconds);
    otherwise why not, in words fit for the log."""
    if not header:
        return "no X-Warmy-Signature header"
    stamp = ""
    signatures: list[bytes] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            stamp = value.strip()
        elif name == "v1" and value.strip():
            signatures.append(value.strip().lower().encode("ascii", "replace"))
    if not stamp.isdigit() or not signatures:
        return "malformed X-Warmy-Signature header"
    if abs(now * 1000 - int(stamp)) > TOLERANCE_S * 1000:
        return "signature timestamp outside the five-minute tolerance"
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    expected = mac.hexdigest().encode()
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        return "signature does not match"
    return None


class Receiver:
    """The HTTP server. Binds at construction; `secret` is set once the webhook is registered
    (until then every request is answered 503)."""

    def __init__(self, inbox: Inbox, host: str, port: int, *, clock: Clock) -> None:
        self.inbox = inbox
        self.clock = clock
        self.secret: str | None = None
        self.stored = 0
        self.duplicates = 0
        self.rejected = 0
        self._lock = threading.Lock()
        self._last_warning: float | None = None
        self._quiet = 0
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._httpd = _Server((host, port), self, family)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webhook-receiver",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.drop_connections()
        self._httpd.server_close()

    # --- one request -------------------------------------------------------------------------

    def handle(self, headers: Any, body: bytes, client: str) -> tuple[int, dict[str, Any]]:
        """The answer to a POST whose body was read (size checks are the handler's)."""
        secret = self.secret
        if secret is None:
            return 503, {"error": "not ready: the webhook is being registered"}
        why = verify(secret, headers.get("X-Warmy-Signature"), body, self.clock.time())
        if why is not None:
            self.refused(why, client)
            return 401, {"error": "signature did not verify"}
        try:
            event = json.loads(body)
            text = body.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            event = None
        if not isinstance(event, dict):
            self.refused("a signed body that is not a JSON object", client)
            return 400, {"error": "the body must be a JSON object"}
        event_id = (headers.get("X-Warmy-Event-Id") or "").strip()[:200]
        if not event_id:  # retries resend the same bytes: the body names the event
            event_id = "sha256:" + hashlib.sha256(body).hexdigest()
        kind = str(event.get("type") or headers.get("X-Warmy-Event-Type") or "")[:100]
        try:
            new = self.inbox.add(event_id, kind, text, utc_iso(self.clock))
        except sqlite3.Error as exc:
            log.warning("webhook event not stored (the state file is busy: %s); answered 503", exc)
            return 503, {"error": "busy; retry"}
        with self._lock:
            if new:
                self.stored += 1
            else:
                self.duplicates += 1
        log.debug("webhook event %s %s", kind, "stored" if new else "already stored")
        return 200, {"received": True, "duplicate": not new}

    def refused(self, why: str, client: str) -> None:
        """Count a refused request; WARNING at most once a minute (with how many were quiet)."""
        with self._lock:
            self.rejected += 1
            now = self.clock.monotonic()
            if self._last_warning is not None and now - self._last_warning < WARN_EVERY_S:
                self._quiet += 1
                return
            quiet, self._quiet, self._last_warning = self._quiet, 0, now
        more = f"; {quiet} more refused in the last minute" if quiet else ""
        log.warning("webhook request from %s refused: %s%s", client, why, more)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S  # a client that sends slowly cannot hold a thread
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    wbufsize = 16 * 1024  # one buffered write per answer, flushed by handle_one_request
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        receiver = self.server.receiver
        client = self.client_address[0]
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._answer(411, {"error": "send a Content-Length"}, close=True)
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            return self._answer(411, {"error": "send a Content-Length"}, close=True)
        if int(length) > MAX_BODY:
            receiver.refused(f"a body of {length} bytes (at most {MAX_BODY})", client)
            return self._answer(413, {"error": f"at most {MAX_BODY} bytes"}, close=True)
        try:
            body = self.rfile.read(int(length))
        except OSError:
            self.close_connection = True
            return None
        if len(body) != int(length):
            self.close_connection = True
            return None
        status, answer = receiver.handle(self.headers, body, client)
        return self._answer(status, answer, close=status >= 400)

    def _other(self) -> None:
        self._answer(405, {"error": "POST only"}, close=True, allow="POST")

    do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _other

    def _answer(
        self, status: int, body: dict[str, Any], *, close: bool, allow: str | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if allow:
            self.send_header("Allow", allow)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass  # Receiver logs what matters, without paths or headers


class _Server(ClosingHTTPServer):
    request_queue_size = 128  # a burst of deliveries waits in the backlog, not refused

    def __init__(self, address: tuple[str, int], receiver: Receiver, family: int) -> None:
        self.address_family = family
        self.receiver = receiver
        super().__init__(address, _Handler)


# --- registration ----------------------------------------------------------------------------


def register(api: WarmySenderClient, state: State, base_url: str, url: str) -> Registration:
    """Our webhook for `url`, re-used or made anew; never two (see the module docstring)."""
    events = EVENTS
    old = state.webhook()
    remote = api.list_webhooks()
    same = old is not None and (old.base_url, old.url, old.events) == (base_url, url, events)
    if same and old is not None and old.remote_id and old.secret:
        ours = next((h for h in remote if h.id == old.remote_id), None)
        if ours is not None and ours.active and ours.url == url:
            _delete(api, [h for h in remote if h.url == url and h.id != ours.id])
            log.info("webhook: re-using %s for %s", ours.id, url)
            return old
    gone = {old.remote_id} if old is not None and old.remote_id else set()
    _delete(api, [h for h in remote if h.id in gone])
    key = old.pending_key if same and old is not None and old.pending_key else None
    if key is None:
        key = fresh_key("webhook")
        state.begin_webhook(base_url, url, events, key)
    hook = api.create_webhook(url, events, idempotency_key=key)
    assert hook.secret is not None  # create_webhook refuses an answer without one
    state.finish_webhook(hook.id, hook.secret.reveal())
    stale = {url} | ({old.url} if old is not None else set())
    _delete(api, [h for h in remote if h.url in stale and h.id not in gone | {hook.id}])
    log.info("webhook: registered %s for %s (events: %s)", hook.id, url, ", ".join(events))
    found = state.webhook()
    assert found is not None
    return found


def _delete(api: WarmySenderClient, hooks: list[Webhook]) -> None:
    for h in hooks:
        api.delete_webhook(h.id, idempotency_key=fresh_key("webhook-delete"))
        log.info("webhook: deleted %s (%s)", h.id, h.url)


def _unregister(api: WarmySenderClient, state: State, base_url: str) -> None:
    """[webhooks] was removed from the config: delete the registration left behind."""
    old = state.webhook()
    if old is None:
        return
    if old.remote_id and old.base_url == base_url:
        try:
            api.delete_webhook(old.remote_id, idempotency_key=fresh_key("webhook-delete"))
        except (AuthError, ScopeError) as exc:
            log.warning(
                "webhook: could not delete %s after [webhooks] was removed (%s); delete it in "
                "WarmySender",
                old.remote_id,
                exc,
            )
            return
        log.info("webhook: deleted %s ([webhooks] is no longer configured)", old.remote_id)
    state.forget_webhook()


@contextmanager
def receiving(config: Config, clock: Clock) -> Iterator[Receiver | None]:
    """With [webhooks]: the receiver listening and the webhook registered, until the block
    ends. Without: None (after deleting a registration left from an earlier config)."""
    ws = config.warmysender
    hooks = config.webhooks
    with State(config.state_path, clock=clock) as state:
        if hooks is None:
            if state.webhook() is not None:
                with WarmySenderClient(
                    ws.base_url, ws.require_key(), clock=clock, timeout_s=ws.timeout_s
                ) as api:
                    _unregister(api, state, ws.base_url)
            receiver = None
        else:
            inbox = Inbox(config.state_path)
            try:
                receiver = Receiver(inbox, hooks.host, hooks.port, clock=clock)
            except OSError as exc:
                inbox.close()
                raise ConfigError(
                    f"cannot listen on {hooks.host}:{hooks.port} ({exc.strerror}); free the "
                    "port or pick another",
                    path=str(config.path),
                    key="webhooks.listen",
                ) from None
            receiver.start()
            try:
                with WarmySenderClient(
                    ws.base_url, ws.require_key(), clock=clock, timeout_s=ws.timeout_s
                ) as api:
                    registration = register(api, state, ws.base_url, hooks.public_url)
            except RowError as exc:
                receiver.close()
                inbox.close()
                raise ConfigError(
                    f"WarmySender refused the webhook for {hooks.public_url}: {exc}",
                    path=str(config.path),
                    key="webhooks.public_url",
                ) from None
            except BaseException:
                receiver.close()
                inbox.close()
                raise
            receiver.secret = registration.secret
            log.info(
                "webhooks: listening on %s:%d for %s", hooks.host, receiver.port, hooks.public_url
            )
    if receiver is None:
        yield None
        return
    try:
        yield receiver
    finally:
        receiver.close()
        receiver.inbox.close()
