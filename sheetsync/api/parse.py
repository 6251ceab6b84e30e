"""Tolerant reading of WarmySender success bodies into the typed models.

The payload may sit under `data` or at the root; lists may be `data: [...]` or
`data: {items|prospects|campaigns|mailboxes|results: [...]}`; pagination may be snake_case or
camelCase, at the root or inside `data`; object fields may be camelCase or snake_case. A body
that cannot be read raises `Unreadable` (an ApiError) with a clear message, never a KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sheetsync.api.models import (
    JSON,
    Campaign,
    EnrollmentOutcome,
    EnrollResult,
    Identity,
    Mailbox,
    Prospect,
    ProspectResult,
    SentEmail,
    Step,
    UnenrollResult,
    Webhook,
)
from sheetsync.config import Secret
from sheetsync.errors import ApiError

_LIST_KEYS = ("items", "prospects", "campaigns", "mailboxes", "webhooks", "emails", "results",
              "data")  # fmt: skip


class Unreadable(ApiError):
    """A 2xx answer whose body does not have what the call needs."""

    def __init__(self, endpoint: str, why: str, *, status: int | None = None) -> None:
        super().__init__(
            f"WarmySender answered {endpoint} with a body sheetsync cannot read: {why}. If the "
            f"API changed, please report it",
            status=status,
            code="unreadable_response",
            endpoint=endpoint,
        )


def pick(obj: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` present in `obj` with a non-null value, else None."""
    for name in names:
        value = obj.get(name)
        if value is not None:
            return value
    return None


