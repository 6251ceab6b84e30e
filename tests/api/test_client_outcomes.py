"""The webhook endpoints and the reads that stand in for webhooks (prospect statuses, sent
emails), in each shape the API has been seen to use; the signing secret never shows."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sheetsync.api import WarmySenderClient
from sheetsync.errors import ApiError, NotFound

from .conftest import Wire

HOOK = {"id": "whk_1", "url": "https://sync.example.com/w", "events": ["reply.received"]}


def test_create_webhook_sends_url_and_events_and_keeps_the_secret_out_of_sight(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(201, {"data": {**HOOK, "isActive": True, "secret": "whsec_abc123"}})
    hook = client.create_webhook(HOOK["url"], ["reply.received"], idempotency_key="webhook:1")
    request = wire.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/api/v1/webhooks")
    assert json.loads(request.content) == {"url": HOOK["url"], "events": ["reply.received"]}
    assert request.headers["idempotency-key"] == "webhook:1"
    assert (hook.id, hook.url, hook.events, hook.active) == (
        "whk_1",
        HOOK["url"],
        ("reply.received",),
        True,
    )
    assert hook.secret is not None and hook.secret.reveal() == "whsec_abc123"
    assert "whsec_abc123" not in repr(hook) and "secret" not in hook.raw


def test_create_webhook_without_a_secret_is_a_clear_error(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(201, {"data": HOOK})
    with pytest.raises(ApiError, match="no signing secret"):
        client.create_webhook(HOOK["url"], ["reply.received"], idempotency_key="k")


@pytest.mark.parametrize(
    ("body", "active"),
    [
        ({"data": [{**HOOK, "isActive": False}]}, False),
        ({"data": {"webhooks": [{**HOOK, "is_active": True}]}}, True),
        ([{"webhookId": "whk_1", "url": HOOK["url"], "eventTypes": ["reply.received"]}], True),
    ],
    ids=["data-list", "nested-snake", "bare-list"],
)
def test_list_webhooks_reads_each_shape(
    client: WarmySenderClient, wire: Wire, body: Any, active: bool
) -> None:
    wire.add(200, body)
    [hook] = client.list_webhooks()
    assert (hook.id, hook.url, hook.events, hook.active) == (
        "whk_1",
        HOOK["url"],
        ("reply.received",),
        active,
    )
    assert hook.secret is None


def test_delete_webhook_is_false_when_already_gone(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"data": {"id": "whk_1", "deleted": True}})
    wire.add(404, {"error": {"code": "not_found", "message": "webhook 'whk_1' not found"}})
    assert client.delete_webhook("whk_1", idempotency_key="d1") is True
    assert client.delete_webhook("whk_1", idempotency_key="d2") is False
    assert [(r.method, r.url.path) for r in wire.requests] == [
        ("DELETE", "/api/v1/webhooks/whk_1")
    ] * 2


def test_prospects_page_and_sent_emails_page_return_the_next_cursor(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(
        200,
        {
            "data": [{"id": "p1", "email": "A@x.com", "globalStatus": "Bounced"}],
            "pagination": {"has_more": True, "next_cursor": "c2"},
        },
    )
    wire.add(
        200,
        {
            "data": {
                "emails": [
                    {"campaignId": "cmp_1", "prospectId": "p1", "prospectEmail": "A@x.com",
                     "sentAt": "2026-01-01T00:00:00Z"},
                    {"campaign_id": "cmp_1", "prospect": {"id": "p2", "email": "b@x.com"}},
                ]
            },
            "hasMore": False,
        },
    )  # fmt: skip
    prospects, cursor = client.prospects_page(None)
    assert [(p.id, p.status) for p in prospects] == [("p1", "bounced")] and cursor == "c2"
    sent, after = client.sent_emails_page("cmp_1", "c9")
    assert after is None
    assert [(s.prospect_id, s.email, s.sent_at) for s in sent] == [
        ("p1", "a@x.com", "2026-01-01T00:00:00Z"),
        ("p2", "b@x.com", None),
    ]
    params = wire.requests[-1].url.params
    assert (params["campaignId"], params["cursor"], params["limit"]) == ("cmp_1", "c9", "100")
    assert "cursor" not in wire.requests[0].url.params


def test_sent_emails_where_the_api_lacks_the_route_is_not_found(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(404, {"error": {"code": "not_found", "message": "no such endpoint"}})
    with pytest.raises(NotFound):
        client.sent_emails_page("cmp_1", None)
