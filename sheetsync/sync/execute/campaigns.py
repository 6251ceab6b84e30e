"""The Campaigns tab's steps: create (or adopt by name after a lost state file), the sending
window PATCH right after a create, settings updates, start/pause, and the reads that compare a
linked campaign with its row (on adopting it, for state from an older sheetsync, and the
periodic monitor read).

What WarmySender holds is kept in the item's data, as sent or as read back: `settings` (the
PATCH-able fields), `fixed` (channel, timezone and the mailboxes as [id, email] pairs, which the
API cannot change) and `steps_hash`. `plan.drift` compares a row with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sheetsync.api.client import (
    Request,
    campaign_action_request,
    create_campaign_request,
    update_campaign_request,
)
from sheetsync.api.models import Campaign, Mailbox
from sheetsync.api.parse import present
from sheetsync.errors import NotFound, PaymentRequired, RowError
from sheetsync.rows.campaigns import steps_digest
from sheetsync.rows.records import CampaignRecord
from sheetsync.state import Intent, Item, fresh_key
from sheetsync.sync import statuses
from sheetsync.sync.execute.executor import Executor
from sheetsync.sync.plan import EDITABLE, MAILBOX_CHECKED, RUNNING, Action, drift, same_setting

# The PATCH-able fields a campaign read reports (the guide's PATCH list, plus the stop-on
# settings the sandbox documents as PATCH-able); anything else cannot change once created.
SETTINGS = (
    "name",
    "dailySendLimit",
    "sendingWindowStart",
    "sendingWindowEnd",
    "scheduleDays",
    "trackOpens",
    "trackClicks",
    "stopOnReply",
    "stopOnBounce",
    "startDate",
    "endDate",
)


# campaign data: the differences (the row's values and WarmySender's) whose PATCH was refused,
# so the next monitor reads do not send it again while neither side changed
REFUSED = "refused_patch"


def resolve_mailboxes(c: CampaignRecord, boxes: Sequence[Mailbox]) -> list[Mailbox] | str:
    """The mailboxes a row names, or the `error:` status saying which mailbox is wrong."""
    found: list[Mailbox] = []
    for ref in c.mailboxes:
        want = ref.strip().casefold()
        box = next((m for m in boxes if want in (m.id.casefold(), m.email.casefold())), None)
        if box is None:
            return statuses.no_mailbox(ref)
        if not box.connected:
            return statuses.mailbox_disconnected(box.email)
        if not box.sending_enabled:
            return statuses.sending_disabled(box.email)
        found.append(box)
    return found


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
    if it.remote_id is None:
        found = _made_before(ex, c)
        if found is not None:
            _adopt(ex, it, c, found)
            return
    boxes = _mailbox_ids(ex, it, c)
    if boxes is None:
        return
    pairs = {b.id: [b.id, b.email] for b in boxes}  # by id, in order, each once
    body: dict[str, Any] = {"name": c.name, "channel": c.channel, "mailboxIds": list(pairs)}
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
    body.update(c.fixed)
    payload = {"key": c.key, "body": body, "hash": c.hash}
    fixed = {
        "channel": c.channel,
        "timezone": c.fixed.get("timezone"),
        "mailboxes": [*pairs.values()],
    }
    payload.update(settings=c.settings, steps_hash=c.steps_hash, fixed=fixed)
    ex.send("create_campaign", payload, fresh_key("create-campaign"))
    _patch_window(ex, c.key)


def _made_before(ex: Executor, c: CampaignRecord) -> Campaign | None:
    """The campaign this row already is, when state does not know it (the state file was lost,
    or another sheet made it): the one of its name, else the one its Campaign ID cell names if
    no row has that campaign's name (a row renamed while the state file was gone)."""
    remote = ex.remote_campaigns()
    for x in remote:
        if x.name.strip().casefold() == c.key:
            return x
    for x in remote:
        if c.remote_id == x.id and x.name.strip().casefold() not in ex.campaigns:
            return x
    return None


def _mailbox_ids(ex: Executor, it: Item, c: CampaignRecord) -> list[Mailbox] | None:
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
    """The state file was lost (or another sheet made the campaign): link the row to the
    campaign of its name, read it back and make it hold what the row says."""
    it.data.pop(MAILBOX_CHECKED, None)
    it.remote_id = remote.id
    camp = _read(ex, it, c)
    if camp is None:
        return
    if camp.status in ("running", "active", "scheduled", "paused"):
        it.data["wanted"] = "paused" if camp.status == "paused" else "running"
    _reconcile(ex, it, c, camp)


def _read(ex: Executor, it: Item, c: CampaignRecord) -> Campaign | None:
    """GET /campaigns/{id} of a linked row; None when WarmySender refused (the row says why;
    a campaign deleted in WarmySender is unlinked, and created again once the row changes)."""
    ex.slot()
    ident = str(it.remote_id)
    try:
        return ex.api.get_campaign(ident)
    except NotFound:
        it.remote_id = None
        it.hash = c.hash
        it.data = {}
        ex.set_status(it, statuses.campaign_gone(ident))
    except RowError as exc:
        ex.set_status(it, statuses.error(statuses.in_sheet_terms(exc.message)))
    ex.save(it)
    return None