def present(obj: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """{name: value} for each camelCase `name` the object carries, as itself or in snake_case
    (null values included: a field WarmySender reports empty)."""
    out: dict[str, Any] = {}
    for name in names:
        snake = "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)
        if name in obj:
            out[name] = obj[name]
        elif snake in obj:
            out[name] = obj[snake]
    return out


def payload(body: Any) -> Any:
    if isinstance(body, dict) and "data" in body:
        return body["data"]
    return body


def obj(body: Any, endpoint: str) -> JSON:
    data = payload(body)
    if not isinstance(data, dict):
        raise Unreadable(endpoint, f"expected an object, got {type(data).__name__}")
    return data


def items(body: Any, endpoint: str) -> list[JSON]:
    """The objects of one list page."""
    data = payload(body)
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        raise Unreadable(endpoint, "expected a list of objects")
    return [entry for entry in data if isinstance(entry, dict)]


def next_cursor(body: Any) -> str | None:
    """The cursor of the next page, or None when this was the last one."""
    places: list[Mapping[str, Any]] = []
    if isinstance(body, dict):
        data = body.get("data")
        for where in (body, data if isinstance(data, dict) else {}):
            page = where.get("pagination")
            if isinstance(page, dict):
                places.append(page)
        places.append(body)
    for page in places:
        more = pick(page, "has_more", "hasMore")
        cursor = pick(page, "next_cursor", "nextCursor")
        if more is None and cursor is None:
            continue
        if more is False or not cursor:
            return None
        return str(cursor)
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _require_id(data: Mapping[str, Any], what: str, endpoint: str) -> str:
    value = _str(pick(data, "id", f"{what}Id", f"{what}_id"))
    if not value:
        raise Unreadable(endpoint, f"the {what} has no id")
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return len(value)
    return None


def identity(body: Any, endpoint: str) -> Identity:
    data = body
    if isinstance(body, dict) and isinstance(body.get("data"), dict):
        if not any(k in body for k in ("apiKey", "api_key", "workspace")):
            data = body["data"]
    if not isinstance(data, dict):
        raise Unreadable(endpoint, "expected an object")
    key = pick(data, "apiKey", "api_key", "key")
    key = key if isinstance(key, dict) else {}
    space = data.get("workspace")
    workspace_id = _str(space.get("id")) if isinstance(space, dict) else None
    workspace_id = workspace_id or _str(pick(data, "workspaceId", "workspace_id"))
    if not workspace_id:
        raise Unreadable(endpoint, "no workspace id")
    scopes = key.get("scopes", data.get("scopes"))
    return Identity(
        workspace_id=workspace_id,
        key_id=_str(key.get("id")),
        key_name=_str(key.get("name")),
        scopes=frozenset(s for s in scopes if isinstance(s, str))
        if isinstance(scopes, list)
        else frozenset(),
        raw=data,
    )


def prospect_result(status: int, body: Any, endpoint: str) -> ProspectResult:
    """POST /prospects: 201 created, 200 existed; other 2xx say so with `existing`/`created`."""
    if status == 201:
        created = True
    elif status == 200:
        created = False
    else:
        inner = payload(body)
        flags = [d for d in (body, inner) if isinstance(d, dict)]
        created = not any(d.get("existing") is True or d.get("created") is False for d in flags)
    return ProspectResult(prospect(obj(body, endpoint), endpoint), created)


def mailbox(data: JSON, endpoint: str) -> Mailbox:
    connected = data.get("connected")
    if not isinstance(connected, bool):
        status = data.get("status")
        connected = status.lower() == "connected" if isinstance(status, str) else True
    sending = pick(data, "sendingEnabled", "sending_enabled")
    return Mailbox(
        id=_require_id(data, "mailbox", endpoint),
        email=_str(pick(data, "email", "email_address", "emailAddress")) or "",
        connected=connected,
        sending_enabled=sending if isinstance(sending, bool) else True,
        raw=data,
    )


def prospect(data: JSON, endpoint: str) -> Prospect:
    status = _str(pick(data, "globalStatus", "global_status", "status"))
    return Prospect(
        id=_require_id(data, "prospect", endpoint),
        email=_str(data.get("email")) or "",
        status=status.lower() if status else None,
        raw=data,
    )


def _step(data: JSON, position: int) -> Step:
    index = _int(pick(data, "stepIndex", "step_index"))
    index = position if index is None else index
    delay = _int(pick(data, "delayDays", "delay_days"))
    return Step(
        step_index=index,
        subject=_str(data.get("subject")) or "",
        body_html=_str(pick(data, "bodyHtml", "body_html", "body")) or "",
        delay_days=delay if delay is not None else (0 if index == 0 else 1),
    )


def campaign(data: JSON, endpoint: str) -> Campaign:
    status = (_str(data.get("status")) or "unknown").lower()
    steps = data.get("steps")
    stats = data.get("stats")
    mailboxes = pick(data, "mailboxIds", "mailbox_ids")
    return Campaign(
        id=_require_id(data, "campaign", endpoint),
        name=_str(data.get("name")) or "",
        status="running" if status == "active" else status,
        paused_reason=_str(pick(data, "pausedReason", "paused_reason")),
        steps=tuple(
            _step(s, i)
            for i, s in enumerate(steps if isinstance(steps, list) else [])
            if isinstance(s, dict)
        ),  # fmt: skip
        stats={
            str(k): v
            for k, v in (stats.items() if isinstance(stats, dict) else ())
            if isinstance(v, int) and not isinstance(v, bool)
        },
        raw=data,
        channel=_str(data.get("channel")),
        mailbox_ids=tuple(
            str(m) for m in (mailboxes if isinstance(mailboxes, list) else []) if _str(m)
        ),
    )


def enroll_result(body: Any, endpoint: str) -> EnrollResult:
    data = obj(body, endpoint)
    listed = pick(data, "results", "enrollments")
    outcomes: tuple[EnrollmentOutcome, ...] | None = None
    if isinstance(listed, list):
        outcomes = tuple(
            EnrollmentOutcome(
                status=(_str(o.get("status")) or "unknown").lower(),
                email=_str(o.get("email")),
                prospect_id=_str(pick(o, "prospectId", "prospect_id", "id")),
            )
            for o in listed
            if isinstance(o, dict)
        )
    counts = {
        "enrolled": _int(data.get("enrolled")),
        "suppressed": _int(data.get("suppressed")),
        "already_enrolled": _int(pick(data, "alreadyEnrolled", "already_enrolled")),
    }
    if outcomes is not None:
        for name, value in counts.items():
            if value is None:
                counts[name] = sum(1 for o in outcomes if o.status == name)
    missing = pick(data, "notFound", "not_found")
    return EnrollResult(
        enrolled=counts["enrolled"],
        suppressed=counts["suppressed"],
        already_enrolled=counts["already_enrolled"],
        outcomes=outcomes,
        raw=data,
        not_found=tuple(str(m) for m in missing if _str(m)) if isinstance(missing, list) else (),
    )


def unenroll_result(body: Any, endpoint: str) -> UnenrollResult:
    data = obj(body, endpoint)
    count = _int(pick(data, "unenrolledCount", "unenrolled_count", "unenrolled"))
    total = _int(pick(data, "totalProcessed", "total_processed", "processed"))
    if count is None:
        raise Unreadable(endpoint, "no unenrolledCount")
    return UnenrollResult(
        unenrolled_count=count, total_processed=count if total is None else total, raw=data
    )


def webhook(data: JSON, endpoint: str) -> Webhook:
    events = pick(data, "events", "eventTypes", "event_types")
    active = pick(data, "isActive", "is_active", "active", "enabled")
    secret = _str(pick(data, "secret", "signingSecret", "signing_secret"))
    return Webhook(
        id=_require_id(data, "webhook", endpoint),
        url=_str(pick(data, "url", "endpoint", "targetUrl")) or "",
        events=tuple(e for e in events if isinstance(e, str)) if isinstance(events, list) else (),
        active=active if isinstance(active, bool) else True,
        secret=Secret(secret) if secret else None,
        raw={k: v for k, v in data.items() if "secret" not in k.lower()},
    )


def sent_email(data: JSON) -> SentEmail:
    prospect_obj = data.get("prospect")
    nested: JSON = prospect_obj if isinstance(prospect_obj, dict) else {}
    email = _str(pick(data, "prospectEmail", "prospect_email", "to", "email"))
    email = email or _str(nested.get("email"))
    return SentEmail(
        campaign_id=_str(pick(data, "campaignId", "campaign_id")),
        prospect_id=_str(pick(data, "prospectId", "prospect_id")) or _str(nested.get("id")),
        email=email.strip().lower() if email else None,
        sent_at=_str(pick(data, "sentAt", "sent_at", "createdAt", "timestamp")),
        raw=data,
    )
