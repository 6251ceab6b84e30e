"""POST /prospects (validation, dedupe 201/200), PATCH /prospects/{id}, GET /prospects?email=."""

from __future__ import annotations

import pytest

from tests.sandbox.conftest import Env


def test_create_is_201_and_normalises_the_email(env: Env) -> None:
    response = env.api.post(
        "/prospects",
        json={
            "email": "  Ada@Example.COM ",
            "firstName": "Ada",
            "lastName": "Lovelace",
            "company": "Engines",
            "role": "CTO",
            "phone": "+44 20 5555 0100",
            "linkedinUrl": "https://www.linkedin.com/in/ada-lovelace",
            "customFields": {"Industry": "Computing", "Seats": 3, "Vip": True},
        },
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["id"].startswith("prs_")
    assert data["email"] == "ada@example.com"
    assert data["phone"] == "+44 20 5555 0100"
    assert data["customFields"] == {"Industry": "Computing", "Seats": 3, "Vip": True}
    assert data["globalStatus"] == "active"


def test_existing_email_returns_200_with_the_existing_prospect_unchanged(env: Env) -> None:
    response = env.api.post(
        "/prospects", json={"email": "EXISTING@acme.example ", "firstName": "Other"}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["firstName"] == "Erin"  # not overwritten
    assert len([p for p in env.state()["prospects"] if p["email"] == data["email"]]) == 1


def test_seeded_statuses_are_reported(env: Env) -> None:
    response = env.api.post("/prospects", json={"email": "bounced@globex.example"})
    assert response.json()["data"]["globalStatus"] == "bounced"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "a@b.co", "firstName": 5}, "firstName"),
        ({"email": "a@b.co", "linkedinUrl": "https://twitter.com/ada"}, "linkedinUrl"),
        ({"email": "a@b.co", "linkedinUrl": "https://www.linkedin.com/company/x"}, "linkedinUrl"),
        ({"email": "a@b.co", "linkedinUrl": "http://linkedin.com/in/ada"}, "linkedinUrl"),
        (
            {"email": "a@b.co", "linkedinUrl": "https://www.linkedin.com/pub/dir/Ada/L"},
            "linkedinUrl",
        ),
        (
            {"email": "a@b.co", "linkedinUrl": "https://www.linkedin.com/sales/lead/ACw,N"},
            "linkedinUrl",
        ),
        ({"email": "a@b.co", "customFields": ["x"]}, "customFields"),
        ({"email": "a@b.co", "customFields": {"x": {"nested": 1}}}, "customFields.x"),
    ],
)
def test_create_validation_names_the_field(env: Env, body: dict[str, object], field: str) -> None:
    response = env.api.post("/prospects", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["message"]


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/in/ada-lovelace",
        "https://linkedin.com/in/ada/",
        "https://uk.linkedin.com/in/ada",
        "https://www.linkedin.com/pub/ada-lovelace/1/2/3",
    ],
)
def test_linkedin_profile_urls_are_accepted(env: Env, url: str) -> None:
    response = env.api.post("/prospects", json={"email": "li@b.co", "linkedinUrl": url})
    assert response.status_code == 201, response.text


def test_patch_updates_fields_and_replaces_custom_fields(env: Env) -> None:
    created = env.api.post(
        "/prospects", json={"email": "p@b.co", "company": "Old", "customFields": {"a": "1"}}
    ).json()["data"]
    response = env.api.patch(
        f"/prospects/{created['id']}", json={"company": "New", "customFields": {"b": "2"}}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["company"] == "New"
    assert data["customFields"] == {"b": "2"}  # replaced, not merged


def test_patch_cannot_change_email_and_404s_unknown(env: Env) -> None:
    created = env.api.post("/prospects", json={"email": "p@b.co"}).json()["data"]
    changed = env.api.patch(f"/prospects/{created['id']}", json={"email": "q@b.co"})
    assert changed.status_code == 422
    assert "email cannot be changed" in changed.json()["error"]["message"]
    missing = env.api.patch("/prospects/prs_nope", json={"company": "X"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_patch_validates_linkedin(env: Env) -> None:
    created = env.api.post("/prospects", json={"email": "p@b.co"}).json()["data"]
    bad = env.api.patch(f"/prospects/{created['id']}", json={"linkedinUrl": "ftp://x"})
    assert bad.status_code == 422 and "linkedinUrl" in bad.json()["error"]["message"]


def test_find_by_email_is_exact_and_case_insensitive(env: Env) -> None:
    env.api.post("/prospects", json={"email": "ann@b.co"})
    env.api.post("/prospects", json={"email": "ann2@b.co"})
    body = env.api.get("/prospects", params={"email": "ANN@b.co"}).json()
    assert [p["email"] for p in body["data"]] == ["ann@b.co"]
    assert body["pagination"]["has_more"] is False
    none = env.api.get("/prospects", params={"email": "zed@b.co"}).json()
    assert none["data"] == []
