"""The Prospects tab's writes: create (content-keyed) and update of changed fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sheetsync.state import Intent, content_key, fresh_key
from sheetsync.sync.plan import Action

if TYPE_CHECKING:
    from sheetsync.sync.execute.executor import Executor


class ProspectOps:
    def __init__(self, ex: Executor) -> None:
        self.ex = ex

    def act_create(self, a: Action) -> None:
        r = self.ex.prospects[a.key]
        key = content_key("create-prospect", r.key, r.body)
        self.ex.send("create_prospect", {"key": r.key, "body": r.body, "hash": r.hash}, key)

    def do_create(self, intent: Intent) -> None:
        ex, b = self.ex, intent.body
        res = ex.api.create_prospect(b["body"], idempotency_key=intent.idempotency_key)
        it = ex.item("prospects", b["key"])
        it.remote_id = res.prospect.id
        it.hash = b["hash"]
        it.data["body"] = b["body"]
        it.data["global_status"] = res.prospect.status
        ex.set_status(it, "synced" if res.created else "exists")
        if res.created:
            ex.counts.prospects_created += 1
        else:
            ex.counts.prospects_existing += 1
        ex.done(intent, it)

    def act_update(self, a: Action) -> None:
        r = self.ex.prospects[a.key]
        it = self.ex.item("prospects", a.key)
        body = {"key": r.key, "id": it.remote_id, "fields": a.fields, "body": r.body}
        body["hash"] = r.hash
        self.ex.send("update_prospect", body, fresh_key("update-prospect"))

    def do_update(self, intent: Intent) -> None:
        ex, b = self.ex, intent.body
        ex.api.update_prospect(b["id"], b["fields"], idempotency_key=intent.idempotency_key)
        it = ex.item("prospects", b["key"])
        it.hash = b["hash"]
        it.data["body"] = b["body"]
        ex.set_status(it, "synced")
        ex.counts.prospects_updated += 1
        ex.done(intent, it)
