"""Every endpoint: method, path, query, body, headers and the typed result, in each envelope and
casing the API has been seen to use."""

from __future__ import annotations

from typing import Any

import pytest

from sheetsync.api import WarmySenderClient
from sheetsync.api.models import EnrollmentOutcome, Step
from sheetsync.errors import ApiError

from .conftest import KEY, Wire

META = {"meta": {"request_id": "req_1"}}

CAMPAIGN_CAMEL = {
    "id": "cmp_1",
    "name": "Q3 Founders",
    "status": "active",
    "channel": "email",
    "mailboxIds": ["mbx_1", "mbx_2"],
    "pausedReason": None,
    "steps": [
        {"stepIndex": 0, "subject": "Hi", "bodyHtml": "<p>a</p>", "delayDays": 0},
        {"stepIndex": 1, "subject": "Re: Hi", "bodyHtml": "<p>b</p>"},
    ],
    "stats": {"enrolled": 3, "sent": 5, "opened": "n/a", "replied": True, "bounced": 0},
}
CAMPAIGN_SNAKE = {
    "id": "cmp_2",
    "name": "Snake",
    "status": "paused",
    "paused_reason": "api",
    "mailbox_ids": ["mbx_9"],
    "steps": [{"step_index": 0, "subject": "S", "body_html": "<p>s</p>", "delay_days": 0}],
    "stats": {"sent": 1},
}


def assert_common_headers(wire: Wire, *, write: bool, key: str | None = None) -> None:
    request = wire.requests[-1]
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "application/json"
    if write:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["idempotency-key"] == key
    else:
        assert "idempotency-key" not in request.headers


@pytest.mark.parametrize(
    "body",
    [
        {"apiKey": {"id": "key_1", "name": "prod", "scopes": ["campaigns:write"]},
         "workspace": {"id": "ws_1"}},
        {"data": {"apiKey": {"id": "key_1", "name": "prod", "scopes": ["campaigns:write"]},
                  "workspace": {"id": "ws_1"}}, **META},
    ],
    ids=["unwrapped", "data-wrapped"],
)  # fmt: skip
def test_me_reads_key_and_workspace(client: WarmySenderClient, wire: Wire, body: Any) -> None:
    wire.add(200, body)
    me = client.me()
    assert (me.workspace_id, me.key_id, me.key_name) == ("ws_1", "key_1", "prod")
    assert me.scopes == frozenset({"campaigns:write"})
    assert wire.requests[-1].method == "GET"
    assert str(wire.requests[-1].url) == "http://127.0.0.1:9/api/v1/me"
    assert_common_headers(wire, write=False)
    assert client.calls == {"GET /me": 1}


def test_me_without_workspace_is_a_clear_error(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"apiKey": {"id": "k"}})
    with pytest.raises(ApiError, match="cannot read: no workspace id") as info:
        client.me()
    assert info.value.endpoint == "GET /me"


def test_list_mailboxes_follows_snake_pagination(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"data": [{"id": "m1", "email": "a@x.io", "connected": True,
                             "sendingEnabled": False}],
                   "pagination": {"has_more": True, "next_cursor": "c2"}})  # fmt: skip
    wire.add(200, {"data": [{"id": "m2", "email_address": "b@x.io", "status": "disconnected",
                             "sending_enabled": True}],
                   "pagination": {"has_more": False, "next_cursor": None}})  # fmt: skip
    boxes = client.list_mailboxes()
    assert [(m.id, m.email, m.connected, m.sending_enabled) for m in boxes] == [
        ("m1", "a@x.io", True, False),
        ("m2", "b@x.io", False, True),
    ]
    assert [dict(r.url.params) for r in wire.requests] == [
        {"limit": "100"},
        {"limit": "100", "cursor": "c2"},
    ]
    assert client.calls == {"GET /mailboxes": 2}


