"""The Prospects tab's steps: create (content-keyed) and update of changed fields."""

from __future__ import annotations

from typing import Any

from sheetsync.api.client import Request, create_prospect_request, update_prospect_request
from sheetsync.api.models import Prospect
from sheetsync.state import Intent, content_key, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.plan import Action


def act_create(ex: Executor, a: Action) -> None:
    r = ex.prospects[a.key]
    key = content_key("create-prospect", r.key, r.body)
    ex.send("create_prospect", {"key": r.key, "body": r.body, "hash": r.hash}, key)


def request_create(b: dict[str, Any]) -> Request:
    return create_prospect_request(b["body"])


def do_create(ex: Executor, intent: Intent) -> None:
    res = ex.call(intent).prospect_result()
    _created(ex, intent, res.prospect, res.created)


def heal_create(ex: Executor, intent: Intent) -> bool:
    """After a 409 for the create's key: the prospect read back by email. Whether that earlier
    request created it or found it there cannot be told, so the row says `exists`."""
    ex.slot()
    found = ex.api.find_prospect(intent.body["key"])
    if found is None:
        return False
    _created(ex, intent, found, False)
    return True


def _created(ex: Executor, intent: Intent, prospect: Prospect, created: bool) -> None:
    b = intent.body
    it = ex.item("prospects", b["key"])
    it.remote_id = prospect.id
    it.hash = b["hash"]
    it.data["body"] = b["body"]
    it.data["global_status"] = prospect.status
    ex.set_status(it, statuses.SYNCED if created else statuses.EXISTS)
    if created:
        ex.counts.prospects_created += 1
    else:
        ex.counts.prospects_existing += 1
    ex.done(intent, it)


def act_update(ex: Executor, a: Action) -> None:
    r = ex.prospects[a.key]
    it = ex.item("prospects", a.key)
    body = {"key": r.key, "id": it.remote_id, "fields": a.fields, "body": r.body}
    body["hash"] = r.hash
    ex.send("update_prospect", body, fresh_key("update-prospect"))


def request_update(b: dict[str, Any]) -> Request:
    return update_prospect_request(b["id"], b["fields"])


def do_update(ex: Executor, intent: Intent) -> None:
    b = intent.body
    ex.call(intent).prospect()
    it = ex.item("prospects", b["key"])
    it.hash = b["hash"]
    it.data["body"] = b["body"]
    ex.set_status(it, statuses.SYNCED)
    ex.counts.prospects_updated += 1
    ex.done(intent, it)
