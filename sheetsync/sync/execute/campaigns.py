"""The Campaigns tab's steps: create (or adopt by name after a lost state file), the sending
window PATCH right after a create, settings updates, start/pause, and monitoring reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sheetsync.api.client import (
    Request,
    campaign_action_request,
    create_campaign_request,
    update_campaign_request,
)
from sheetsync.api.models import Campaign, Mailbox
from sheetsync.errors import PaymentRequired, RowError
from sheetsync.rows.records import CampaignRecord
from sheetsync.state import Intent, Item, content_key, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.plan import MAILBOX_CHECKED, RUNNING, Action


def resolve_mailboxes(c: CampaignRecord, boxes: Sequence[Mailbox]) -> list[str] | str:
    """Mailbox ids, or the `error:` status saying which mailbox is wrong."""
    ids: list[str] = []
    for ref in c.mailboxes:
        want = ref.strip().casefold()
        box = next((m for m in boxes if want in (m.id.casefold(), m.email.casefold())), None)
        if box is None:
            return statuses.no_mailbox(ref)
        if not box.connected:
            return statuses.mailbox_disconnected(box.email)
        if not box.sending_enabled:
            return statuses.sending_disabled(box.email)
        ids.append(box.id)
    return ids


def _stats(it: Item, camp: Campaign) -> None:
    """Progress counts from the server; its enrolled count wins over ours when it has one."""
    if camp.stats:
        it.data["stats"] = dict(camp.stats)
        if isinstance(camp.stats.get("enrolled"), int):
            it.data["enrolled"] = camp.stats["enrolled"]


# --- create ---------------------------------------------------------------------------------------


def act_create(ex: Executor, a: Action) -> None:
    c = ex.campaigns[a.key]
    it = ex.item("campaigns", a.key)
    if a.fields.get("recheck") and _mailbox_ids(ex, it, c) is None:
        return  # the mailbox is still wrong: only GET /mailboxes was spent
    if it.remote_id is None and not it.data.get("looked_up"):
        match = [x for x in ex.remote_campaigns() if x.name.strip().casefold() == c.key]
        if match:  # the state file was lost: adopt the campaign of that name
            _adopt(ex, it, c, match[0])
            return
    boxes = _mailbox_ids(ex, it, c)
    if boxes is None:
        return
    body: dict[str, Any] = {"name": c.name, "channel": c.channel, "mailboxIds": boxes}
    body["steps"] = [
        {
            "stepIndex": s.number - 1,
            "subject": s.subject,
            "bodyHtml": s.body_html,
            "delayDays": s.delay_days,
        }
        for s in c.steps
    ]
    body.update(c.settings)
    key = content_key("create-campaign", ex.sheet, c.key, body)
    payload = {"key": c.key, "body": body, "hash": c.hash}
    payload.update(settings=c.settings, steps_hash=c.steps_hash)
    ex.send("create_campaign", payload, key)
    _patch_window(ex, c.key)


def _mailbox_ids(ex: Executor, it: Item, c: CampaignRecord) -> list[str] | None:
    """The mailbox ids of `c`, or None when a mailbox refuses the create: then the row says
    which, and the time of this check is kept so the planner checks again after
    monitor_seconds (GET /mailboxes is read once per cycle)."""
    boxes = resolve_mailboxes(c, ex.mailboxes())
    if not isinstance(boxes, str):
        return boxes
    it.hash = c.hash
    it.data[MAILBOX_CHECKED] = ex.clock.time()
    ex.set_status(it, boxes)
    ex.save(it)
    return None


def _adopt(ex: Executor, it: Item, c: CampaignRecord, remote: Campaign) -> None:
    it.data.pop(MAILBOX_CHECKED, None)
    it.remote_id = remote.id
    it.hash = c.hash
    it.data.update(settings=c.settings, steps_hash=c.steps_hash, api_status=remote.status)
    _stats(it, remote)
    it.data["monitored_at"] = ex.clock.time()
    if remote.status in ("running", "active", "scheduled", "paused"):
        it.data["wanted"] = "paused" if remote.status == "paused" else "running"
    ex.set_status(it, statuses.SYNCED)
    ex.save(it)


def request_create(b: dict[str, Any]) -> Request:
    return create_campaign_request(b["body"])


def do_create(ex: Executor, intent: Intent) -> None:
    _created(ex, intent, ex.call(intent).campaign())


def heal_create(ex: Executor, intent: Intent) -> bool:
    """After a 409 for the create's key: the campaign read back by name."""
    ex.slot()
    name = str(intent.body["body"]["name"]).strip().casefold()
    match = [c for c in ex.api.list_campaigns() if c.name.strip().casefold() == name]
    if not match:
        return False
    _created(ex, intent, match[0])
    return True


def _created(ex: Executor, intent: Intent, camp: Campaign) -> None:
    b = intent.body
    it = ex.item("campaigns", b["key"])
    it.remote_id = camp.id
    it.hash = b["hash"]
    it.data.pop(MAILBOX_CHECKED, None)
    it.data.update(settings=b["settings"], steps_hash=b["steps_hash"])
    it.data.update(api_status=camp.status, stats=dict(camp.stats), enrolled=0)
    ex.set_status(it, statuses.SYNCED)
    ex.counts.campaigns_created += 1
    window = {
        k: v
        for k, v in b["settings"].items()
        if k in ("sendingWindowStart", "sendingWindowEnd") and camp.raw.get(k) != v
    }
    if window:  # the create body does not carry the sending window: PATCH it right after
        it.data["window_pending"] = window
    ex.done(intent, it)


