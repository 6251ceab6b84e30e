"""Fault knobs: error_rate, drop_rate / drop_next, latency_ms, burst_429, set at start or at
runtime through POST /_sandbox/faults."""

from __future__ import annotations

import httpx
import pytest

from sheetsync.sandbox import Faults
from tests.sandbox.conftest import Env, campaign_body, start_env


def test_error_rate_answers_5xx_before_any_work() -> None:
    env = start_env(faults=Faults(error_rate=1.0))
    try:
        statuses = set()
        for i in range(6):
            response = env.api.post("/prospects", json={"email": f"e{i}@fault.example"})
            statuses.add(response.status_code)
            assert response.json()["error"]["code"] in ("internal_error", "service_unavailable")
            assert "X-RateLimit-Remaining" in response.headers
        assert statuses <= {500, 503} and statuses
        assert not any(p["email"].endswith("@fault.example") for p in env.state()["prospects"])
    finally:
        env.close()


def test_drop_does_the_work_then_closes_without_answer(env: Env) -> None:
    env.admin.post("/faults", json={"drop_rate": 1.0})
    headers = {"Idempotency-Key": "create-once"}
    with pytest.raises(httpx.RemoteProtocolError):
        env.api.post("/campaigns", json=campaign_body(), headers=headers)
    assert len(env.state()["campaigns"]) == 1  # the work was done
    env.admin.post("/faults", json={"drop_rate": 0.0})
    retry = env.api.post("/campaigns", json=campaign_body(), headers=headers)
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["data"]["id"] == env.state()["campaigns"][0]["id"]
    assert len(env.state()["campaigns"]) == 1


def test_drop_next_drops_exactly_n_answers(env: Env) -> None:
    env.admin.post("/faults", json={"drop_next": 2})
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            env.api.get("/me")
    assert env.api.get("/me").status_code == 200


def test_drop_rate_is_a_chance_per_request(env: Env) -> None:
    env.admin.post("/faults", json={"drop_rate": 0.5})
    dropped = 0
    for _ in range(40):
        try:
            env.api.get("/me")
        except httpx.RemoteProtocolError:
            dropped += 1
    assert 5 < dropped < 35


def test_latency_waits_on_the_clock(env: Env) -> None:
    env.admin.post("/faults", json={"latency_ms": 1500})
    before = env.clock.slept
    assert env.api.get("/me").status_code == 200
    assert env.clock.slept - before == pytest.approx(1.5)


def test_burst_429_refuses_the_next_n_regardless_of_budget(env: Env) -> None:
    env.admin.post("/faults", json={"burst_429": 2})
    for _ in range(2):
        response = env.api.post("/prospects", json={"email": "b@burst.example"})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["X-RateLimit-Remaining"] == "60"  # the budget is untouched
    assert env.api.post("/prospects", json={"email": "b@burst.example"}).status_code == 201
    assert env.admin.get("/state").json()["faults"]["burst_429"] == 0


@pytest.mark.parametrize(
    "body", [{"error_rate": 2}, {"latency_ms": -1}, {"burst_429": "x"}, {"bogus": 1}]
)
def test_bad_fault_settings_are_refused(env: Env, body: dict[str, object]) -> None:
    response = env.admin.post("/faults", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_sandbox_paths_are_not_rate_limited_or_faulted(env: Env) -> None:
    env.admin.post("/faults", json={"error_rate": 1.0, "burst_429": 5})
    assert env.admin.get("/state").status_code == 200
    assert env.admin.post("/nope").status_code == 404
