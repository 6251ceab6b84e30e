"""The Prospects tab's steps: create and update of changed fields.

`data["body"]` of a prospect's item is what WarmySender holds, as far as sheetsync knows: the
body it created, or the fields of the prospect it found (`exists`), with every PATCH merged in.
A create answered `exists` links the row to a prospect made elsewhere (or before the state file
was lost): its fields are compared with the row's (from the answer when it carries them, else
from GET /prospects?email=) and the differences are sent, so the row never says `exists` while
WarmySender holds something else.
"""

from __future__ import annotations

from typing import Any

from sheetsync.api.client import Request, create_prospect_request, update_prospect_request
from sheetsync.api.models import Prospect
from sheetsync.api.parse import present
from sheetsync.rows import prospects
from sheetsync.rows.records import ProspectRecord
from sheetsync.state import Intent, Item, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.plan import Action, prospect_changes, prospect_differences

HELD = (*(api for _, api in prospects.FIELDS), "customFields")  # what a prospect read holds
UNREAD = "unread"  # data flag: linked by `exists`, its fields not read yet


def act_create(ex: Executor, a: Action) -> None:
    r = ex.prospects[a.key]
    body = {"key": r.key, "body": r.body, "hash": r.hash}
    ex.send("create_prospect", body, fresh_key("create-prospect"))
    it = ex.item("prospects", r.key)
    if it.remote_id is not None and it.hash is None:  # found holding something else
        _reconcile(ex, r, it)


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
    it.data["global_status"] = prospect.status
    if created:
        it.hash = b["hash"]
        it.data["body"] = b["body"]
        ex.set_status(it, statuses.SYNCED)
        ex.counts.prospects_created += 1
    else:
        ex.counts.prospects_existing += 1
        raw = prospect.raw
        if len(present(raw, tuple(f for f in b["body"] if f != "email"))) == len(b["body"]) - 1:
            it.data["body"] = {"email": b["key"], **held(raw)}
        else:  # the answer is only an id: read the prospect before comparing
            it.data["body"] = {"email": b["key"]}
            it.data[UNREAD] = True
        _link(ex, it, b["body"], b["hash"])
    ex.done(intent, it)


def _link(ex: Executor, it: Item, body: dict[str, Any], content: str) -> None:
    """A row linked to a prospect WarmySender already had: `exists` when it holds what the row
    says; else the row is acted on again (hash unset) and says what differs until it is sent."""
    diffs = [] if it.data.get(UNREAD) else prospect_differences(it.data["body"], body)
    if diffs or it.data.get(UNREAD):
        it.hash = None
        ex.set_status(it, statuses.exists_differs(diffs) if diffs else statuses.EXISTS)
    else:
        it.hash = content
        ex.set_status(it, statuses.EXISTS)


def _reconcile(ex: Executor, r: ProspectRecord, it: Item) -> None:
    """Read the prospect when its fields are not known yet (GET /prospects?email=), then send
    what differs from the row."""
    if it.data.get(UNREAD):
        ex.slot()
        found = ex.api.find_prospect(r.key)
        it.data.pop(UNREAD)
        it.data["body"] = {"email": r.key, **(held(found.raw) if found else {})}
        _link(ex, it, r.body, r.hash)
        ex.save(it)
    fields = prospect_changes(it.data["body"], r.body)
    if fields:
        after = statuses.EXISTS if statuses.is_exists(it.status) else statuses.SYNCED
        body = {"key": r.key, "id": it.remote_id, "fields": fields, "hash": r.hash, "after": after}
        body["body"] = {**it.data["body"], **fields}
        ex.send("update_prospect", body, fresh_key("update-prospect"))


def held(raw: dict[str, Any]) -> dict[str, Any]:
    """The fields of a prospect as WarmySender sent them (null ones left out)."""
    out = {f: v for f, v in present(raw, HELD).items() if v is not None}
    if not isinstance(out.get("customFields", {}), dict):
        del out["customFields"]
    return out


def act_update(ex: Executor, a: Action) -> None:
    _reconcile(ex, ex.prospects[a.key], ex.item("prospects", a.key))


def request_update(b: dict[str, Any]) -> Request:
    return update_prospect_request(b["id"], b["fields"])


def do_update(ex: Executor, intent: Intent) -> None:
    b = intent.body
    ex.call(intent).prospect()
    it = ex.item("prospects", b["key"])
    it.hash = b["hash"]
    it.data["body"] = b["body"]
    ex.set_status(it, b.get("after", statuses.SYNCED))
    ex.counts.prospects_updated += 1
    ex.done(intent, it)
