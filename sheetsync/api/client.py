"""The WarmySender API client: the only way sheetsync talks to WarmySender.

Every attempt takes a slot from the workspace's RateLimiter, is counted in `calls` by route
template ("POST /campaigns/{id}/start"), and its response headers feed the limiter back. A write
is a `Request` (endpoint, path, body bytes) sent with the caller's Idempotency-Key; a retry, and
a replay of an intent that kept the Request, resend the very same bytes with the same key.
5xx, timeouts and lost connections are retried with capped, fully jittered exponential backoff;
429 waits for Retry-After. Refusals become the exceptions of `sheetsync.errors` (see
`refusals.TABLE`); success bodies are read tolerantly (see `parse`).

Bounds: each attempt ends within `timeout_s` in total, headers and body (`deadline`), and never
past the retry deadline; an answer larger than `max_body_bytes` is not read.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from sheetsync.api import parse
from sheetsync.api.deadline import DEADLINE, DeadlineTransport
from sheetsync.api.models import (
    Campaign,
    EnrollResult,
    Identity,
    Mailbox,
    Prospect,
    ProspectResult,
    SentEmail,
    UnenrollResult,
    Webhook,
)
from sheetsync.api.ratelimit import RateLimiter
from sheetsync.api.refusals import read_refusal, to_error
from sheetsync.clock import Clock, SystemClock
from sheetsync.config import Secret
from sheetsync.errors import ApiError, NotFound, RetriableError
from sheetsync.retry import RetryPolicy, parse_retry_after

log = logging.getLogger("sheetsync.api")

# Transport failures worth another attempt: the request may not have arrived, or the answer got
# lost on the way back (writes are safe to repeat: they carry the same Idempotency-Key).
RETRIABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError,
                       httpx.ProxyError)  # fmt: skip

# Statuses retried with backoff (429 is handled apart: it waits for Retry-After).
RETRIABLE_STATUS = frozenset({408, 500, 502, 503, 504}) | frozenset(range(505, 600))

PAGE_SIZE = 100
MAX_PAGES = 10_000
MAX_BODY_BYTES = 64 * 1024 * 1024  # far above any page of 100 objects; a 400 MB answer is not
MIN_ATTEMPT_S = 2.0  # the least time an attempt gets, even right before the retry deadline


def _seg(value: str) -> str:
    return quote(value, safe="")


# --- the writes, as requests (no I/O: an intent stores one before it is sent) -------------------


@dataclass(frozen=True)
class Request:
    """One write as it goes on the wire. An intent keeps it, so that a replay after a crash or a
    lost answer sends these very bytes again with the same Idempotency-Key."""

    endpoint: str  # method and route template: "POST /campaigns/{id}/enrollments"
    path: str  # below base_url: "/campaigns/cmp_1/enrollments"
    body: bytes  # JSON

    @property
    def method(self) -> str:
        return self.endpoint.split(" ", 1)[0]


def _request(endpoint: str, path: str, body: Mapping[str, Any]) -> Request:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Request(endpoint, path, content)


def create_prospect_request(body: Mapping[str, Any]) -> Request:
    return _request("POST /prospects", "/prospects", body)


def update_prospect_request(prospect_id: str, body: Mapping[str, Any]) -> Request:
    return _request("PATCH /prospects/{id}", f"/prospects/{_seg(prospect_id)}", body)


def create_campaign_request(body: Mapping[str, Any]) -> Request:
    return _request("POST /campaigns", "/campaigns", body)


def update_campaign_request(campaign_id: str, body: Mapping[str, Any]) -> Request:
    return _request("PATCH /campaigns/{id}", f"/campaigns/{_seg(campaign_id)}", body)


def campaign_action_request(campaign_id: str, action: str) -> Request:
    """POST /campaigns/{id}/start or /pause."""
    return _request(f"POST /campaigns/{{id}}/{action}", f"/campaigns/{_seg(campaign_id)}/{action}",
                    {})  # fmt: skip


def enroll_request(
    campaign_id: str,
    *,
    prospect_ids: Sequence[str] = (),
    emails: Sequence[str] = (),
    list_ids: Sequence[str] = (),
) -> Request:
    body = _who(prospectIds=prospect_ids, emails=emails, listIds=list_ids)
    path = f"/campaigns/{_seg(campaign_id)}/enrollments"
    return _request("POST /campaigns/{id}/enrollments", path, body)


def unenroll_request(
    campaign_id: str, *, prospect_ids: Sequence[str] = (), emails: Sequence[str] = ()
) -> Request:
    body = _who(prospectIds=prospect_ids, emails=emails)
    path = f"/campaigns/{_seg(campaign_id)}/enrollments"
    return _request("DELETE /campaigns/{id}/enrollments", path, body)


class WarmySenderClient:
    """Typed calls to the WarmySender REST API (`base_url` like https://…/api/v1)."""

    def __init__(
        self,
        base_url: str,
        api_key: Secret,
        *,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        timeout_s: float = 30.0,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._key = api_key
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(transport=DeadlineTransport())
        self.clock: Clock = clock or SystemClock()
        # Public so the engine can swap in the workspace's shared limiter after GET /me.
        self.limiter = limiter if limiter is not None else RateLimiter(clock=self.clock)
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        self._timeout_s = timeout_s
        self._timeout = httpx.Timeout(timeout_s)
        self.max_body_bytes = max_body_bytes
        self.calls: collections.Counter[str] = collections.Counter()
        self._calls_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WarmySenderClient(base_url={self._base_url!r})"

    @property
    def total_calls(self) -> int:
        with self._calls_lock:
            return sum(self.calls.values())

    def close(self) -> None:
        """Close the HTTP client if this client created it (an injected one stays open)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> WarmySenderClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- endpoints ---------------------------------------------------------------------------

    def me(self) -> Identity:
        ep = "GET /me"
        return parse.identity(self._call("GET", ep, "/me").json(), ep)

    def list_mailboxes(self) -> list[Mailbox]:
        ep = "GET /mailboxes"
        return [parse.mailbox(m, ep) for m in self._pages(ep, "/mailboxes", {})]

    def create_prospect(self, body: Mapping[str, Any], *, idempotency_key: str) -> ProspectResult:
        return self.send(create_prospect_request(body), idempotency_key).prospect_result()

    def update_prospect(
        self, prospect_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Prospect:
        request = update_prospect_request(prospect_id, body)
        return self.send(request, idempotency_key).prospect()

    def find_prospect(self, email: str) -> Prospect | None:
        """The prospect with this email (compared trimmed and lower-cased), or None."""
        ep = "GET /prospects"
        wanted = email.strip().lower()
        for entry in self._pages(ep, "/prospects", {"email": email.strip()}):
            found = parse.prospect(entry, ep)
            if found.email.strip().lower() == wanted:
                return found
        return None

    def create_campaign(self, body: Mapping[str, Any], *, idempotency_key: str) -> Campaign:
        return self.send(create_campaign_request(body), idempotency_key).campaign()

    def list_campaigns(self) -> list[Campaign]:
        ep = "GET /campaigns"
        return [parse.campaign(c, ep) for c in self._pages(ep, "/campaigns", {})]

    def get_campaign(self, campaign_id: str) -> Campaign:
        ep = "GET /campaigns/{id}"
        return self._call("GET", ep, f"/campaigns/{_seg(campaign_id)}").campaign()

    def update_campaign(
        self, campaign_id: str, body: Mapping[str, Any], *, idempotency_key: str
    ) -> Campaign:
        request = update_campaign_request(campaign_id, body)
        return self.send(request, idempotency_key).campaign()

    def start_campaign(self, campaign_id: str, *, idempotency_key: str) -> Campaign:
        request = campaign_action_request(campaign_id, "start")
        return self.send(request, idempotency_key).campaign()

    def pause_campaign(self, campaign_id: str, *, idempotency_key: str) -> Campaign:
        request = campaign_action_request(campaign_id, "pause")
        return self.send(request, idempotency_key).campaign()

    def enroll(
        self,
        campaign_id: str,
        *,
        prospect_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        list_ids: Sequence[str] = (),
        idempotency_key: str,
    ) -> EnrollResult:
        request = enroll_request(
            campaign_id, prospect_ids=prospect_ids, emails=emails, list_ids=list_ids
        )
        return self.send(request, idempotency_key).enroll_result()

    def unenroll(
        self,
        campaign_id: str,
        *,
        prospect_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        idempotency_key: str,
    ) -> UnenrollResult:
        request = unenroll_request(campaign_id, prospect_ids=prospect_ids, emails=emails)
        return self.send(request, idempotency_key).unenroll_result()

    def send(self, request: Request, idempotency_key: str) -> Answer:
        """A write exactly as given, with this Idempotency-Key: the typed writes above use it,
        and so does the replay of an intent, with the Request the intent kept."""
        return self._call(
            request.method, request.endpoint, request.path, content=request.body,
            key=idempotency_key,
        )  # fmt: skip

    # --- outcomes: webhooks and the reads that stand in for them --------------------------------

    def list_webhooks(self) -> list[Webhook]:
        ep = "GET /webhooks"
        return [parse.webhook(w, ep) for w in self._pages(ep, "/webhooks", {})]

    def create_webhook(self, url: str, events: Sequence[str], *, idempotency_key: str) -> Webhook:
        """POST /webhooks; the answer carries the signing secret (shown once)."""
        ep = "POST /webhooks"
        request = _request(ep, "/webhooks", {"url": url, "events": list(events)})
        response = self.send(request, idempotency_key)
        hook = parse.webhook(parse.obj(response.json(), ep), ep)
        if hook.secret is None:
            raise parse.Unreadable(ep, "no signing secret", status=response.status_code)
        return hook

    def delete_webhook(self, webhook_id: str, *, idempotency_key: str) -> bool:
        """DELETE /webhooks/{id}; False when it was already gone (404)."""
        ep = "DELETE /webhooks/{id}"
        try:
            self._call("DELETE", ep, f"/webhooks/{_seg(webhook_id)}", key=idempotency_key)
        except NotFound:
            return False
        return True

    def prospects_page(self, cursor: str | None) -> tuple[list[Prospect], str | None]:
        """One page of GET /prospects and the cursor of the next (None: the last page)."""
        ep = "GET /prospects"
        body = self._page(ep, "/prospects", {}, cursor)
        return [parse.prospect(p, ep) for p in parse.items(body, ep)], parse.next_cursor(body)

    def sent_emails_page(
        self, campaign_id: str, cursor: str | None
    ) -> tuple[list[SentEmail], str | None]:
        """One page of GET /emails/sent?campaignId= (NotFound where the API lacks the route)."""
        ep = "GET /emails/sent"
        body = self._page(ep, "/emails/sent", {"campaignId": campaign_id}, cursor)
        return [parse.sent_email(e) for e in parse.items(body, ep)], parse.next_cursor(body)

    # --- plumbing ----------------------------------------------------------------------------

    def _pages(self, ep: str, path: str, query: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every object of a paginated list, page after page (lazily)."""
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            body = self._page(ep, path, query, cursor)
            yield from parse.items(body, ep)
            cursor = parse.next_cursor(body)
            if cursor is None:
                return
            if cursor in seen:
                raise ApiError(
                    f"WarmySender sent the same page cursor twice while listing {ep}; stopped "
                    "instead of looping forever. Try again later; if it persists, report it",
                    code="pagination_loop",
                    endpoint=ep,
                )
            seen.add(cursor)
        raise ApiError(f"listing {ep} went past {MAX_PAGES} pages; stopped", endpoint=ep)

    def _page(self, ep: str, path: str, query: Mapping[str, str], cursor: str | None) -> Any:
        params = {**query, "limit": str(PAGE_SIZE)}
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", ep, path, params=params).json()

    def _headers(self, key: str | None, has_body: bool) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._key.reveal()}",
            "Accept": "application/json",
        }
        if has_body:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def _redact(self, text: str) -> str:
        secret = self._key.reveal()
        return text.replace(secret, "***") if secret else text

    def _call(
        self,
        method: str,
        ep: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        key: str | None = None,
    ) -> Answer:
        """One logical call: attempts, waits and retries until a 2xx or an ApiError."""
        if method != "GET" and not key:
            raise ValueError(f"{ep} is a write and needs an idempotency_key")
        url = self._base_url + path
        policy = self.retry
        started: float | None = None
        attempt = 0
        while True:
            self.limiter.acquire()
            if started is None:
                started = self.clock.monotonic()
            attempt += 1
            with self._calls_lock:
                self.calls[ep] += 1
            t0 = time.perf_counter()  # for the log only; waits go through the clock
            # the attempt ends by its own timeout, and by the retry deadline (give or take the
            # few seconds an attempt that starts right before it is allowed)
            left = policy.deadline_s - (self.clock.monotonic() - started)
            at = time.monotonic() + min(self._timeout_s, max(left, MIN_ATTEMPT_S))
            try:
                status, headers, data = self._attempt(method, url, params, content, key, at)
            except RETRIABLE_TRANSPORT as exc:
                what = _describe(exc)
                log.debug("%s -> %s (attempt %d)", ep, what, attempt)
                wait = policy.backoff(attempt - 1, self._rng)
                if not self._may_retry(attempt, started, wait):
                    raise RetriableError(
                        f"could not get an answer from WarmySender ({what}) after {attempt} "
                        "attempts; it will be tried again next poll",
                        code="timeout" if isinstance(exc, httpx.TimeoutException) else "network",
                        endpoint=ep,
                    ) from exc
                self.clock.sleep(wait)
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise ApiError(
                    f"could not send the request to WarmySender ({self._redact(_describe(exc))})"
                    ": check [warmysender] base_url in the config",
                    code="bad_request_setup",
                    endpoint=ep,
                ) from exc
            duration = time.perf_counter() - t0
            log.debug("%s -> %d in %.3fs (attempt %d)", ep, status, duration, attempt)
            self.limiter.observe(headers)
            if 200 <= status < 300:
                if data is None:
                    raise parse.Unreadable(
                        ep, f"it is larger than the {self.max_body_bytes:,} bytes sheetsync reads",
                        status=status,
                    )  # fmt: skip
                return Answer(status, data, ep)
            response = httpx.Response(status, headers=headers, content=data or b"")
            refusal = read_refusal(response, self._redact)
            if status == 429:
                now = self.clock.time()
                hint = parse_retry_after(headers.get("retry-after"), now)
                if hint is None:
                    hint = refusal.retry_after
                wait = hint if hint is not None else policy.backoff(attempt - 1, self._rng)
                if not self._may_retry(attempt, started, wait):
                    raise to_error(dataclasses.replace(refusal, retry_after=wait), ep)
                self.limiter.block_until(now + wait)
                continue
            if status in RETRIABLE_STATUS:
                hinted = parse_retry_after(headers.get("retry-after"), self.clock.time())
                wait = hinted if hinted is not None else policy.backoff(attempt - 1, self._rng)
                if self._may_retry(attempt, started, wait):
                    self.clock.sleep(wait)
                    continue
            raise to_error(refusal, ep)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        content: bytes | None,
        key: str | None,
        at: float,
    ) -> tuple[int, httpx.Headers, bytes | None]:
        """One request: its status, headers and body (None when larger than max_body_bytes; the
        headers then lose the body's encoding and length, which no longer apply)."""
        with self._http.stream(
            method,
            url,
            params=params,
            content=content,
            headers=self._headers(key, content is not None),
            timeout=self._timeout,
            extensions={DEADLINE: at},
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self.max_body_bytes:
                    return response.status_code, _plain(response.headers), None
                if time.monotonic() > at:  # transports that do not bound their reads
                    raise httpx.ReadTimeout("the attempt's deadline passed")
                chunks.append(chunk)
            return response.status_code, _plain(response.headers), b"".join(chunks)

    def _may_retry(self, attempt: int, started: float, wait: float) -> bool:
        policy = self.retry
        if attempt >= policy.max_attempts:
            return False
        return self.clock.monotonic() - started + wait <= policy.deadline_s


class Answer:
    """A 2xx answer: its JSON read once, with a clear error when it is not JSON, and the typed
    readers of the write answers."""

    def __init__(self, status: int, content: bytes, endpoint: str) -> None:
        self.status_code = status
        self.endpoint = endpoint
        self._content = content

    def json(self) -> Any:
        try:
            return json.loads(self._content)
        except ValueError:
            status = self.status_code
            raise parse.Unreadable(self.endpoint, "it is not JSON", status=status) from None

    def prospect(self) -> Prospect:
        return parse.prospect(parse.obj(self.json(), self.endpoint), self.endpoint)

    def prospect_result(self) -> ProspectResult:
        return parse.prospect_result(self.status_code, self.json(), self.endpoint)

    def campaign(self) -> Campaign:
        return parse.campaign(parse.obj(self.json(), self.endpoint), self.endpoint)

    def enroll_result(self) -> EnrollResult:
        return parse.enroll_result(self.json(), self.endpoint)

    def unenroll_result(self) -> UnenrollResult:
        return parse.unenroll_result(self.json(), self.endpoint)


def _plain(headers: httpx.Headers) -> httpx.Headers:
    """The headers of an answer whose body was read (decoded): without its encoding and length."""
    drop = ("content-encoding", "content-length", "transfer-encoding")
    return httpx.Headers([(k, v) for k, v in headers.multi_items() if k.lower() not in drop])


def _who(**lists: Sequence[str]) -> dict[str, list[str]]:
    body = {name: list(values) for name, values in lists.items() if values}
    if not body:
        names = " or ".join(lists)
        raise ValueError(f"pass at least one of {names}")
    return body


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