def _hold(ex: Executor, it: Item, camp: Campaign) -> None:
    """Keep what WarmySender holds for `it` (its fields as read; mailbox addresses from GET
    /mailboxes only when its mailboxes are not the ones already known)."""
    raw = camp.raw
    settings = {**present(raw, SETTINGS), "name": camp.name}
    fixed: dict[str, Any] = present(raw, ("timezone",))
    if camp.channel is not None:
        fixed["channel"] = camp.channel
    if present(raw, ("mailboxIds",)):
        known = (it.data.get("fixed") or {}).get("mailboxes") or []
        pairs = {b[0]: b for b in known}
        if set(camp.mailbox_ids) - set(pairs):
            pairs = {m.id: [m.id, m.email] for m in ex.mailboxes()}
        fixed["mailboxes"] = [pairs.get(i, [i, ""]) for i in dict.fromkeys(camp.mailbox_ids)]
    it.data.update(settings=settings, fixed=fixed, api_status=camp.status)
    if "steps" in raw:
        steps = sorted(camp.steps, key=lambda s: s.step_index)
        made = ((s.step_index + 1, s.delay_days, s.subject, s.body_html) for s in steps)
        it.data["steps_hash"] = f"sent:{steps_digest(made)}"
    _stats(it, camp)
    it.data["monitored_at"] = ex.clock.time()


def _reconcile(ex: Executor, it: Item, c: CampaignRecord, camp: Campaign) -> None:
    """Compare the row with the campaign as read: send the PATCH-able differences (draft or
    paused), or say what differs and why it cannot be sent."""
    _hold(ex, it, camp)
    patch, locked = drift(c, it.data)
    if patch and camp.status in EDITABLE:
        fields = {f: mine for f, mine, _ in patch}
        asked = json.dumps(patch, default=str)  # the row's values, and WarmySender's
        if statuses.is_error(it.status) and it.data.get(REFUSED) == asked:
            ex.save(it)  # refused as it stands: sent again once the row or WarmySender changes
            return
        it.hash = None  # acted on once the PATCH lands
        ex.save(it)
        _send_update(ex, c, it, fields)
        if statuses.is_error(it.status):
            it.data[REFUSED] = asked
            ex.save(it)
        return
    if locked:
        status = statuses.locked(locked)
    elif patch:
        status = statuses.pause_first(patch)
    elif statuses.is_drift(it.status) or not it.status:
        status = statuses.SYNCED
    else:
        status = it.status  # e.g. a refused start: not about these fields
    # a difference waiting for a pause is looked at again every poll (no call until it can go)
    it.hash = None if patch else c.hash
    ex.set_status(it, status)
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
    window = {
        k: v
        for k, v in b["settings"].items()
        if k in ("sendingWindowStart", "sendingWindowEnd") and camp.raw.get(k) != v
    }
    held = {k: v for k, v in b["settings"].items() if k not in window}
    it.data.update(settings=held, steps_hash=b["steps_hash"])
    if "fixed" in b:  # (an intent of an older sheetsync has none: read back when it matters)
        it.data["fixed"] = b["fixed"]
    it.data.update(api_status=camp.status, stats=dict(camp.stats), enrolled=0)
    it.data["monitored_at"] = ex.clock.time()  # the answer is the campaign as made
    ex.set_status(it, statuses.SYNCED)
    ex.counts.campaigns_created += 1
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
    payload.update(settings={**it.data["settings"], **window}, window=True)
    ex.send("update_campaign", payload, fresh_key("update-campaign"))


def act_update(ex: Executor, a: Action) -> None:
    c = ex.campaigns[a.key]
    it = ex.item("campaigns", a.key)
    if a.fields.get("window_pending"):
        _patch_window(ex, a.key)
        return
    if str(it.data.get("api_status", "")) in RUNNING:  # the pause planned before did not happen
        ex.set_status(it, statuses.pause_first(drift(c, it.data)[0]))
        ex.save(it)
        return
    _send_update(ex, c, it, a.fields)


def _send_update(ex: Executor, c: CampaignRecord, it: Item, fields: dict[str, Any]) -> None:
    payload = {"key": c.key, "id": it.remote_id, "fields": fields, "hash": c.hash}
    payload["settings"] = {**(it.data.get("settings") or {}), **fields}
    ex.send("update_campaign", payload, fresh_key("update-campaign"))


def request_update(b: dict[str, Any]) -> Request:
    return update_campaign_request(b["id"], b["fields"])


def do_update(ex: Executor, intent: Intent) -> None:
    b = intent.body
    camp = ex.call(intent).campaign()
    it = ex.item("campaigns", b["key"])
    it.hash = b["hash"]
    # the answer, where it carries a field sent, says what WarmySender holds now
    held = present(camp.raw, tuple(b["fields"]))
    kept = [
        (f, mine, held[f])
        for f, mine in b["fields"].items()
        if f in held and not same_setting(f, mine, held[f])
    ]
    it.data["settings"] = {**b["settings"], **held}
    it.data["api_status"] = camp.status
    it.data.pop("window_pending", None)
    c = ex.campaigns.get(b["key"])
    locked = drift(c, it.data)[1] if c is not None else []
    if kept:
        ex.set_status(it, statuses.not_taken(kept))
    else:
        ex.set_status(it, statuses.locked(locked) if locked else statuses.SYNCED)
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
    """GET /campaigns/{id}: progress counts, and the row compared with the campaign as read, so
    a change made in WarmySender's app is seen (kind `monitor`, every monitor_seconds for a
    draft, paused, scheduled or running campaign: a draft or paused one gets the row's
    differences sent back, a running one says to pause it first; and `reconcile`, once for a
    row linked by an older sheetsync)."""
    it = ex.item("campaigns", a.key)
    c = ex.campaigns[a.key]
    camp = _read(ex, it, c)
    if camp is not None:
        _reconcile(ex, it, c, camp)
