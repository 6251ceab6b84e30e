"""The client over real HTTP on 127.0.0.1 against the sandbox, sharing one FakeClock."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sheetsync.api import RateLimiter, RetryPolicy, WarmySenderClient
from sheetsync.clock import FakeClock
from sheetsync.config import Secret
from sheetsync.errors import ScopeError, StateConflict
from sheetsync.sandbox import DEMO_KEY, DEMO_READONLY_KEY, Faults, Sandbox, SandboxServer

STEPS = [{"stepIndex": 0, "subject": "Hi", "bodyHtml": "<p>Hello</p>"}]


@dataclass
class Live:
    sandbox: Sandbox
    server: SandboxServer
    clock: FakeClock
    limiter: RateLimiter

    def client(self, key: str = DEMO_KEY) -> WarmySenderClient:
        return WarmySenderClient(
            self.server.base_url,
            Secret(key),
            clock=self.clock,
            limiter=self.limiter,
            retry=RetryPolicy(),
            rng=random.Random(3),
            timeout_s=5.0,
        )


@pytest.fixture
def live() -> Iterator[Live]:
    clock = FakeClock()
    sandbox = Sandbox(None, clock=clock, rng=random.Random(7))
    server = SandboxServer(sandbox)
    server.start()
    try:
        yield Live(sandbox, server, clock, RateLimiter(clock=clock))
    finally:
        server.close()


def test_lifecycle_over_http(live: Live) -> None:
    with live.client() as api:
        me = api.me()
        assert me.workspace_id == "ws_demo" and "campaigns:write" in me.scopes
        boxes = {m.id: m for m in api.list_mailboxes()}
        assert boxes["mbx_demo_3"].connected is False
        new = api.create_prospect({"email": "nia@x.example"}, idempotency_key="p:nia")
        old = api.create_prospect({"email": "existing@acme.example"}, idempotency_key="p:erin")
        assert (new.created, old.created) == (True, False)
        found = api.find_prospect("NIA@x.example")
        assert found is not None and found.id == new.prospect.id
        body = {"name": "Live", "mailboxIds": ["mbx_demo_1"], "steps": STEPS}
        campaign = api.create_campaign(body, idempotency_key="c:live")
        assert campaign.status == "draft" and campaign.steps[0].delay_days == 0
        enrolled = api.enroll(campaign.id, prospect_ids=[new.prospect.id],
                              emails=["bounced@globex.example"], idempotency_key="e:1")  # fmt: skip
        assert (enrolled.enrolled, enrolled.suppressed) == (1, 1)
        assert api.start_campaign(campaign.id, idempotency_key="s:1").status == "running"
        with pytest.raises(StateConflict):
            api.update_campaign(campaign.id, {"name": "x"}, idempotency_key="u:1")
        assert api.pause_campaign(campaign.id, idempotency_key="pa:1").paused_reason == "api"
        gone = api.unenroll(campaign.id, emails=["nia@x.example", "lena@umbrella.example"],
                            idempotency_key="un:1")  # fmt: skip
        assert (gone.unenrolled_count, gone.total_processed) == (1, 2)
        assert [c.id for c in api.list_campaigns()] == [campaign.id]


def test_readonly_key_gets_a_scope_error(live: Live) -> None:
    with live.client(DEMO_READONLY_KEY) as api, pytest.raises(ScopeError) as info:
        api.create_prospect({"email": "a@x.example"}, idempotency_key="k")
    assert info.value.missing_scope == "prospects:write"


def test_steady_use_never_provokes_a_429(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sheetsync.api")
    with live.client() as api:
        for i in range(150):
            api.find_prospect(f"p{i}@x.example")
    assert api.calls == {"GET /prospects": 150}
    lines = [r.getMessage() for r in caplog.records if r.name == "sheetsync.api"]
    assert len(lines) == 150 and all("GET /prospects -> 200 in" in line for line in lines)
    assert live.sandbox.state()["workspaces"][0]["requests"] == 150
    assert live.clock.slept >= 120  # 150 calls at 60/min need two waits of about a minute


def test_lost_answer_and_429_burst_create_one_campaign(live: Live) -> None:
    live.sandbox.faults = Faults(drop_next=1, burst_429=1)
    with live.client() as api:
        body = {"name": "Once", "mailboxIds": ["mbx_demo_1"], "steps": STEPS}
        campaign = api.create_campaign(body, idempotency_key="c:once")
        assert api.calls == {"POST /campaigns": 3}  # a 429, a lost answer, the replay
        assert [c.id for c in api.list_campaigns()] == [campaign.id]
    assert live.clock.slept >= 1  # Retry-After waited on the shared fake clock
