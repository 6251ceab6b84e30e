"""401 for missing/unknown/revoked keys, 403 insufficient_scope per endpoint, /me for any key."""

from __future__ import annotations

from typing import Any

import pytest

from sheetsync.sandbox import DEMO_KEY, demo_seed
from tests.sandbox.conftest import Env, campaign_body, start_env


@pytest.mark.parametrize("key", [None, "wsk_not_a_real_key_123"])
def test_missing_or_unknown_key_is_401(env: Env, key: str | None) -> None:
    response = env.client(key).get("/mailboxes")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert "Bearer" in error["message"]


def test_revoked_key_is_401() -> None:
    seed = demo_seed()
    seed["workspaces"][0]["apiKeys"][0]["revoked"] = True
    env = start_env(seed)
    try:
        response = env.api.get("/me")
        assert response.status_code == 401
        assert DEMO_KEY not in response.text
    finally:
        env.close()


def test_me_answers_for_a_key_without_scopes() -> None:
    seed = demo_seed()
    seed["workspaces"][0]["apiKeys"][0]["scopes"] = []
    env = start_env(seed)
    try:
        body = env.api.get("/me").json()
        assert body["apiKey"]["scopes"] == []
        assert env.api.get("/mailboxes").status_code == 403
    finally:
        env.close()


SCOPED: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("GET", "/mailboxes", "mailboxes:read", None),
    ("POST", "/prospects", "prospects:write", {"email": "s@scope.example"}),
    ("PATCH", "/prospects/prs_x", "prospects:write", {"firstName": "X"}),
    ("GET", "/prospects", "prospects:read", None),
    ("GET", "/campaigns", "campaigns:read", None),
    ("GET", "/campaigns/cmp_x", "campaigns:read", None),
    ("POST", "/campaigns", "campaigns:write", campaign_body()),
    ("PATCH", "/campaigns/cmp_x", "campaigns:write", {"name": "n"}),
    ("POST", "/campaigns/cmp_x/start", "campaigns:write", None),
    ("POST", "/campaigns/cmp_x/pause", "campaigns:write", None),
    ("POST", "/campaigns/cmp_x/enrollments", "enrollments:write", {"emails": ["a@b.co"]}),
    ("DELETE", "/campaigns/cmp_x/enrollments", "enrollments:write", {"emails": ["a@b.co"]}),
]


@pytest.mark.parametrize(("method", "path", "scope", "body"), SCOPED)
def test_each_endpoint_requires_its_scope(
    method: str, path: str, scope: str, body: dict[str, Any] | None
) -> None:
    seed = demo_seed()
    key = seed["workspaces"][0]["apiKeys"][0]
    key["scopes"] = [s for s in key["scopes"] if s != scope]
    env = start_env(seed)
    try:
        response = env.api.request(method, path, json=body)
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "insufficient_scope"
        assert error["required_scope"] == scope
        assert scope in error["message"]
        assert env.state()["campaigns"] == []  # nothing was done
    finally:
        env.close()


def test_readonly_demo_key_can_read_but_not_write(env: Env) -> None:
    ro = env.readonly()
    assert ro.get("/campaigns").status_code == 200
    denied = ro.post("/campaigns", json=campaign_body())
    assert denied.status_code == 403
    assert denied.json()["error"]["required_scope"] == "campaigns:write"