# --- update ---------------------------------------------------------------------------------------


def _patch_window(ex: Executor, key: str) -> None:
    it = ex.item("campaigns", key)
    window = it.data.get("window_pending")
    if it.remote_id is None or not window:
        return
    payload = {"key": key, "id": it.remote_id, "fields": window, "hash": it.hash}
    payload.update(settings=it.data["settings"], window=True)
    ex.send("update_campaign", payload, fresh_key("update-campaign"))


def act_update(ex: Executor, a: Action) -> None:
    c = ex.campaigns[a.key]
    it = ex.item("campaigns", a.key)
    if a.fields.get("window_pending"):
        _patch_window(ex, a.key)
        return
    payload = {"key": c.key, "id": it.remote_id, "fields": a.fields, "hash": c.hash}
    payload["settings"] = c.settings
    ex.send("update_campaign", payload, fresh_key("update-campaign"))


def request_update(b: dict[str, Any]) -> Request:
    return update_campaign_request(b["id"], b["fields"])


def do_update(ex: Executor, intent: Intent) -> None:
    b = intent.body
    camp = ex.call(intent).campaign()
    it = ex.item("campaigns", b["key"])
    it.hash = b["hash"]
    it.data["settings"] = b["settings"]
    it.data["api_status"] = camp.status
    it.data.pop("window_pending", None)
    ex.set_status(it, statuses.SYNCED)
    if not b.get("window"):
        ex.counts.campaigns_updated += 1
    ex.done(intent, it)


# --- start / pause / monitor ----------------------------------------------------------------------


def act_start(ex: Executor, a: Action) -> None:
    _state_change(ex, a, "start")


def act_pause(ex: Executor, a: Action) -> None:
    _state_change(ex, a, "pause")


def _state_change(ex: Executor, a: Action, op: str) -> None:
    it = ex.item("campaigns", a.key)
    if it.remote_id is None:
        return  # not created (error or deferred): its status already says why
    running = str(it.data.get("api_status", "")) in RUNNING
    if (op == "start") == running:  # already so (e.g. adopted by name after a lost state)
        it.data["wanted"] = a.fields["wanted"]
        ex.supersede(it, statuses.SYNCED)
        ex.save(it)
        return
    payload = {"key": a.key, "id": it.remote_id, "wanted": a.fields["wanted"]}
    ex.send(op, payload, fresh_key(f"{op}-campaign"))


def request_start(b: dict[str, Any]) -> Request:
    return campaign_action_request(b["id"], "start")


def request_pause(b: dict[str, Any]) -> Request:
    return campaign_action_request(b["id"], "pause")


def do_start(ex: Executor, intent: Intent) -> None:
    if _state_call(ex, intent):
        ex.counts.campaigns_started += 1


def do_pause(ex: Executor, intent: Intent) -> None:
    if _state_call(ex, intent):
        ex.counts.campaigns_paused += 1


def _state_call(ex: Executor, intent: Intent) -> bool:
    """Start or pause; True when this call changed the campaign. A refusal (already running,
    completed, no steps…) reads the campaign back: if it is already as wanted, that is the
    outcome; if not, its real status is kept and the refusal raised for the row's `error:`
    (a 402 is not read back: the subscription is what is wrong)."""
    try:
        camp = ex.call(intent).campaign()
    except PaymentRequired:
        raise
    except RowError:
        if not read_back(ex, intent):
            raise
        return False
    _changed_state(ex, intent, camp)
    return True


def read_back(ex: Executor, intent: Intent) -> bool:
    """GET the campaign of a start or pause and keep its status; True (and the intent done)
    when it is already in the state the intent wanted."""
    ex.slot()
    camp = ex.api.get_campaign(intent.body["id"])
    it = ex.item("campaigns", intent.body["key"])
    it.data["api_status"] = camp.status
    it.data["monitored_at"] = ex.clock.time()
    _stats(it, camp)
    wanted = intent.body["wanted"]
    if camp.status not in (RUNNING if wanted == "running" else ("paused",)):
        return False
    _changed_state(ex, intent, camp)
    return True


def _changed_state(ex: Executor, intent: Intent, camp: Campaign) -> None:
    it = ex.item("campaigns", intent.body["key"])
    it.data.update(wanted=intent.body["wanted"], api_status=camp.status)
    it.data["monitored_at"] = ex.clock.time()
    _stats(it, camp)
    ex.supersede(it, statuses.SYNCED)
    ex.done(intent, it)


def act_monitor(ex: Executor, a: Action) -> None:
    it = ex.item("campaigns", a.key)
    ex.slot()
    camp = ex.api.get_campaign(str(it.remote_id))
    it.data["api_status"] = camp.status
    _stats(it, camp)
    it.data["monitored_at"] = ex.clock.time()
    ex.save(it)
