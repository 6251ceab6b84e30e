"""The REAL WarmySenderClient against the sandbox over HTTP, sharing one FakeClock: the vendor
guide's whole lifecycle, lost responses under drop_rate, 5xx under error_rate, and 429s."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from sheetsync.api import RateLimiter, RetryPolicy, WarmySenderClient
from sheetsync.config import Secret
from sheetsync.errors import IdempotencyConflict, InvalidRequest, NotFound, StateConflict
from sheetsync.sandbox import DEMO_KEY, Faults, demo_seed
from tests.sandbox.conftest import STEPS, Env, start_env


def client_for(env: Env) -> WarmySenderClient:
    return WarmySenderClient(
        env.server.base_url,
        Secret(DEMO_KEY),
        http=env.client(None),  # closed with the env
        clock=env.clock,
        limiter=RateLimiter(clock=env.clock),
        retry=RetryPolicy(),
        rng=random.Random(11),
        timeout_s=5.0,
    )


@pytest.fixture
def api(env: Env) -> Iterator[WarmySenderClient]:
    with client_for(env) as client:
        yield client


BODY = {"name": "Guide lifecycle", "mailboxIds": ["mbx_demo_1", "mbx_demo_2"], "steps": STEPS}


def test_guide_lifecycle_end_to_end(env: Env, api: WarmySenderClient) -> None:
    # create (draft) → PATCH → enroll → start → monitor → pause → PATCH → resume → unenroll
    nia = api.create_prospect(
        {"email": "nia@x.example", "linkedinUrl": "https://www.linkedin.com/in/nia"},
        idempotency_key="p:nia",
    )
    campaign = api.create_campaign(BODY, idempotency_key="c:1")
    assert campaign.status == "draft"
    assert [s.delay_days for s in campaign.steps] == [0, 3]
    patched = api.update_campaign(
        campaign.id,
        {"sendingWindowStart": "09:00", "sendingWindowEnd": "17:00"},
        idempotency_key="u:1",
    )
    assert patched.raw["sendingWindowStart"] == "09:00"
    result = api.enroll(
        campaign.id,
        prospect_ids=[nia.prospect.id],
        emails=["bounced@globex.example", "ghost@x.example"],
        list_ids=["lst_demo_webinar"],
        idempotency_key="e:1",
    )
    assert (result.enrolled, result.suppressed, result.already_enrolled) == (3, 1, 0)
    assert result.outcomes is not None
    assert {o.email: o.status for o in result.outcomes}["bounced@globex.example"] == "suppressed"
    assert api.start_campaign(campaign.id, idempotency_key="s:1").status == "running"
    env.clock.advance(3 * 86400)
    monitored = api.get_campaign(campaign.id)
    assert monitored.stats["enrolled"] == 3 and monitored.stats["sent"] == 6
    with pytest.raises(StateConflict, match="pause it before updating"):
        api.update_campaign(campaign.id, {"dailySendLimit": 10}, idempotency_key="u:2")
    paused = api.pause_campaign(campaign.id, idempotency_key="pa:1")
    assert (paused.status, paused.paused_reason) == ("paused", "api")
    api.update_campaign(campaign.id, {"dailySendLimit": 10}, idempotency_key="u:3")
    assert api.start_campaign(campaign.id, idempotency_key="s:2").status == "running"
    gone = api.unenroll(campaign.id, emails=["nia@x.example"], idempotency_key="un:1")
    assert (gone.unenrolled_count, gone.total_processed) == (1, 1)
    assert api.get_campaign(campaign.id).stats["enrolled"] == 2


def test_refusals_map_to_the_client_errors(api: WarmySenderClient) -> None:
    with pytest.raises(InvalidRequest, match="mailbox old@outreach-demo.example is not connected"):
        api.create_campaign({**BODY, "mailboxIds": ["mbx_demo_3"]}, idempotency_key="c:bad")
    with pytest.raises(NotFound):
        api.get_campaign("cmp_missing")
    api.create_campaign(BODY, idempotency_key="c:same")
    with pytest.raises(IdempotencyConflict):
        api.create_campaign({**BODY, "name": "Other"}, idempotency_key="c:same")
    assert api.calls["POST /campaigns"] == 3  # the 409 on key reuse is never retried


def test_lost_responses_under_drop_rate_create_exactly_one_campaign(
    env: Env, api: WarmySenderClient
) -> None:
    env.admin.post("/faults", json={"drop_rate": 0.6})
    campaign = api.create_campaign(BODY, idempotency_key="c:lossy")
    attempts = api.calls["POST /campaigns"]
    env.admin.post("/faults", json={"drop_rate": 0.0})
    assert attempts >= 2  # at least one answer was lost and retried with the same key
    campaigns = env.state()["campaigns"]
    assert [c["id"] for c in campaigns] == [campaign.id]
    assert env.state()["requestsByEndpoint"]["POST /campaigns"] == attempts


def test_server_errors_are_retried_without_duplicates(env: Env, api: WarmySenderClient) -> None:
    env.admin.post("/faults", json={"error_rate": 0.5})
    made = [
        api.create_prospect({"email": f"r{i}@retry.example"}, idempotency_key=f"p:{i}")
        for i in range(6)
    ]
    env.admin.post("/faults", json={"error_rate": 0.0})
    assert all(m.created for m in made)
    assert api.calls["POST /prospects"] > 6  # some attempts met an injected 5xx
    emails = [p["email"] for p in env.state()["prospects"] if p["email"].endswith("@retry.example")]
    assert sorted(emails) == [f"r{i}@retry.example" for i in range(6)]


def test_429s_are_waited_out_on_the_shared_clock() -> None:
    seed = demo_seed()
    seed["workspaces"][0]["rateLimitPerMinute"] = 2
    env = start_env(seed, faults=Faults())
    try:
        with client_for(env) as api:
            for i in range(5):
                assert api.create_prospect(
                    {"email": f"slow{i}@rate.example"}, idempotency_key=f"p:{i}"
                ).created
            assert env.clock.slept >= 120  # 5 calls at 2/min span three windows
        prospects = {p["email"] for p in env.state()["prospects"]}
        assert {f"slow{i}@rate.example" for i in range(5)} <= prospects
    finally:
        env.close()