def test_list_campaigns_follows_camel_pagination_inside_data(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(200, {"data": {"campaigns": [CAMPAIGN_CAMEL],
                            "pagination": {"hasMore": True, "nextCursor": "p2"}}})  # fmt: skip
    wire.add(200, {"data": {"items": [CAMPAIGN_SNAKE], "hasMore": False}})
    campaigns = client.list_campaigns()
    assert [c.id for c in campaigns] == ["cmp_1", "cmp_2"]
    assert wire.requests[1].url.params["cursor"] == "p2"


def test_pagination_stops_on_empty_cursor(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"data": [{"id": "m1", "email": "a@x.io"}],
                   "pagination": {"has_more": True, "next_cursor": ""}})  # fmt: skip
    assert [m.id for m in client.list_mailboxes()] == ["m1"]
    assert len(wire.requests) == 1


def test_repeating_cursor_stops_with_an_error(client: WarmySenderClient, wire: Wire) -> None:
    page = {"data": [{"id": "m1", "email": "a@x.io"}],
            "pagination": {"has_more": True, "next_cursor": "same"}}  # fmt: skip
    wire.add(200, page).add(200, page).add(200, page)
    with pytest.raises(ApiError, match="same page cursor twice") as info:
        client.list_mailboxes()
    assert info.value.code == "pagination_loop"
    assert len(wire.requests) == 2


@pytest.mark.parametrize(
    ("status", "extra", "created"),
    [
        (201, {}, True),
        (200, {}, False),
        (202, {}, True),
        (202, {"existing": True}, False),
        (202, {"created": False}, False),
    ],
)
def test_create_prospect(
    client: WarmySenderClient, wire: Wire, status: int, extra: dict[str, Any], created: bool
) -> None:
    wire.add(status, {"data": {"id": "p1", "email": "ann@x.io", "firstName": "Ann",
                               "globalStatus": "Active"}, **extra, **META})  # fmt: skip
    body = {"email": "ann@x.io", "firstName": "Ann", "customFields": {"Industry": "SaaS"}}
    result = client.create_prospect(body, idempotency_key="create-prospect:ann@x.io")
    assert result.created is created
    assert (result.prospect.id, result.prospect.email, result.prospect.status) == (
        "p1",
        "ann@x.io",
        "active",
    )
    assert wire.requests[-1].method == "POST" and wire.path() == "/prospects"
    assert wire.body() == body
    assert_common_headers(wire, write=True, key="create-prospect:ann@x.io")


def test_created_prospect_without_id_is_a_clear_error(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(201, {"data": {"email": "ann@x.io"}})
    with pytest.raises(ApiError, match="the prospect has no id") as info:
        client.create_prospect({"email": "ann@x.io"}, idempotency_key="k")
    assert info.value.endpoint == "POST /prospects"


def test_update_prospect(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"id": "p/1", "email": "ann@x.io", "global_status": "bounced"})
    prospect = client.update_prospect("p/1", {"company": "Acme"}, idempotency_key="u1")
    assert prospect.status == "bounced"
    assert wire.requests[-1].method == "PATCH"
    assert wire.requests[-1].url.raw_path == b"/api/v1/prospects/p%2F1"
    assert wire.body() == {"company": "Acme"}
    assert_common_headers(wire, write=True, key="u1")
    assert client.calls == {"PATCH /prospects/{id}": 1}


