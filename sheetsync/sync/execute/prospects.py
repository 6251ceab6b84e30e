"""The Prospects tab's steps: create (content-keyed) and update of changed fields."""

from __future__ import annotations

from sheetsync.state import Intent, content_key, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.plan import Action


def act_create(ex: Executor, a: Action) -> None:
    r = ex.prospects[a.key]
    key = content_key("create-prospect", r.key, r.body)
    ex.send("create_prospect", {"key": r.key, "body": r.body, "hash": r.hash}, key)


def do_create(ex: Executor, intent: Intent) -> None:
    b = intent.body
    res = ex.api.create_prospect(b["body"], idempotency_key=intent.idempotency_key)
    it = ex.item("prospects", b["key"])
    it.remote_id = res.prospect.id
    it.hash = b["hash"]
    it.data["body"] = b["body"]
    it.data["global_status"] = res.prospect.status
    ex.set_status(it, statuses.SYNCED if res.created else statuses.EXISTS)
    if res.created:
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


def do_update(ex: Executor, intent: Intent) -> None:
    b = intent.body
    ex.api.update_prospect(b["id"], b["fields"], idempotency_key=intent.idempotency_key)
    it = ex.item("prospects", b["key"])
    it.hash = b["hash"]
    it.data["body"] = b["body"]
    ex.set_status(it, statuses.SYNCED)
    ex.counts.prospects_updated += 1
    ex.done(intent, it)
