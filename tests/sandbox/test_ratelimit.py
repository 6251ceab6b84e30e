"""Per-workspace fixed 60-second windows, the X-RateLimit-* headers and 429 + Retry-After."""

from __future__ import annotations

import math

from sheetsync.sandbox import demo_seed
from tests.sandbox.conftest import Env, start_env


def limited_env(limit: int) -> Env:
    seed = demo_seed()
    seed["workspaces"][0]["rateLimitPerMinute"] = limit
    return start_env(seed)


def test_every_answer_carries_the_three_headers(env: Env) -> None:
    reset = math.floor(env.clock.time() / 60) * 60 + 60
    for response in (env.api.get("/me"), env.api.get("/campaigns/cmp_nope"),
                     env.api.post("/prospects", json={})):  # fmt: skip
        assert response.headers["X-RateLimit-Limit"] == "60"
        assert response.headers["X-RateLimit-Reset"] == str(reset)
    assert response.headers["X-RateLimit-Remaining"] == "57"


def test_over_the_limit_is_429_with_retry_after_and_no_work() -> None:
    env = limited_env(3)
    try:
        env.clock.advance(60 - (env.clock.time() % 60) + 15)  # 15 s into a window
        for i in range(3):
            ok = env.api.post("/prospects", json={"email": f"r{i}@rate.example"})
            assert ok.status_code == 201
            assert ok.headers["X-RateLimit-Remaining"] == str(2 - i)
        refused = env.api.post("/prospects", json={"email": "late@rate.example"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["Retry-After"] == "45"
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["X-RateLimit-Reset"]) == int(env.clock.time()) + 45
        assert "late@rate.example" not in {p["email"] for p in env.state()["prospects"]}
        assert env.state()["requests"] == 4  # the refused request is counted too
        env.clock.advance(45)
        again = env.api.post("/prospects", json={"email": "late@rate.example"})
        assert again.status_code == 201
        assert again.headers["X-RateLimit-Remaining"] == "2"
    finally:
        env.close()


def test_retry_after_is_at_least_one_second() -> None:
    env = limited_env(1)
    try:
        env.clock.advance(60 - (env.clock.time() % 60) - 0.25)  # 0.25 s before the reset
        env.api.get("/me")
        refused = env.api.get("/me")
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    finally:
        env.close()


def test_the_limit_is_shared_by_every_key_of_the_workspace() -> None:
    env = limited_env(2)
    try:
        env.api.get("/me")
        env.readonly().get("/me")
        assert env.api.get("/me").status_code == 429
    finally:
        env.close()


def test_workspaces_have_separate_budgets() -> None:
    seed = demo_seed()
    seed["workspaces"][0]["rateLimitPerMinute"] = 1
    other = {
        "id": "ws_other",
        "rateLimitPerMinute": 1,
        "apiKeys": [{"key": "wsk_other_key_1", "scopes": ["campaigns:read"]}],
    }
    seed["workspaces"].append(other)
    env = start_env(seed)
    try:
        assert env.api.get("/me").status_code == 200
        assert env.api.get("/me").status_code == 429
        second = env.client("wsk_other_key_1")
        assert second.get("/campaigns").status_code == 200
        state = env.admin.get("/state").json()["workspaces"]
        assert [w["requests"] for w in state] == [2, 1]
    finally:
        env.close()