def test_find_prospect_matches_email_case_insensitively(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(200, {"data": {"prospects": [{"id": "p9", "email": "Ann@X.io", "status": "active"}]},
                   "pagination": {"has_more": False}})  # fmt: skip
    found = client.find_prospect(" ann@x.io ")
    assert found is not None and found.id == "p9"
    assert dict(wire.requests[-1].url.params) == {"email": "ann@x.io", "limit": "100"}


def test_find_prospect_ignores_other_emails_and_returns_none(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(200, {"data": [{"id": "p1", "email": "bob@x.io"}]})
    assert client.find_prospect("ann@x.io") is None


def test_create_campaign_reads_camel_case(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(201, {"data": CAMPAIGN_CAMEL, **META})
    body = {"name": "Q3 Founders", "mailboxIds": ["mbx_1"],
            "steps": [{"stepIndex": 0, "subject": "Hi", "bodyHtml": "<p>a</p>"}]}  # fmt: skip
    campaign = client.create_campaign(body, idempotency_key="create-campaign:q3")
    assert campaign.id == "cmp_1" and campaign.name == "Q3 Founders"
    assert campaign.status == "running"  # "active" normalised
    assert campaign.channel == "email" and campaign.mailbox_ids == ("mbx_1", "mbx_2")
    assert campaign.steps == (Step(0, "Hi", "<p>a</p>", 0), Step(1, "Re: Hi", "<p>b</p>", 1))
    assert campaign.stats == {"enrolled": 3, "sent": 5, "bounced": 0}  # non-ints dropped
    assert wire.path() == "/campaigns" and wire.body() == body
    assert_common_headers(wire, write=True, key="create-campaign:q3")


def test_created_campaign_without_id_is_a_clear_error(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(201, {"data": {"name": "x", "status": "draft"}})
    with pytest.raises(ApiError, match="cannot read: the campaign has no id"):
        client.create_campaign({"name": "x"}, idempotency_key="k")


def test_non_json_success_body_is_a_clear_error(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, raw=b"<html>oops</html>")
    with pytest.raises(ApiError, match="it is not JSON") as info:
        client.get_campaign("cmp_1")
    assert (info.value.status, info.value.endpoint) == (200, "GET /campaigns/{id}")


def test_get_campaign_reads_snake_case(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, CAMPAIGN_SNAKE)
    campaign = client.get_campaign("cmp_2")
    assert (campaign.status, campaign.paused_reason) == ("paused", "api")
    assert campaign.steps == (Step(0, "S", "<p>s</p>", 0),)
    assert campaign.mailbox_ids == ("mbx_9",)
    assert wire.requests[-1].method == "GET" and wire.path() == "/campaigns/cmp_2"
    assert_common_headers(wire, write=False)


def test_update_campaign(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"data": {**CAMPAIGN_SNAKE, "name": "Renamed"}})
    campaign = client.update_campaign("cmp_2", {"name": "Renamed"}, idempotency_key="upd")
    assert campaign.name == "Renamed"
    assert wire.requests[-1].method == "PATCH" and wire.path() == "/campaigns/cmp_2"
    assert wire.body() == {"name": "Renamed"}
    assert_common_headers(wire, write=True, key="upd")


@pytest.mark.parametrize(("action", "status"), [("start", "scheduled"), ("pause", "paused")])
def test_start_and_pause(client: WarmySenderClient, wire: Wire, action: str, status: str) -> None:
    wire.add(200, {"data": {**CAMPAIGN_CAMEL, "status": status}})
    call = client.start_campaign if action == "start" else client.pause_campaign
    campaign = call("cmp_1", idempotency_key=f"{action}:cmp_1")
    assert campaign.status == status
    assert wire.requests[-1].method == "POST" and wire.path() == f"/campaigns/cmp_1/{action}"
    assert_common_headers(wire, write=True, key=f"{action}:cmp_1")
    assert client.calls == {f"POST /campaigns/{{id}}/{action}": 1}


def test_enroll_reads_counts_and_outcomes(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"data": {"enrolled": 1, "suppressed": 1, "alreadyEnrolled": 1,
                            "notFound": ["ghost@x.io"],
                            "results": [
                                {"prospectId": "p1", "email": "a@x.io", "status": "enrolled"},
                                {"prospectId": "p2", "email": "b@x.io", "status": "suppressed"},
                                {"email": "ghost@x.io", "status": "not_found"}]}})  # fmt: skip
    result = client.enroll("cmp_1", prospect_ids=["p1", "p2"], emails=["ghost@x.io"],
                           list_ids=["lst_1"], idempotency_key="enroll:cmp_1:h")  # fmt: skip
    assert (result.enrolled, result.suppressed, result.already_enrolled) == (1, 1, 1)
    assert result.not_found == ("ghost@x.io",)
    assert result.outcomes is not None
    assert result.outcomes[1] == EnrollmentOutcome("suppressed", "b@x.io", "p2")
    assert result.outcomes[2] == EnrollmentOutcome("not_found", "ghost@x.io", None)
    assert wire.path() == "/campaigns/cmp_1/enrollments"
    assert wire.body() == {"prospectIds": ["p1", "p2"], "emails": ["ghost@x.io"],
                           "listIds": ["lst_1"]}  # fmt: skip
    assert_common_headers(wire, write=True, key="enroll:cmp_1:h")


def test_enroll_snake_counts_without_detail(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(201, {"enrolled": 4, "already_enrolled": 2})
    result = client.enroll("cmp_1", emails=["a@x.io"], idempotency_key="k")
    assert (result.enrolled, result.suppressed, result.already_enrolled) == (4, None, 2)
    assert result.outcomes is None
    assert wire.body() == {"emails": ["a@x.io"]}


def test_enroll_counts_derived_from_enrollments_detail(
    client: WarmySenderClient, wire: Wire
) -> None:
    wire.add(
        200,
        {
            "data": {
                "enrollments": [
                    {"prospect_id": "p1", "status": "enrolled"},
                    {"prospect_id": "p2", "status": "enrolled"},
                ]
            }
        },
    )
    result = client.enroll("cmp_1", prospect_ids=["p1", "p2"], idempotency_key="k")
    assert (result.enrolled, result.suppressed) == (2, 0)


def test_enroll_needs_someone(client: WarmySenderClient, wire: Wire) -> None:
    with pytest.raises(ValueError, match="prospectIds or emails or listIds"):
        client.enroll("cmp_1", idempotency_key="k")
    assert wire.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"unenrolledCount": 2, "totalProcessed": 3}},
        {"data": {"unenrolled_count": 2, "total_processed": 3}},
        {"unenrolledCount": 2, "totalProcessed": 3},
    ],
)
def test_unenroll(client: WarmySenderClient, wire: Wire, body: Any) -> None:
    wire.add(200, body)
    result = client.unenroll("cmp_1", prospect_ids=["p1"], emails=["a@x.io", "b@x.io"],
                             idempotency_key="unenroll:cmp_1:h")  # fmt: skip
    assert (result.unenrolled_count, result.total_processed) == (2, 3)
    request = wire.requests[-1]
    assert request.method == "DELETE" and wire.path() == "/campaigns/cmp_1/enrollments"
    assert wire.body() == {"prospectIds": ["p1"], "emails": ["a@x.io", "b@x.io"]}
    assert_common_headers(wire, write=True, key="unenroll:cmp_1:h")


