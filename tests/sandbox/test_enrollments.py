"""POST and DELETE /campaigns/{id}/enrollments."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import Env


def ids_by_email(env: Env) -> dict[str, str]:
    return {p["email"]: p["id"] for p in env.state()["prospects"]}


def test_enroll_mixes_ids_lists_and_emails_with_suppression_and_not_found(env: Env) -> None:
    cid = env.create_campaign()["id"]
    ids = ids_by_email(env)
    response = env.api.post(
        f"/campaigns/{cid}/enrollments",
        json={
            "prospectIds": [ids["bounced@globex.example"], "prs_missing"],
            "listIds": ["lst_demo_webinar", "lst_missing"],
            "emails": ["Unsubscribed@Initech.example", "ghost@nowhere.example"],
        },
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["enrolled"], data["suppressed"], data["alreadyEnrolled"]) == (2, 2, 0)
    assert sorted(data["notFound"]) == ["ghost@nowhere.example", "lst_missing", "prs_missing"]
    by_status = {(r["email"], r["status"]) for r in data["results"]}
    assert ("bounced@globex.example", "suppressed") in by_status
    assert ("unsubscribed@initech.example", "suppressed") in by_status
    assert ("lena@umbrella.example", "enrolled") in by_status
    assert ("ghost@nowhere.example", "not_found") in by_status
    assert {"prospectId": "prs_missing", "email": None, "status": "not_found"} in data["results"]
    states = {e["email"]: e["status"] for e in env.state()["campaigns"][0]["enrollments"]}
    assert states["bounced@globex.example"] == "suppressed"
    assert states["existing@acme.example"] == "active"
    stats = env.api.get(f"/campaigns/{cid}").json()["data"]["stats"]
    assert (stats["enrolled"], stats["suppressed"]) == (2, 2)


def test_suppressed_global_status_set_later_is_applied_at_enroll(env: Env) -> None:
    cid = env.create_campaign()["id"]
    env.admin.post("/prospects/status", json={"email": "lena@umbrella.example",
                                               "status": "suppressed"})  # fmt: skip
    data = env.api.post(
        f"/campaigns/{cid}/enrollments", json={"emails": ["lena@umbrella.example"]}
    ).json()["data"]
    assert data["suppressed"] == 1 and data["results"][0]["status"] == "suppressed"


def test_already_enrolled_is_counted_and_duplicates_in_one_call_count_once(env: Env) -> None:
    cid = env.create_campaign()["id"]
    lena = ids_by_email(env)["lena@umbrella.example"]
    first = env.api.post(
        f"/campaigns/{cid}/enrollments",
        json={"emails": ["lena@umbrella.example"], "prospectIds": [lena]},
    ).json()["data"]
    assert first["enrolled"] == 1 and len(first["results"]) == 1
    second = env.api.post(
        f"/campaigns/{cid}/enrollments", json={"emails": ["lena@umbrella.example"]}
    ).json()["data"]
    assert (second["enrolled"], second["alreadyEnrolled"]) == (0, 1)
    assert second["results"][0]["status"] == "already_enrolled"


@pytest.mark.parametrize(
    "body", [{}, {"emails": []}, {"prospectIds": [], "listIds": []}, {"emails": "a@b.co"}]
)
def test_enroll_needs_at_least_one_non_empty_list(env: Env, body: dict[str, object]) -> None:
    cid = env.create_campaign()["id"]
    response = env.api.post(f"/campaigns/{cid}/enrollments", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("state", ["draft", "running", "paused", "scheduled"])
def test_enroll_allowed_in_every_state_but_completed(env: Env, state: str) -> None:
    extra = {"startDate": "2099-01-01"} if state == "scheduled" else {}
    cid = env.create_campaign(**extra)["id"]
    if state != "draft":
        env.api.post(f"/campaigns/{cid}/start")
    if state == "paused":
        env.api.post(f"/campaigns/{cid}/pause")
    assert env.api.get(f"/campaigns/{cid}").json()["data"]["status"] == state
    response = env.api.post(
        f"/campaigns/{cid}/enrollments", json={"emails": ["lena@umbrella.example"]}
    )
    assert response.status_code == 200 and response.json()["data"]["enrolled"] == 1


def test_enroll_unknown_campaign_is_404(env: Env) -> None:
    response = env.api.post("/campaigns/cmp_nope/enrollments", json={"emails": ["a@b.co"]})
    assert response.status_code == 404


def test_unenroll_is_a_soft_cancel_with_exact_answer(env: Env) -> None:
    cid = env.create_campaign()["id"]
    env.api.post(f"/campaigns/{cid}/enrollments", json={"listIds": ["lst_demo_webinar"]})
    lena = ids_by_email(env)["lena@umbrella.example"]
    response = env.api.request(
        "DELETE",
        f"/campaigns/{cid}/enrollments",
        json={"prospectIds": [lena], "emails": ["bounced@globex.example", "ghost@x.example"]},
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"unenrolledCount": 1, "totalProcessed": 3}
    enrollments = {e["email"]: e["status"] for e in env.state()["campaigns"][0]["enrollments"]}
    assert enrollments == {"existing@acme.example": "active", "lena@umbrella.example": "unenrolled"}
    stats = env.api.get(f"/campaigns/{cid}").json()["data"]["stats"]
    assert stats["enrolled"] == 1


def test_unenroll_twice_counts_in_total_only(env: Env) -> None:
    cid = env.create_campaign()["id"]
    env.api.post(f"/campaigns/{cid}/enrollments", json={"emails": ["lena@umbrella.example"]})
    body = {"emails": ["lena@umbrella.example"]}
    first = env.api.request("DELETE", f"/campaigns/{cid}/enrollments", json=body).json()["data"]
    second = env.api.request("DELETE", f"/campaigns/{cid}/enrollments", json=body).json()["data"]
    assert first == {"unenrolledCount": 1, "totalProcessed": 1}
    assert second == {"unenrolledCount": 0, "totalProcessed": 1}


def test_unenrolled_prospect_can_be_enrolled_again(env: Env) -> None:
    cid = env.create_campaign()["id"]
    body = {"emails": ["lena@umbrella.example"]}
    env.api.post(f"/campaigns/{cid}/enrollments", json=body)
    env.api.request("DELETE", f"/campaigns/{cid}/enrollments", json=body)
    again = env.api.post(f"/campaigns/{cid}/enrollments", json=body).json()["data"]
    assert again["enrolled"] == 1 and again["results"][0]["status"] == "enrolled"
    assert env.state()["campaigns"][0]["enrollments"][0]["status"] == "active"


def test_unenroll_needs_prospect_ids_or_emails(env: Env) -> None:
    cid = env.create_campaign()["id"]
    response = env.api.request(
        "DELETE", f"/campaigns/{cid}/enrollments", json={"listIds": ["lst_demo_webinar"]}
    )
    assert response.status_code == 422
    assert "prospectIds or emails" in response.json()["error"]["message"]
