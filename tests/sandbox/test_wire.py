"""Envelope, GET /me, mailboxes, paging, error shape, routing and the /_sandbox/ views."""

from __future__ import annotations

import logging

import httpx
import pytest

from sheetsync.sandbox import DEMO_KEY
from tests.sandbox.conftest import Env


def test_success_envelope_has_data_and_request_id(env: Env) -> None:
    body = env.api.post("/prospects", json={"email": "a@b.co"}).json()
    assert set(body) == {"data", "meta"}
    assert body["meta"]["request_id"].startswith("req_")
    again = env.api.post("/prospects", json={"email": "c@b.co"}).json()
    assert again["meta"]["request_id"] != body["meta"]["request_id"]


def test_me_is_not_wrapped_and_names_key_workspace_and_subscription(env: Env) -> None:
    body = env.api.get("/me").json()
    assert "data" not in body
    assert body["workspace"] == {"id": "ws_demo"}
    assert body["apiKey"]["id"] and body["apiKey"]["name"]
    assert "campaigns:write" in body["apiKey"]["scopes"]
    assert body["subscriptionActive"] is True
    assert DEMO_KEY not in httpx.Response(200, json=body).text  # the key itself never echoes


def test_mailboxes_list_with_connection_flags(env: Env) -> None:
    body = env.api.get("/mailboxes").json()
    boxes = {m["id"]: m for m in body["data"]}
    assert set(boxes["mbx_demo_1"]) == {"id", "email", "connected", "sendingEnabled"}
    assert boxes["mbx_demo_3"]["connected"] is False
    assert body["pagination"] == {"has_more": False, "next_cursor": None}
    only = env.api.get("/mailboxes", params={"email_address": "SAM@outreach-demo.example"})
    assert [m["id"] for m in only.json()["data"]] == ["mbx_demo_2"]


def test_pagination_walks_every_item_once_with_limit_and_cursor(env: Env) -> None:
    for i in range(7):
        env.api.post("/prospects", json={"email": f"p{i}@page.example"})
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        body = env.api.get("/prospects", params=params).json()
        assert len(body["data"]) <= 3
        seen += [p["email"] for p in body["data"]]
        pages += 1
        if not body["pagination"]["has_more"]:
            assert body["pagination"]["next_cursor"] is None
            break
        cursor = body["pagination"]["next_cursor"]
    assert pages == 4  # 4 seeded + 7 new = 11 items, 3 per page
    assert len(seen) == len(set(seen)) == 11


def test_default_limit_is_50_and_max_is_100(env: Env) -> None:
    for i in range(55):
        env.api.post("/prospects", json={"email": f"bulk{i}@page.example"})
        env.clock.advance(1.0)  # stay under 60 per window
    body = env.api.get("/prospects").json()
    assert len(body["data"]) == 50 and body["pagination"]["has_more"] is True
    too_big = env.api.get("/prospects", params={"limit": "101"})
    assert too_big.status_code == 422
    assert "limit" in too_big.json()["error"]["message"]


def test_bad_cursor_is_a_validation_error(env: Env) -> None:
    response = env.api.get("/prospects", params={"cursor": "not-ours"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "cursor" in response.json()["error"]["message"]


def test_malformed_json_is_400(env: Env) -> None:
    response = env.api.post(
        "/prospects", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_body_must_be_an_object(env: Env) -> None:
    response = env.api.post("/prospects", json=["a@b.co"])
    assert response.status_code == 422
    assert "JSON object" in response.json()["error"]["message"]


def test_unknown_path_404_and_wrong_method_405(env: Env) -> None:
    missing = env.api.get("/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = env.api.get("/prospects/prs_1")  # PATCH-only route
    assert wrong.status_code == 405
    assert "PATCH" in wrong.json()["error"]["message"]


def test_state_view_lists_prospects_campaigns_enrollments_and_counters(env: Env) -> None:
    campaign = env.create_campaign()
    env.api.post(
        f"/campaigns/{campaign['id']}/enrollments", json={"emails": ["lena@umbrella.example"]}
    )
    state = env.admin.get("/state").json()
    ws = state["workspaces"][0]
    assert ws["id"] == "ws_demo"
    assert {p["email"] for p in ws["prospects"]} >= {"bounced@globex.example"}
    (c,) = ws["campaigns"]
    assert c["id"] == campaign["id"] and c["steps"] and "stats" in c
    assert c["enrollments"] == [
        {
            "prospectId": c["enrollments"][0]["prospectId"],
            "email": "lena@umbrella.example",
            "status": "active",
        }
    ]
    assert ws["requests"] == 2
    assert ws["requestsByEndpoint"] == {
        "POST /campaigns": 1,
        "POST /campaigns/{id}/enrollments": 1,
    }
    assert state["faults"]["error_rate"] == 0.0


def test_reset_returns_to_the_seed(env: Env) -> None:
    env.create_campaign()
    env.api.post("/prospects", json={"email": "new@reset.example"})
    assert env.admin.post("/reset").status_code == 200
    ws = env.state()
    assert ws["campaigns"] == [] and ws["requests"] == 0
    assert "new@reset.example" not in {p["email"] for p in ws["prospects"]}


def test_admin_prospect_status_marks_a_prospect(env: Env) -> None:
    ok = env.admin.post(
        "/prospects/status", json={"email": "lena@umbrella.example", "status": "suppressed"}
    )
    assert ok.status_code == 200 and ok.json()["globalStatus"] == "suppressed"
    bad = env.admin.post(
        "/prospects/status", json={"email": "lena@umbrella.example", "status": "gone"}
    )
    assert bad.status_code == 422
    unknown = env.admin.post(
        "/prospects/status", json={"email": "x@y.example", "status": "bounced"}
    )
    assert unknown.status_code == 404


def test_request_log_never_shows_the_key(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sheetsync.sandbox")
    env.api.get("/campaigns/cmp_x")
    text = caplog.text
    assert "GET /campaigns/{id} -> 404" in text
    assert DEMO_KEY not in text and "cmp_x" not in text


def test_bad_content_length_is_400_not_a_crash(env: Env) -> None:
    import socket

    host, port = env.server.root_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/prospects HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400") and b"Content-Length" in answer