def test_unenroll_without_count_is_a_clear_error(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, {"data": {"ok": True}})
    with pytest.raises(ApiError, match="no unenrolledCount"):
        client.unenroll("cmp_1", emails=["a@x.io"], idempotency_key="k")


def test_calls_count_every_endpoint_by_template(client: WarmySenderClient, wire: Wire) -> None:
    wire.add(200, CAMPAIGN_SNAKE).add(200, CAMPAIGN_CAMEL).add(200, {"data": []})
    client.get_campaign("cmp_2")
    client.get_campaign("cmp_1")
    client.list_campaigns()
    assert client.calls == {"GET /campaigns/{id}": 2, "GET /campaigns": 1}
    assert client.total_calls == 3


def test_base_url_trailing_slash_and_timeouts(wire: Wire, http: Any, clock: Any) -> None:
    from sheetsync.config import Secret

    wire.add(200, CAMPAIGN_SNAKE)
    with WarmySenderClient("http://127.0.0.1:9/api/v1/", Secret(KEY), http=http, clock=clock,
                           timeout_s=4.5) as c:  # fmt: skip
        c.get_campaign("cmp_2")
    request = wire.requests[-1]
    assert str(request.url) == "http://127.0.0.1:9/api/v1/campaigns/cmp_2"
    assert request.extensions["timeout"] == {"connect": 4.5, "read": 4.5, "write": 4.5,
                                             "pool": 4.5}  # fmt: skip
