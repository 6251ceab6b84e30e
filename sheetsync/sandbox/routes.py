"""The /api/v1 routes: method + path template → required scope and handler, and list paging.

A handler gets the workspace, the path id, the query and the parsed body, and returns
(status, payload, is_list). Refusals (404, 409, 422, …) are raised as `Refusal`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sheetsync.sandbox.validate import JSON, Refusal, invalid
from sheetsync.sandbox.workspace import Workspace

Query = dict[str, str]
Handler = Callable[[Workspace, str, Query, JSON, float], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/campaigns/{id}/start"
    scope: str | None
    handler: Handler
    is_list: bool = False

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.template}"


def _me(ws: Workspace, _id: str, _q: Query, _b: JSON, _now: float) -> tuple[int, Any]:
    raise AssertionError("GET /me is answered by the Sandbox, which knows the key")


ROUTES: list[Route] = [
    Route("GET", "/me", None, _me),
    Route("GET", "/mailboxes", "mailboxes:read",
          lambda ws, _i, q, _b, _n: (200, ws.list_mailboxes(q.get("email_address"))), True),
    Route("POST", "/prospects", "prospects:write",
          lambda ws, _i, _q, b, _n: ws.create_prospect(b)),
    Route("GET", "/prospects", "prospects:read",
          lambda ws, _i, q, _b, _n: (200, ws.find_prospects(q.get("email"))), True),
    Route("PATCH", "/prospects/{id}", "prospects:write",
          lambda ws, i, _q, b, _n: (200, ws.update_prospect(i, b))),
    Route("GET", "/campaigns", "campaigns:read",
          lambda ws, _i, _q, _b, _n: (200, [c.to_json() for c in ws.campaigns.values()]), True),
    Route("POST", "/campaigns", "campaigns:write",
          lambda ws, _i, _q, b, n: (201, ws.create_campaign(b, n))),
    Route("GET", "/campaigns/{id}", "campaigns:read",
          lambda ws, i, _q, _b, _n: (200, ws.campaign(i).to_json())),
    Route("PATCH", "/campaigns/{id}", "campaigns:write",
          lambda ws, i, _q, b, _n: (200, ws.update_campaign(i, b))),
    Route("POST", "/campaigns/{id}/start", "campaigns:write",
          lambda ws, i, _q, _b, n: (200, ws.start_campaign(i, n))),
    Route("POST", "/campaigns/{id}/pause", "campaigns:write",
          lambda ws, i, _q, _b, _n: (200, ws.pause_campaign(i))),
    Route("POST", "/campaigns/{id}/enrollments", "enrollments:write",
          lambda ws, i, _q, b, n: (200, ws.enroll(i, b, n))),
    Route("DELETE", "/campaigns/{id}/enrollments", "enrollments:write",
          lambda ws, i, _q, b, _n: (200, ws.unenroll(i, b))),
    Route("GET", "/emails/sent", "campaigns:read",
          lambda ws, _i, q, _b, _n: (200, ws.sent_emails(q.get("campaignId"))), True),
    Route("GET", "/webhooks", "webhooks:read",
          lambda ws, _i, _q, _b, _n: (200, ws.list_webhooks()), True),
    Route("POST", "/webhooks", "webhooks:write",
          lambda ws, _i, _q, b, n: (201, ws.create_webhook(b, n))),
    Route("DELETE", "/webhooks/{id}", "webhooks:write",
          lambda ws, i, _q, _b, _n: (200, ws.delete_webhook(i))),
]  # fmt: skip

_PATTERNS = [
    (route, re.compile("^" + route.template.replace("{id}", "(?P<id>[^/]+)") + "$"))
    for route in ROUTES
]


def match(method: str, path: str) -> tuple[Route, str]:
    """The route and its path id; 404 for an unknown path, 405 for a known path and another
    method."""
    path = path.rstrip("/") or "/"
    allowed: list[str] = []
    for route, pattern in _PATTERNS:
        found = pattern.match(path)
        if found:
            if route.method == method:
                return route, found.groupdict().get("id", "")
            allowed.append(route.method)
    if allowed:
        raise Refusal(
            405,
            "method_not_allowed",
            f"{method} is not supported on this path; use {', '.join(allowed)}",
        )
    raise Refusal(404, "not_found", f"no such endpoint: {method} /api/v1{path}")


def endpoint_name(method: str, path: str) -> str:
    """The route template of a request for counters and logs (no ids, no query)."""
    try:
        return match(method, path)[0].endpoint
    except Refusal:
        return f"{method} (unknown path)"


def page(items: list[Any], query: Query) -> tuple[list[Any], JSON]:
    """One page of a list: `limit` (1..100, default 50) and the opaque `cursor`."""
    raw_limit = query.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise invalid(f"limit {raw_limit!r} must be an integer from 1 to 100")
    limit = int(raw_limit)
    start = 0
    if query.get("cursor"):
        try:
            text = base64.urlsafe_b64decode(query["cursor"].encode("ascii")).decode("ascii")
            start = int(text.removeprefix("o:")) if text.startswith("o:") else -1
        except (ValueError, binascii.Error, UnicodeError):
            start = -1
        if start < 0:
            raise invalid("cursor is not one this server issued; start again without a cursor")
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    cursor = base64.urlsafe_b64encode(f"o:{start + limit}".encode()).decode() if more else None
    return chunk, {"has_more": more, "next_cursor": cursor}
