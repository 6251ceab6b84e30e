"""Seeds: the JSON that fills the sandbox's workspaces, its checks, and the demo workspace.

```json
{"workspaces": [{"id": "ws_demo", "subscriptionActive": true, "rateLimitPerMinute": 60,
  "apiKeys": [{"key": "...", "scopes": ["prospects:write"], "name": "...", "revoked": false}],
  "mailboxes": [{"id": "mbx_1", "email": "a@x.com", "connected": true, "sendingEnabled": true}],
  "prospects": [{"email": "b@y.com", "status": "bounced", "firstName": "Bo"}],
  "lists": [{"id": "lst_1", "name": "Leads", "emails": ["b@y.com"]}]}]}
```
A bad seed is a ConfigError naming the file (when there is one) and the field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sheetsync.errors import ConfigError
from sheetsync.sandbox.prospects import new_prospect
from sheetsync.sandbox.validate import JSON, PROSPECT_STATUSES, Refusal

SCOPES = (
    "mailboxes:read",
    "mailboxes:write",
    "warmup:read",
    "warmup:write",
    "jobs:read",
    "prospects:read",
    "prospects:write",
    "campaigns:read",
    "campaigns:write",
    "enrollments:write",
    "suppressions:read",
    "suppressions:write",
    "webhooks:read",
    "webhooks:write",
)
DEMO_KEY = "wsk_demo_sandbox_key_0001"
DEMO_READONLY_KEY = "wsk_demo_readonly_key_0002"


def demo_seed() -> JSON:
    """One demo workspace: an all-scopes key (and a read-only one), 3 mailboxes (two connected and
    sending, one disconnected), a few prospects (one bounced, one unsubscribed), one list."""
    return {
        "workspaces": [
            {
                "id": "ws_demo",
                "subscriptionActive": True,
                "rateLimitPerMinute": 60,
                "apiKeys": [
                    {"key": DEMO_KEY, "name": "Demo key (all scopes)", "scopes": list(SCOPES)},
                    {
                        "key": DEMO_READONLY_KEY,
                        "name": "Demo key (read only)",
                        "scopes": [s for s in SCOPES if s.endswith(":read")],
                    },
                ],
                "mailboxes": [
                    {
                        "id": "mbx_demo_1",
                        "email": "alex@outreach-demo.example",
                        "connected": True,
                        "sendingEnabled": True,
                    },
                    {
                        "id": "mbx_demo_2",
                        "email": "sam@outreach-demo.example",
                        "connected": True,
                        "sendingEnabled": True,
                    },
                    {
                        "id": "mbx_demo_3",
                        "email": "old@outreach-demo.example",
                        "connected": False,
                        "sendingEnabled": False,
                    },
                ],
                "prospects": [
                    {
                        "email": "existing@acme.example",
                        "status": "active",
                        "firstName": "Erin",
                        "lastName": "Exists",
                        "company": "Acme",
                    },
                    {
                        "email": "bounced@globex.example",
                        "status": "bounced",
                        "firstName": "Bob",
                        "company": "Globex",
                    },
                    {
                        "email": "unsubscribed@initech.example",
                        "status": "unsubscribed",
                        "firstName": "Una",
                        "company": "Initech",
                    },
                    {
                        "email": "lena@umbrella.example",
                        "status": "active",
                        "firstName": "Lena",
                        "company": "Umbrella",
                    },
                ],
                "lists": [
                    {
                        "id": "lst_demo_webinar",
                        "name": "Webinar attendees",
                        "emails": ["existing@acme.example", "lena@umbrella.example"],
                    }
                ],
            }
        ]
    }


def load_seed(path: Path) -> JSON:
    """Read and check a seed file; any problem is a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the seed file: {exc.strerror}", path=str(path)) from exc
    try:
        seed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path=str(path)
        ) from exc
    return check_seed(seed, source=str(path))


