"""Idempotency-Key: replay of the stored answer, 409 on reuse with another body or path, 24 h."""

from __future__ import annotations

from tests.sandbox.conftest import Env, campaign_body


def test_same_key_same_body_replays_exactly_without_new_work(env: Env) -> None:
    headers = {"Idempotency-Key": "create-q1"}
    first = env.api.post("/campaigns", json=campaign_body(), headers=headers)
    second = env.api.post("/campaigns", json=campaign_body(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content  # same id, same request_id
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(env.state()["campaigns"]) == 1


def test_key_order_and_whitespace_in_the_body_do_not_matter(env: Env) -> None:
    headers = {"Idempotency-Key": "p-1", "Content-Type": "application/json"}
    first = env.api.post("/prospects", content=b'{"email":"a@b.co","company":"X"}',
                         headers=headers)  # fmt: skip
    second = env.api.post("/prospects", content=b'{ "company": "X", "email": "a@b.co" }',
                          headers=headers)  # fmt: skip
    assert second.content == first.content and second.status_code == 201


def test_same_key_with_another_body_is_409(env: Env) -> None:
    headers = {"Idempotency-Key": "create-q1"}
    env.api.post("/campaigns", json=campaign_body(), headers=headers)
    reused = env.api.post("/campaigns", json=campaign_body(name="Other"), headers=headers)
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert len(env.state()["campaigns"]) == 1


def test_same_key_on_another_path_is_409(env: Env) -> None:
    a = env.create_campaign()["id"]
    b = env.create_campaign(name="B")["id"]
    headers = {"Idempotency-Key": "start-1"}
    assert env.api.post(f"/campaigns/{a}/start", headers=headers).status_code == 200
    other = env.api.post(f"/campaigns/{b}/start", headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_replayed_start_does_not_hit_the_state_rules(env: Env) -> None:
    cid = env.create_campaign()["id"]
    headers = {"Idempotency-Key": "start-1"}
    first = env.api.post(f"/campaigns/{cid}/start", headers=headers)
    replay = env.api.post(f"/campaigns/{cid}/start", headers=headers)
    assert replay.status_code == 200 and replay.content == first.content
    unkeyed = env.api.post(f"/campaigns/{cid}/start")
    assert unkeyed.status_code == 409  # without the key it is a real second start


def test_keys_expire_after_24_hours(env: Env) -> None:
    headers = {"Idempotency-Key": "create-q1"}
    env.api.post("/campaigns", json=campaign_body(), headers=headers)
    env.clock.advance(24 * 3600 + 1)
    again = env.api.post("/campaigns", json=campaign_body(), headers=headers)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert len(env.state()["campaigns"]) == 2


def test_refusals_are_not_stored(env: Env) -> None:
    headers = {"Idempotency-Key": "k"}
    bad = env.api.post("/campaigns", json=campaign_body(mailboxIds=["mbx_demo_3"]),
                       headers=headers)  # fmt: skip
    assert bad.status_code == 422
    retry = env.api.post("/campaigns", json=campaign_body(mailboxIds=["mbx_demo_3"]),
                         headers=headers)  # fmt: skip
    assert retry.status_code == 422 and "Idempotent-Replayed" not in retry.headers


def test_keys_are_per_workspace_and_writes_without_key_work(env: Env) -> None:
    assert env.api.post("/prospects", json={"email": "n@k.co"}).status_code == 201
    assert env.api.post("/prospects", json={"email": "n@k.co"}).status_code == 200


def test_unenroll_replay_returns_the_first_counts(env: Env) -> None:
    cid = env.create_campaign()["id"]
    body = {"emails": ["lena@umbrella.example"]}
    env.api.post(f"/campaigns/{cid}/enrollments", json=body)
    headers = {"Idempotency-Key": "unenroll-1"}
    first = env.api.request("DELETE", f"/campaigns/{cid}/enrollments", json=body, headers=headers)
    replay = env.api.request("DELETE", f"/campaigns/{cid}/enrollments", json=body, headers=headers)
    assert first.json()["data"]["unenrolledCount"] == 1
    assert replay.json()["data"] == first.json()["data"]
