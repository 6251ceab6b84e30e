"""Prospects: the object, its body checks, create (dedupe by email) and update."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sheetsync.sandbox.validate import (
    JSON,
    invalid,
    normal_email,
    opt_custom_fields,
    opt_linkedin,
    opt_str,
)

TEXT_FIELDS = ("firstName", "lastName", "company", "role", "phone")
READ_ONLY = ("id", "globalStatus")


@dataclass(eq=False)  # compared and hashed by identity
class Prospect:
    id: str
    email: str
    fields: dict[str, str | None] = field(default_factory=dict)  # TEXT_FIELDS + linkedinUrl
    custom_fields: dict[str, Any] = field(default_factory=dict)
    status: str = "active"  # globalStatus

    def to_json(self) -> JSON:
        out: JSON = {"id": self.id, "email": self.email}
        for name in (*TEXT_FIELDS, "linkedinUrl"):
            out[name] = self.fields.get(name)
        out["customFields"] = dict(self.custom_fields)
        out["globalStatus"] = self.status
        return out

    @property
    def contactable(self) -> bool:
        return self.status == "active"


def read_fields(body: JSON) -> tuple[dict[str, str | None], dict[str, Any] | None]:
    """The optional fields a body sets: ({name: value} for the text fields and linkedinUrl,
    customFields or None when absent). Only keys present in the body are returned."""
    fields: dict[str, str | None] = {}
    for name in TEXT_FIELDS:
        if name in body:
            fields[name] = opt_str(body, name)
    if "linkedinUrl" in body:
        fields["linkedinUrl"] = opt_linkedin(body)
    custom = opt_custom_fields(body) if "customFields" in body else None
    if "customFields" in body and custom is None:
        custom = {}  # customFields: null clears the object
    return fields, custom


def new_prospect(prospect_id: str, body: JSON) -> Prospect:
    """Validate a POST /prospects body into a Prospect (its email is normalised)."""
    email = normal_email(body.get("email"))
    fields, custom = read_fields(body)
    return Prospect(id=prospect_id, email=email, fields=fields, custom_fields=custom or {})


def apply_update(prospect: Prospect, body: JSON) -> None:
    """PATCH /prospects/{id}: set the fields present; customFields replaces the whole object."""
    if "email" in body and normal_email(body.get("email")) != prospect.email:
        raise invalid("email cannot be changed; create a new prospect with the new address")
    for name in READ_ONLY:
        if name in body:
            raise invalid(f"{name} cannot be changed through the API")
    fields, custom = read_fields(body)
    prospect.fields.update(fields)
    if custom is not None:
        prospect.custom_fields = custom