def check_seed(seed: Any, *, source: str | None = None) -> JSON:
    """Validate a seed and return a normalised deep copy (defaults filled in)."""

    def fail(where: str, message: str) -> ConfigError:
        return ConfigError(
            message + " (see the seed format in docs/sandbox.md)", path=source, key=where
        )

    if not isinstance(seed, dict) or not isinstance(seed.get("workspaces"), list):
        raise fail("workspaces", 'the seed must be an object {"workspaces": [...]}')
    if not seed["workspaces"]:
        raise fail("workspaces", "list at least one workspace")
    out: list[JSON] = []
    ids: set[str] = set()
    keys: set[str] = set()
    for w, raw in enumerate(seed["workspaces"]):
        at = f"workspaces[{w}]"
        if not isinstance(raw, dict):
            raise fail(at, "each workspace must be an object")
        ws = copy.deepcopy(raw)
        wid = ws.get("id")
        if not isinstance(wid, str) or not wid or wid in ids:
            raise fail(f"{at}.id", "each workspace needs a unique, non-empty string id")
        ids.add(wid)
        ws.setdefault("subscriptionActive", True)
        if not isinstance(ws["subscriptionActive"], bool):
            raise fail(f"{at}.subscriptionActive", "must be true or false")
        limit = ws.setdefault("rateLimitPerMinute", 60)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise fail(f"{at}.rateLimitPerMinute", "must be a positive integer")
        _check_keys(ws, at, keys, fail)
        _check_mailboxes(ws, at, fail)
        emails = _check_prospects(ws, at, fail)
        _check_lists(ws, at, emails, fail)
        out.append(ws)
    return {"workspaces": out}


def _items(ws: JSON, name: str, at: str, fail: Any) -> list[JSON]:
    items = ws.setdefault(name, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise fail(f"{at}.{name}", "must be a list of objects")
    return items


def _check_keys(ws: JSON, at: str, seen: set[str], fail: Any) -> None:
    for k, item in enumerate(_items(ws, "apiKeys", at, fail)):
        where = f"{at}.apiKeys[{k}]"
        key = item.get("key")
        if not isinstance(key, str) or len(key) < 8 or key in seen:
            raise fail(f"{where}.key", "each key must be a unique string of 8+ characters")
        seen.add(key)
        scopes = item.get("scopes")
        if not isinstance(scopes, list) or not all(s in SCOPES for s in scopes):
            raise fail(f"{where}.scopes", "must be a list of scopes from: " + ", ".join(SCOPES))
        item.setdefault("id", f"key_{ws['id']}_{k + 1}")
        item.setdefault("name", f"Sandbox key {k + 1}")
        item.setdefault("revoked", False)
        if not isinstance(item["revoked"], bool):
            raise fail(f"{where}.revoked", "must be true or false")


def _check_mailboxes(ws: JSON, at: str, fail: Any) -> None:
    ids: set[str] = set()
    for m, item in enumerate(_items(ws, "mailboxes", at, fail)):
        where = f"{at}.mailboxes[{m}]"
        mid = item.get("id")
        if not isinstance(mid, str) or not mid or mid in ids:
            raise fail(f"{where}.id", "each mailbox needs a unique, non-empty string id")
        ids.add(mid)
        if not isinstance(item.get("email"), str) or "@" not in item["email"]:
            raise fail(f"{where}.email", "must be an email address")
        for flag in ("connected", "sendingEnabled"):
            item.setdefault(flag, True)
            if not isinstance(item[flag], bool):
                raise fail(f"{where}.{flag}", "must be true or false")


def _check_prospects(ws: JSON, at: str, fail: Any) -> set[str]:
    emails: set[str] = set()
    for p, item in enumerate(_items(ws, "prospects", at, fail)):
        where = f"{at}.prospects[{p}]"
        try:
            prospect = new_prospect("check", item)
        except Refusal as exc:
            raise fail(where, exc.message) from exc
        if prospect.email in emails:
            raise fail(f"{where}.email", f"{prospect.email} is listed twice")
        emails.add(prospect.email)
        status = item.setdefault("status", "active")
        if status not in PROSPECT_STATUSES:
            raise fail(f"{where}.status", "must be one of: " + ", ".join(PROSPECT_STATUSES))
    return emails


def _check_lists(ws: JSON, at: str, emails: set[str], fail: Any) -> None:
    ids: set[str] = set()
    for n, item in enumerate(_items(ws, "lists", at, fail)):
        where = f"{at}.lists[{n}]"
        lid = item.get("id")
        if not isinstance(lid, str) or not lid or lid in ids:
            raise fail(f"{where}.id", "each list needs a unique, non-empty string id")
        ids.add(lid)
        item.setdefault("name", lid)
        members = item.get("emails")
        if not isinstance(members, list) or not all(isinstance(e, str) for e in members):
            raise fail(f"{where}.emails", "must be a list of email addresses")
        item["emails"] = [e.strip().lower() for e in members]
        for email in item["emails"]:
            if email not in emails:
                raise fail(f"{where}.emails", f"{email} is not one of the workspace's prospects")
