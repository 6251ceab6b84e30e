"""Webhooks in the sandbox: the endpoints and their scopes, the https rule, events made through
/_sandbox/events with their effects, signed deliveries and retries on the sandbox clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.sandbox.conftest import Env

ALL = ["reply.received", "email.bounced", "email.opened", "email.clicked", "email.sent",
       "email.unsubscribed", "prospect.suppressed"]  # fmt: skip


class Catcher:
    """A receiver on 127.0.0.1 that records every request and answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (stdlib name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                catcher.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(catcher.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    c = Catcher()
    yield c
    c.close()


def register(env: Env, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = env.api.post("/webhooks", json={"url": url, "events": events or ALL})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def running_campaign(env: Env, *emails: str, **settings: Any) -> str:
    cid = str(env.create_campaign(**settings)["id"])
    response = env.api.post(f"/campaigns/{cid}/enrollments", json={"emails": list(emails)})
    assert response.status_code == 200, response.text
    assert env.api.post(f"/campaigns/{cid}/start").status_code == 200
    return cid


def verify(secret: str, headers: dict[str, str], body: bytes) -> int:
    """The signature's timestamp (ms) after checking it as a receiver would."""
    parts = dict(p.split("=", 1) for p in headers["x-warmy-signature"].split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(mac.hexdigest(), parts["v1"])
    return int(parts["t"])


def test_webhook_endpoints_scopes_and_the_https_rule(env: Env) -> None:
    created = register(env, "https://hooks.example.com/warmy", ["reply.received"])
    assert created["secret"].startswith("whsec_") and created["isActive"] is True
    listed = env.api.get("/webhooks").json()["data"]
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    assert env.readonly().get("/webhooks").status_code == 200
    refused = env.readonly().post("/webhooks", json={"url": "https://x.example", "events": ALL})
    assert refused.status_code == 403
    assert refused.json()["error"]["required_scope"] == "webhooks:write"
    for url, why in [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "must be an https:// URL"),
        ("https://[::1/x", "is not a valid URL"),
        ("", "url is required"),
    ]:
        bad = env.api.post("/webhooks", json={"url": url, "events": ALL})
        assert bad.status_code == 422 and why in bad.json()["error"]["message"], url
    bad = env.api.post("/webhooks", json={"url": "https://x.example", "events": ["email.read"]})
    assert bad.status_code == 422 and "'email.read'" in bad.json()["error"]["message"]
    for loopback in ("http://127.0.0.1:9/h", "http://localhost:9/h", "http://[::1]:9/h"):
        assert env.api.post("/webhooks", json={"url": loopback, "events": ALL}).status_code == 201
    gone = env.api.delete(f"/webhooks/{created['id']}")
    assert gone.status_code == 200 and gone.json()["data"] == {"id": created["id"], "deleted": True}
    assert env.api.delete(f"/webhooks/{created['id']}").status_code == 404
    assert created["id"] not in {w["id"] for w in env.api.get("/webhooks").json()["data"]}


def test_a_reply_is_applied_and_delivered_signed(env: Env, catcher: Catcher) -> None:
    hook = register(env, catcher.url)
    cid = running_campaign(env, "lena@umbrella.example", "existing@acme.example")
    env.admin.post("/webhooks/deliver")  # the two step-1 emails: email.sent
    sent = [json.loads(b) for _, b in catcher.requests]
    assert [(e["type"], e["data"]["prospectEmail"]) for e in sent] == [
        ("email.sent", "lena@umbrella.example"),
        ("email.sent", "existing@acme.example"),
    ]
    catcher.requests.clear()

    answer = env.admin.post(
        "/events", json={"type": "reply.received", "email": "Lena@Umbrella.example"}
    )
    assert answer.status_code == 200, answer.text
    event = answer.json()["event"]
    assert answer.json()["deliveries"][0]["status"] == "delivered"
    [(headers, body)] = catcher.requests
    assert headers["x-warmy-event-id"] == event["id"]
    assert headers["x-warmy-event-type"] == "reply.received"
    assert verify(hook["secret"], headers, body) == int(env.clock.time() * 1000)
    envelope = json.loads(body)
    assert envelope["type"] == "reply.received" and envelope["data"] == event["data"]
    data = envelope["data"]
    assert (data["prospectEmail"], data["campaignId"], data["channel"]) == (
        "lena@umbrella.example",
        cid,
        "email",
    )
    assert data["subject"] == "Re: Hi {{firstName}}" and data["receivedAt"] == envelope["timestamp"]
    campaign = env.api.get(f"/campaigns/{cid}").json()["data"]
    assert campaign["stats"]["replied"] == 1 and campaign["stats"]["enrolled"] == 1
    states = {e["email"]: e["status"] for e in env.state()["campaigns"][0]["enrollments"]}
    assert states == {"lena@umbrella.example": "replied", "existing@acme.example": "active"}


def test_bounce_and_unsubscribe_change_the_prospect_and_stop_the_enrollment(
    env: Env, catcher: Catcher
) -> None:
    register(env, catcher.url)
    cid = running_campaign(env, "lena@umbrella.example", "existing@acme.example")
    env.admin.post("/events", json={"type": "email.bounced", "email": "lena@umbrella.example"})
    env.admin.post("/events", json={"type": "email.unsubscribed", "email": "existing@acme.example"})
    state = env.state()
    statuses = {p["email"]: p["globalStatus"] for p in state["prospects"]}
    assert statuses["lena@umbrella.example"] == "bounced"
    assert statuses["existing@acme.example"] == "unsubscribed"
    enrollments = {e["email"]: e["status"] for e in state["campaigns"][0]["enrollments"]}
    assert enrollments == {
        "lena@umbrella.example": "bounced",
        "existing@acme.example": "unsubscribed",
    }
    stats = env.api.get(f"/campaigns/{cid}").json()["data"]["stats"]
    assert (stats["bounced"], stats["unsubscribed"], stats["enrolled"]) == (1, 1, 0)
    bounce = next(json.loads(b) for _, b in catcher.requests if b"email.bounced" in b)
    assert bounce["data"]["bounceType"] == "hard" and bounce["data"]["campaignId"] == cid


def test_stop_on_reply_off_keeps_the_enrollment_active(env: Env, catcher: Catcher) -> None:
    cid = running_campaign(env, "lena@umbrella.example", stopOnReply=False)
    env.admin.post("/events", json={"type": "reply.received", "email": "lena@umbrella.example"})
    assert env.state()["campaigns"][0]["enrollments"][0]["status"] == "active"
    assert env.api.get(f"/campaigns/{cid}").json()["data"]["stats"]["replied"] == 1


def test_a_failed_delivery_is_retried_on_the_sandbox_clock(env: Env, catcher: Catcher) -> None:
    hook = register(env, catcher.url, ["email.opened"])
    running_campaign(env, "lena@umbrella.example")
    catcher.status = 500
    first = env.admin.post(
        "/events", json={"type": "email.opened", "email": "lena@umbrella.example"}
    )
    [delivery] = first.json()["deliveries"]
    assert delivery["status"] == "pending" and delivery["attempts"][0]["status"] == 500
    catcher.status = 200
    assert env.admin.post("/webhooks/deliver").json()["deliveries"] == []  # not due yet
    env.clock.advance(59)
    assert env.admin.post("/webhooks/deliver").json()["deliveries"] == []
    env.clock.advance(1)
    [again] = env.admin.post("/webhooks/deliver").json()["deliveries"]
    assert again["status"] == "delivered" and [a["status"] for a in again["attempts"]] == [500, 200]
    (h1, b1), (h2, b2) = catcher.requests
    assert h1["x-warmy-event-id"] == h2["x-warmy-event-id"] and b1 == b2
    assert verify(hook["secret"], h2, b2) - verify(hook["secret"], h1, b1) == 60_000  # re-signed


def test_a_receiver_that_is_down_gets_every_retry_then_the_delivery_fails(env: Env) -> None:
    register(env, "http://127.0.0.1:9/nobody-listens", ["email.opened"])
    running_campaign(env, "lena@umbrella.example")
    env.admin.post("/events", json={"type": "email.opened", "email": "lena@umbrella.example"})
    for _ in range(10):
        env.clock.advance(3 * 86400)
        env.admin.post("/webhooks/deliver")
    [delivery] = env.admin.get("/state").json()["deliveries"]
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 11
    assert all("error" in a for a in delivery["attempts"])


def test_redeliver_sends_the_same_event_again(env: Env, catcher: Catcher) -> None:
    register(env, catcher.url, ["reply.received"])
    running_campaign(env, "lena@umbrella.example")
    event = env.admin.post(
        "/events", json={"type": "reply.received", "email": "lena@umbrella.example"}
    ).json()["event"]
    again = env.admin.post("/webhooks/redeliver", json={"eventId": event["id"]})
    assert again.json()["deliveries"][0]["status"] == "delivered"
    ids = [h["x-warmy-event-id"] for h, _ in catcher.requests]
    assert ids == [event["id"], event["id"]]
    missing = env.admin.post("/webhooks/redeliver", json={"eventId": "nope"})
    assert missing.status_code == 422


def test_sent_emails_list_the_simulated_sends(env: Env) -> None:
    cid = running_campaign(env, "lena@umbrella.example")
    env.clock.advance(3 * 86400)
    page = env.api.get("/emails/sent", params={"campaignId": cid}).json()
    lines = [(e["prospectEmail"], e["stepIndex"]) for e in page["data"]]
    assert lines == [("lena@umbrella.example", 0), ("lena@umbrella.example", 1)]
    assert page["pagination"] == {"has_more": False, "next_cursor": None}
    assert env.api.get("/emails/sent").status_code == 422
    assert env.api.get("/emails/sent", params={"campaignId": "cmp_x"}).status_code == 404


def test_email_sent_has_one_shape_whether_simulated_or_made(env: Env, catcher: Catcher) -> None:
    """The data of an email.sent from the sending simulation and from POST /_sandbox/events:
    the same fields in the same order, each the sent email's (GET /emails/sent)."""
    register(env, catcher.url, ["email.sent"])
    cid = running_campaign(env, "lena@umbrella.example")
    env.admin.post("/webhooks/deliver")  # step 1, sent by the simulation
    made = env.admin.post(
        "/events", json={"type": "email.sent", "email": "lena@umbrella.example", "stepIndex": 1}
    )
    assert made.status_code == 200, made.text
    data = [json.loads(body)["data"] for _, body in catcher.requests]
    page = env.api.get("/emails/sent", params={"campaignId": cid}).json()["data"]
    assert len(data) == len(page) == 2
    for sent, line in zip(data, page, strict=True):
        assert list(sent) == ["prospectId", "prospectEmail", "campaignId", "mailboxId",
                              "stepIndex", "subject", "sentAt"]  # fmt: skip
        assert sent == {k: v for k, v in line.items() if k != "id"}
        assert (sent["prospectEmail"], sent["campaignId"]) == ("lena@umbrella.example", cid)
    assert [sent["stepIndex"] for sent in data] == [0, 1]
    assert data[1] == made.json()["event"]["data"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"type": "email.read", "email": "lena@umbrella.example"}, 422, "type must be one of"),
        ({"type": "reply.received", "email": "ghost@x.example"}, 404, "ghost@x.example"),
        ({"type": "reply.received", "email": "lena@umbrella.example"}, 422, "not enrolled"),
        ({"type": "reply.received", "email": "existing@acme.example"}, 422, "pass campaign"),
    ],
)
def test_events_that_cannot_apply_say_why(
    env: Env, body: dict[str, Any], status: int, words: str
) -> None:
    for _ in range(2):
        cid = env.create_campaign()["id"]
        env.api.post(f"/campaigns/{cid}/enrollments", json={"emails": ["existing@acme.example"]})
    answer = env.admin.post("/events", json=body)
    assert answer.status_code == status and words in answer.json()["error"]["message"]


def test_prospect_suppressed_needs_no_campaign(env: Env, catcher: Catcher) -> None:
    register(env, catcher.url, ["prospect.suppressed"])
    answer = env.admin.post(
        "/events", json={"type": "prospect.suppressed", "email": "lena@umbrella.example"}
    )
    assert answer.json()["event"]["data"]["email"] == "lena@umbrella.example"
    statuses = {p["email"]: p["globalStatus"] for p in env.state()["prospects"]}
    assert statuses["lena@umbrella.example"] == "suppressed"
    assert len(catcher.requests) == 1
