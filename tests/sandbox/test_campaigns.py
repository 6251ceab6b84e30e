"""POST/GET/PATCH /campaigns, start (scheduled, resume, checks, 402), pause, completion, stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sheetsync.sandbox import demo_seed
from tests.sandbox.conftest import STEPS, Env, campaign_body, start_env


def day(env: Env, offset: int) -> str:
    when = datetime.fromtimestamp(env.clock.time(), UTC) + timedelta(days=offset)
    return when.date().isoformat()


def test_create_is_201_draft_with_every_field(env: Env) -> None:
    response = env.api.post(
        "/campaigns",
        json=campaign_body(
            dailySendLimit=40,
            timezone="Europe/Berlin",
            scheduleDays=["Mon", "tuesday", "fri"],
            trackOpens=False,
            trackClicks=True,
            stopOnReply=True,
            stopOnBounce=False,
            startDate="2030-01-01",
            endDate="2030-02-01",
            channel="multichannel",
        ),
    )
    assert response.status_code == 201
    data = response.json()["data"]
    expected_keys = {
        "id", "name", "status", "channel", "mailboxIds", "dailySendLimit", "timezone",
        "scheduleDays", "sendingWindowStart", "sendingWindowEnd", "trackOpens", "trackClicks",
        "stopOnReply", "stopOnBounce", "startDate", "endDate", "pausedReason", "steps", "stats",
        "createdAt",
    }  # fmt: skip
    assert set(data) == expected_keys
    assert data["status"] == "draft" and data["pausedReason"] is None
    assert data["channel"] == "multichannel"
    assert data["scheduleDays"] == ["mon", "tue", "fri"]
    assert (data["trackOpens"], data["trackClicks"], data["stopOnBounce"]) == (False, True, False)
    assert data["stats"] == dict.fromkeys(
        ["enrolled", "suppressed", "sent", "opened", "clicked", "replied", "bounced",
         "unsubscribed"],
        0,
    )  # fmt: skip
    assert data["createdAt"].endswith("Z")


def test_channel_defaults_to_email_and_step_delays_are_forced(env: Env) -> None:
    steps = [
        {"stepIndex": 2, "subject": "c", "bodyHtml": "c"},
        {"stepIndex": 0, "subject": "a", "bodyHtml": "a", "delayDays": 5},
        {"stepIndex": 1, "subject": "b", "bodyHtml": "b", "delayDays": 4},
    ]
    data = env.api.post("/campaigns", json=campaign_body(steps=steps)).json()["data"]
    assert data["channel"] == "email"
    assert [(s["stepIndex"], s["delayDays"]) for s in data["steps"]] == [(0, 0), (1, 4), (2, 1)]


def test_create_ignores_the_sending_window(env: Env) -> None:
    data = env.create_campaign(sendingWindowStart="09:00", sendingWindowEnd="17:00")
    assert data["sendingWindowStart"] is None and data["sendingWindowEnd"] is None


BAD_CREATES: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "name"),
    ({"steps": []}, "steps"),
    ({"steps": [{"stepIndex": 0, "subject": "s"}]}, "bodyHtml"),
    # the vendor guide's steps have a subject whatever the channel
    ({"channel": "linkedin", "steps": [{"stepIndex": 0, "bodyHtml": "b"}]}, "subject"),
    (
        {"channel": "multichannel", "steps": [{"stepIndex": 0, "subject": " ", "bodyHtml": "b"}]},
        "subject",
    ),
    ({"steps": [{"stepIndex": 1, "subject": "s", "bodyHtml": "b"}]}, "stepIndex"),
    ({"steps": [{**STEPS[0], "delayDays": -1}, STEPS[1]]}, "delayDays"),
    ({"mailboxIds": []}, "mailboxIds"),
    ({"mailboxIds": ["mbx_nope"]}, "mbx_nope"),
    ({"mailboxIds": ["mbx_demo_3"]}, "not connected"),
    ({"dailySendLimit": 0}, "dailySendLimit"),
    ({"dailySendLimit": "10"}, "dailySendLimit"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"scheduleDays": ["someday"]}, "scheduleDays"),
    ({"trackOpens": "yes"}, "trackOpens"),
    ({"startDate": "next week"}, "startDate"),
    ({"startDate": "2030-02-01", "endDate": "2030-01-01"}, "endDate"),
    ({"channel": "fax"}, "channel"),
    ({"prospectIds": ["prs_nope"]}, "prospectIds"),
]


@pytest.mark.parametrize(("change", "needle"), BAD_CREATES)
def test_create_validation_names_the_problem(env: Env, change: dict[str, Any], needle: str) -> None:
    response = env.api.post("/campaigns", json=campaign_body(**change))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert needle in response.json()["error"]["message"]
    assert env.state()["campaigns"] == []


def test_mailbox_with_sending_disabled_is_refused() -> None:
    seed = demo_seed()
    seed["workspaces"][0]["mailboxes"][1]["sendingEnabled"] = False
    env = start_env(seed)
    try:
        response = env.api.post("/campaigns", json=campaign_body(mailboxIds=["mbx_demo_2"]))
        assert response.status_code == 422
        assert "sending disabled" in response.json()["error"]["message"]
    finally:
        env.close()


def test_create_with_prospect_ids_enrolls_them(env: Env) -> None:
    ids = [p["id"] for p in env.state()["prospects"][:2]]  # existing (active), bounced
    data = env.create_campaign(prospectIds=ids)
    assert data["stats"]["enrolled"] == 1 and data["stats"]["suppressed"] == 1


def test_list_and_get_campaign(env: Env) -> None:
    first = env.create_campaign()
    env.create_campaign(name="Second")
    listed = env.api.get("/campaigns").json()
    assert [c["name"] for c in listed["data"]] == ["Q1 outreach", "Second"]
    got = env.api.get(f"/campaigns/{first['id']}").json()["data"]
    assert got["steps"][1]["delayDays"] == 3 and "stats" in got
    assert env.api.get("/campaigns/cmp_missing").status_code == 404


def test_patch_draft_updates_allowed_fields(env: Env) -> None:
    cid = env.create_campaign()["id"]
    response = env.api.patch(
        f"/campaigns/{cid}",
        json={
            "name": "Renamed",
            "dailySendLimit": 25,
            "sendingWindowStart": "08:30",
            "sendingWindowEnd": "17:00",
            "scheduleDays": ["mon", "wed"],
            "trackClicks": True,
            "stopOnReply": False,
            "startDate": "2030-01-01",
            "endDate": "2030-03-01",
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (data["name"], data["dailySendLimit"]) == ("Renamed", 25)
    assert (data["sendingWindowStart"], data["sendingWindowEnd"]) == ("08:30", "17:00")
    assert data["scheduleDays"] == ["mon", "wed"] and data["stopOnReply"] is False


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"steps": STEPS}, "steps cannot be changed"),
        ({"mailboxIds": ["mbx_demo_2"]}, "mailboxIds cannot be changed"),
        ({"channel": "linkedin"}, "channel cannot be changed"),
        ({"timezone": "Asia/Tokyo"}, "timezone cannot be changed"),
        ({"sendingWindowStart": "9:00"}, "HH:MM"),
        ({"sendingWindowStart": "18:00", "sendingWindowEnd": "09:00"}, "before"),
        ({"dailySendLimit": -3}, "dailySendLimit"),
    ],
)
def test_patch_refuses_fixed_fields_and_bad_values(
    env: Env, change: dict[str, Any], needle: str
) -> None:
    cid = env.create_campaign(timezone="UTC")["id"]
    response = env.api.patch(f"/campaigns/{cid}", json=change)
    assert response.status_code == 422
    assert needle in response.json()["error"]["message"]


def test_patch_with_the_same_timezone_is_accepted(env: Env) -> None:
    cid = env.create_campaign(timezone="UTC")["id"]
    assert env.api.patch(f"/campaigns/{cid}", json={"timezone": "UTC"}).status_code == 200


def test_patch_running_is_409_and_paused_is_allowed(env: Env) -> None:
    cid = env.create_campaign()["id"]
    env.api.post(f"/campaigns/{cid}/start")
    running = env.api.patch(f"/campaigns/{cid}", json={"name": "x"})
    assert running.status_code == 409
    assert running.json()["error"] == {
        "code": "invalid_state",
        "message": "campaign is running; pause it before updating",
    }
    env.api.post(f"/campaigns/{cid}/pause")
    paused = env.api.patch(f"/campaigns/{cid}", json={"name": "x"})
    assert paused.status_code == 200 and paused.json()["data"]["name"] == "x"


def test_patch_unknown_campaign_is_404(env: Env) -> None:
    assert env.api.patch("/campaigns/cmp_nope", json={"name": "x"}).status_code == 404


def test_start_runs_and_pause_sets_reason_and_start_resumes(env: Env) -> None:
    cid = env.create_campaign()["id"]
    started = env.api.post(f"/campaigns/{cid}/start")
    assert started.status_code == 200 and started.json()["data"]["status"] == "running"
    again = env.api.post(f"/campaigns/{cid}/start")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    paused = env.api.post(f"/campaigns/{cid}/pause").json()["data"]
    assert (paused["status"], paused["pausedReason"]) == ("paused", "api")
    pause_again = env.api.post(f"/campaigns/{cid}/pause")
    assert pause_again.status_code == 409
    resumed = env.api.post(f"/campaigns/{cid}/start").json()["data"]
    assert (resumed["status"], resumed["pausedReason"]) == ("running", None)


def test_pause_a_draft_is_409(env: Env) -> None:
    cid = env.create_campaign()["id"]
    response = env.api.post(f"/campaigns/{cid}/pause")
    assert response.status_code == 409
    assert "draft" in response.json()["error"]["message"]


def test_future_start_date_schedules_then_runs_on_the_day(env: Env) -> None:
    cid = env.create_campaign(startDate=day(env, 2))["id"]
    data = env.api.post(f"/campaigns/{cid}/start").json()["data"]
    assert data["status"] == "scheduled"
    assert env.api.patch(f"/campaigns/{cid}", json={"name": "n"}).status_code == 409
    assert env.api.post(f"/campaigns/{cid}/start").status_code == 409
    env.clock.advance(2 * 86400)
    assert env.api.get(f"/campaigns/{cid}").json()["data"]["status"] == "running"


def test_pause_a_scheduled_campaign(env: Env) -> None:
    cid = env.create_campaign(startDate=day(env, 5))["id"]
    env.api.post(f"/campaigns/{cid}/start")
    data = env.api.post(f"/campaigns/{cid}/pause").json()["data"]
    assert (data["status"], data["pausedReason"]) == ("paused", "api")


def test_start_today_runs(env: Env) -> None:
    cid = env.create_campaign(startDate=day(env, 0))["id"]
    assert env.api.post(f"/campaigns/{cid}/start").json()["data"]["status"] == "running"


def test_start_after_end_date_is_refused(env: Env) -> None:
    cid = env.create_campaign(startDate=day(env, -10), endDate=day(env, -1))["id"]
    response = env.api.post(f"/campaigns/{cid}/start")
    assert response.status_code == 422
    assert "endDate" in response.json()["error"]["message"]
    assert env.api.get(f"/campaigns/{cid}").json()["data"]["status"] == "draft"


def test_start_with_inactive_subscription_is_402() -> None:
    seed = demo_seed()
    seed["workspaces"][0]["subscriptionActive"] = False
    env = start_env(seed)
    try:
        cid = env.create_campaign()["id"]
        response = env.api.post(f"/campaigns/{cid}/start")
        assert response.status_code == 402
        assert response.json()["error"]["code"] == "subscription_inactive"
        assert env.api.get("/me").json()["subscriptionActive"] is False
    finally:
        env.close()


def test_campaign_completes_after_its_end_date_and_refuses_start(env: Env) -> None:
    cid = env.create_campaign(endDate=day(env, 1))["id"]
    env.api.post(f"/campaigns/{cid}/start")
    env.clock.advance(3 * 86400)
    assert env.api.get(f"/campaigns/{cid}").json()["data"]["status"] == "completed"
    start = env.api.post(f"/campaigns/{cid}/start")
    assert start.status_code == 409 and "completed" in start.json()["error"]["message"]
    assert env.api.patch(f"/campaigns/{cid}", json={"name": "n"}).status_code == 409
    enroll = env.api.post(f"/campaigns/{cid}/enrollments", json={"emails": ["x@y.co"]})
    assert enroll.status_code == 409


def test_sent_stat_follows_the_clock_and_step_delays(env: Env) -> None:
    cid = env.create_campaign()["id"]  # step 0 now, step 1 after 3 days
    env.api.post(
        f"/campaigns/{cid}/enrollments",
        json={
            "emails": ["existing@acme.example", "lena@umbrella.example", "bounced@globex.example"]
        },
    )
    env.api.post(f"/campaigns/{cid}/start")

    def sent() -> int:
        return int(env.api.get(f"/campaigns/{cid}").json()["data"]["stats"]["sent"])

    assert sent() == 2  # step 0 to the two active prospects; the suppressed one gets nothing
    env.clock.advance(2 * 86400)
    assert sent() == 2
    env.clock.advance(1 * 86400)
    assert sent() == 4  # step 1 after its 3 days
    env.clock.advance(30 * 86400)
    assert sent() == 4  # no more steps


def test_paused_campaign_does_not_send(env: Env) -> None:
    cid = env.create_campaign()["id"]
    env.api.post(f"/campaigns/{cid}/start")
    env.api.post(f"/campaigns/{cid}/pause")
    env.api.post(f"/campaigns/{cid}/enrollments", json={"emails": ["lena@umbrella.example"]})
    env.clock.advance(86400)
    assert env.api.get(f"/campaigns/{cid}").json()["data"]["stats"]["sent"] == 0


def test_an_app_edit_changes_a_running_campaign_without_lifecycle_rules(env: Env) -> None:
    cid = env.api.post("/campaigns", json=campaign_body()).json()["data"]["id"]
    assert env.api.post(f"/campaigns/{cid}/start").json()["data"]["status"] == "running"
    change = {"id": cid, "dailySendLimit": 7, "timezone": "Europe/Berlin", "channel": "linkedin"}
    answer = env.admin.post("/campaigns", json={**change, "mailboxIds": ["mbx_demo_2"]})
    assert answer.status_code == 200
    data = env.api.get(f"/campaigns/{cid}").json()["data"]
    assert (data["dailySendLimit"], data["timezone"], data["channel"]) == (
        7,
        "Europe/Berlin",
        "linkedin",
    )
    assert (data["mailboxIds"], data["status"]) == (["mbx_demo_2"], "running")
    refused = env.admin.post("/campaigns", json={"id": cid, "steps": []})
    assert refused.status_code == 422 and "steps" in refused.json()["error"]["message"]
    missing = env.admin.post("/campaigns", json={"id": "cmp_nope", "name": "x"})
    assert missing.status_code == 404
