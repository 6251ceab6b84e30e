"""The executor (sync/execute/) on literal rows, state and plans: against the real sandbox on
127.0.0.1 (what WarmySender holds afterwards, field by field) and, for an answer the sandbox
never gives, an httpx.MockTransport."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.ratelimit import RateLimiter
from sheetsync.clock import FakeClock
from sheetsync.config import Secret
from sheetsync.rows.records import (
    CampaignRecord,
    EnrollmentRecord,
    ProspectRecord,
    SheetRows,
    StepRecord,
)
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.state import Intent, Item, State, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.execute.steps import STEPS
from sheetsync.sync.plan import Action, Plan

ROLES = ("prospects", "campaigns", "steps", "enrollments")
MBX = "alex@outreach-demo.example"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(
    request: pytest.FixtureRequest, clock: FakeClock
) -> Iterator[tuple[Sandbox, SandboxServer]]:
    seed = copy.deepcopy(demo_seed())
    seed["workspaces"][0]["rateLimitPerMinute"] = getattr(request, "param", 10_000)
    sb = Sandbox(seed, clock=clock, faults=Faults())
    server = SandboxServer(sb)
    server.start()
    yield sb, server
    server.close()


@pytest.fixture
def state(tmp_path: Path, clock: FakeClock) -> Iterator[State]:
    with State(tmp_path / "state.db", clock=clock) as s:
        yield s


def prospect(email: str, row: int = 2, **body: Any) -> ProspectRecord:
    full = {"email": email, **body}
    return ProspectRecord(row, email, full, f"h:{json.dumps(full, sort_keys=True)}")


def executor(
    api: WarmySenderClient,
    state: State,
    rows: SheetRows,
    clock: FakeClock,
    items: dict[str, dict[str, Item]] | None = None,
    limiter: RateLimiter | None = None,
) -> Executor:
    known = items if items is not None else {r: {} for r in ROLES}
    return Executor(
        api,
        state,
        "s",
        rows,
        known,
        clock=clock,
        limiter=limiter,
        deadline=clock.monotonic() + 60,
        steps=STEPS,
    )


def client(server: SandboxServer, clock: FakeClock, limiter: RateLimiter) -> WarmySenderClient:
    return WarmySenderClient(server.base_url, Secret(DEMO_KEY), clock=clock, limiter=limiter)


def workspace(sb: Sandbox) -> dict[str, Any]:
    ws: dict[str, Any] = sb.state()["workspaces"][0]
    return ws


def test_a_plan_creates_the_prospect_and_the_campaign_enrolls_and_starts_it(
    sandbox: tuple[Sandbox, SandboxServer], state: State, clock: FakeClock
) -> None:
    sb, server = sandbox
    steps = (StepRecord(3, "q1", 1, 0, "Hi {{firstName}}", "<p>Hi</p>", "<p>Hi</p>"),)
    rows = SheetRows(
        prospects=[prospect("nia@x.io", firstName="Nia", company="Acme")],
        campaigns=[
            CampaignRecord(2, "q1", "Q1", {}, (MBX,), "email", "running", steps, "s", "t", "c")
        ],
        steps=list(steps),
        enrollments=[EnrollmentRecord(2, "nia@x.io|q1", "nia@x.io", None, "Q1", True, "e")],
    )
    plan = Plan(
        actions=[
            Action("create_prospect", "nia@x.io"),
            Action("create_campaign", "q1"),
            Action("enroll", "sheet:q1", rows=("nia@x.io|q1",)),
            Action("start", "q1", fields={"wanted": "running"}),
        ]
    )
    with client(server, clock, RateLimiter(10_000, clock=clock)) as api:
        ex = executor(api, state, rows, clock)
        ex.run(plan)
    ws = workspace(sb)
    nia = next(p for p in ws["prospects"] if p["email"] == "nia@x.io")
    assert (nia["firstName"], nia["company"]) == ("Nia", "Acme")
    (camp,) = ws["campaigns"]
    assert (camp["name"], camp["status"], camp["mailboxIds"]) == ("Q1", "running", ["mbx_demo_1"])
    assert [(e["email"], e["status"]) for e in camp["enrollments"]] == [("nia@x.io", "active")]
    # What the state holds afterwards, read from the file.
    p = state.items("s", "prospects")["nia@x.io"]
    assert (p.remote_id, p.hash, p.status) == (nia["id"], rows.prospects[0].hash, statuses.SYNCED)
    c = state.items("s", "campaigns")["q1"]
    assert (c.remote_id, c.data["api_status"], c.data["wanted"]) == (
        camp["id"],
        "running",
        "running",
    )
    e = state.items("s", "enrollments")["nia@x.io|q1"]
    assert (e.status, e.hash, e.data["active"]) == (statuses.ENROLLED, "e", True)
    assert state.pending_intents("s") == []
    counts = ex.counts
    assert (counts.prospects_created, counts.campaigns_created, counts.enrolled) == (1, 1, 1)
    assert counts.campaigns_started == 1


@pytest.mark.parametrize("sandbox", [2], indirect=True)  # WarmySender allows 2 calls a minute
def test_work_beyond_the_rate_budget_is_deferred_not_sent(
    sandbox: tuple[Sandbox, SandboxServer], state: State, clock: FakeClock
) -> None:
    sb, server = sandbox
    rows = SheetRows(prospects=[prospect(f"p{i}@x.io", row=i + 2) for i in range(3)])
    plan = Plan(actions=[Action("create_prospect", p.key) for p in rows.prospects])
    limiter = RateLimiter(2, clock=clock)  # the cycle's deadline is 60 s from now
    with client(server, clock, limiter) as api:
        ex = executor(api, state, rows, clock, limiter=limiter)
        ex.run(plan)
    emails = {p["email"] for p in workspace(sb)["prospects"]}
    assert {"p0@x.io", "p1@x.io"} <= emails and "p2@x.io" not in emails
    items = state.items("s", "prospects")
    assert [items[f"p{i}@x.io"].status for i in range(3)] == [
        statuses.SYNCED,
        statuses.SYNCED,
        statuses.DEFERRED,
    ]
    assert items["p2@x.io"].hash is None  # not acted on: the next poll creates it
    assert ex.counts.deferred == 1 and ex.counts.prospects_created == 2


def test_an_intent_left_open_is_replayed_with_its_key_and_creates_nothing_twice(
    sandbox: tuple[Sandbox, SandboxServer], state: State, clock: FakeClock
) -> None:
    """A crash after POST /prospects reached WarmySender but before its outcome was stored."""
    sb, server = sandbox
    row = prospect("lost@x.io", firstName="Lou")
    key = fresh_key("create-prospect")
    body = {"key": row.key, "body": row.body, "hash": row.hash}
    request = STEPS.requests["create_prospect"](body)
    state.add_intent(
        "s", Intent(0, "create_prospect", body, key, request.endpoint, request.path, request.body)
    )
    with client(server, clock, RateLimiter(10_000, clock=clock)) as api:
        first = api.send(request, key).prospect_result()  # the answer that was lost
        ex = executor(api, state, SheetRows(prospects=[row]), clock)
        ex.replay()
    assert [p["email"] for p in workspace(sb)["prospects"]].count("lost@x.io") == 1
    it = state.items("s", "prospects")["lost@x.io"]
    assert (it.remote_id, it.hash) == (first.prospect.id, row.hash)
    assert state.pending_intents("s") == []


def test_a_refused_row_gets_its_error_and_the_next_row_goes_on(
    sandbox: tuple[Sandbox, SandboxServer], state: State, clock: FakeClock
) -> None:
    sb, server = sandbox
    rows = SheetRows(
        campaigns=[
            CampaignRecord(2, "q1", "Q1", {}, ("nobody@x.io",), "email", None, (), "s", "t", "c"),
            CampaignRecord(
                3,
                "q2",
                "Q2",
                {},
                (MBX,),
                "email",
                None,
                (StepRecord(5, "q2", 1, 0, "Hi", "<p>Hi</p>", "<p>Hi</p>"),),
                "s",
                "t",
                "c",
            ),
        ]
    )
    plan = Plan(actions=[Action("create_campaign", "q1"), Action("create_campaign", "q2")])
    with client(server, clock, RateLimiter(10_000, clock=clock)) as api:
        executor(api, state, rows, clock).run(plan)
    items = state.items("s", "campaigns")
    assert items["q1"].status == statuses.no_mailbox("nobody@x.io")
    assert items["q1"].remote_id is None
    assert items["q2"].status == statuses.SYNCED
    assert [c["name"] for c in workspace(sb)["campaigns"]] == ["Q2"]


def test_a_prospect_update_the_api_has_no_route_for_is_said_so(
    state: State, clock: FakeClock
) -> None:
    """WarmySender may answer 404 on PATCH /prospects/{id} (warmysender-api.md: not found in
    some versions); the sandbox has the route, so this answer comes from a MockTransport."""
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path))
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "Not found"}})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    row = prospect("a@x.io", firstName="Ann")
    item = Item("prospects", "a@x.io", hash="old", status=statuses.SYNCED, remote_id="prs_9")
    item.data["body"] = {"email": "a@x.io", "firstName": "Anne"}
    items: dict[str, dict[str, Item]] = {r: {} for r in ROLES}
    items["prospects"]["a@x.io"] = item
    with WarmySenderClient(
        "http://127.0.0.1:9/api/v1", Secret(DEMO_KEY), http=http, clock=clock
    ) as api:
        plan = Plan(actions=[Action("update_prospect", "a@x.io", fields={"firstName": "Ann"})])
        executor(api, state, SheetRows(prospects=[row]), clock, items).run(plan)
    assert seen == [("PATCH", "/api/v1/prospects/prs_9")]
    stored = state.items("s", "prospects")["a@x.io"]
    assert stored.status == statuses.NO_PROSPECT_ROUTE.format(status=404)
    assert stored.hash == row.hash  # acted on: not sent again next poll
    assert state.pending_intents("s") == []
