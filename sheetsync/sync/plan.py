"""What the next cycle does, in order: prospects → campaigns → enrollments → start/pause →
monitoring. Rows, state and diffs in; actions and notes out. Ids that only exist once an
earlier action ran (a prospect created this cycle, then enrolled) are resolved by the executor.

The one change made to the items handed in is `relink`: a row linked to a WarmySender object is
that object, so a renamed campaign row (recognised by its Campaign ID cell) takes over the state
of its old name, and Enrollments rows renamed with it take over the enrollments they had; the
re-keyed items are in `Plan.moved` for the caller to save.

A linked row is compared with what WarmySender holds (`item.data`: `settings`, `fixed`,
`steps_hash`, as sent or as read back): the PATCH-able differences are sent (draft or paused),
or the row says what differs and why it cannot be sent. Only the fields the row fills in are
compared: an empty cell never clears WarmySender's data.

Stop: the Enrollments rows of a person whose Stop box is ticked (or is about to be, `stopped`)
are unenrolled where active (with the other unenrolls of their campaign, under the safety brake)
and never enrolled; they say `unenrolled: stopped on the Prospects tab`. Once the box is
unticked, their rows are acted on again as they read.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sheetsync.config import SheetConfig
from sheetsync.rows.records import CampaignRecord, EnrollmentRecord, SheetRows
from sheetsync.state import Item
from sheetsync.sync import statuses
from sheetsync.sync.diff import Diff, diff
from sheetsync.sync.statuses import SETTLING

RUNNING = ("running", "active", "scheduled")
EDITABLE = ("draft", "paused")  # PATCH works on these (and WarmySender's app may change them)
MAILBOX_CHECKED = "mailbox_checked_at"  # campaign data: when a mailbox refusal was last checked
BRAKE_MIN = 10
HOLDS = "holds"  # the state role of the safety brake's records (see _brake)
Difference = statuses.Difference


@dataclass(frozen=True)
class Action:
    kind: str  # create_prospect update_prospect create_campaign update_campaign enroll
    # unenroll start pause monitor
    key: str  # prospect key, campaign key, or enrollment target ("sheet:<key>" / "id:<id>")
    rows: tuple[str, ...] = ()  # enrollment keys of a batch
    fields: dict[str, Any] = field(default_factory=dict)

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """One line for `sheetsync plan`; `names` maps campaign keys to their names as typed."""
        what = self.kind.replace("_", " ")
        target = self.key.split(":", 1)[1] if self.kind in ("enroll", "unenroll") else self.key
        target = (names or {}).get(target, target)
        extra = f" ({len(self.rows)} rows)" if self.rows else ""
        if self.fields.get("by"):
            extra = f" ({len(self.rows)} held rows, confirmed)"
        if self.fields and self.kind.startswith("update"):
            extra = f" ({', '.join(sorted(self.fields))})"
        return f"{what} {target}{extra}"


@dataclass(frozen=True)
class Note:
    """A status set without an API call. `done` records the row's content as acted on."""

    role: str
    key: str
    status: str
    done: bool = False


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    diffs: dict[str, Diff] = field(default_factory=dict)
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)  # target -> brake record
    confirmed: set[str] = field(default_factory=set)  # campaign keys whose Confirm box to clear
    moved: list[Item] = field(default_factory=list)  # re-keyed by `relink`: save them

    def count(self, kind: str) -> int:
        return sum(1 for a in self.actions if a.kind == kind)


def enrollment_target(r: EnrollmentRecord, campaigns: Container[str]) -> str:
    """`sheet:<key>` for a campaign of the Campaigns tab (`campaigns` holds their keys), else
    `id:<ref>` (a WarmySender campaign id)."""
    ref = r.campaign.strip()
    return f"sheet:{ref.casefold()}" if ref.casefold() in campaigns else f"id:{ref}"


def make_plan(
    rows: SheetRows,
    items: Mapping[str, dict[str, Item]],
    sheet: SheetConfig,
    *,
    first_poll: bool,
    confirm_unenroll: bool,
    now: float,
    stopped: Collection[str] = (),
    unchanged: Mapping[str, Collection[str]] | None = None,
) -> Plan:
    """`unchanged`: per role, the keys of rows left out of `rows` because the engine's row cache
    knows them unchanged and settled (nothing to plan for them; not removed either)."""
    plan = Plan(moved=relink(rows, items, unchanged or {}))

    def d(role: str, pairs: list[tuple[str, str]]) -> Diff:
        out = diff(
            pairs,
            items[role],
            settle_polls=sheet.settle_polls,
            first_poll=first_poll,
            unchanged=(unchanged or {}).get(role, ()),
        )
        plan.diffs[role] = out
        return out

    # --- prospects ---
    pitems = items["prospects"]
    live = [r for r in rows.prospects if not r.sync_off]
    pd = d("prospects", [(r.key, r.hash) for r in live])
    seen: set[str] = set()
    for r in live:
        if pd.changes[r.key].kind == "unchanged":
            continue  # neither settling nor to do, whichever row of the key comes first
        if r.key in seen:
            continue
        seen.add(r.key)
        if pd.settling(r.key):
            plan.notes.append(Note("prospects", r.key, SETTLING))
        elif pd.todo(r.key):
            item = pitems.get(r.key)
            if item is None or item.remote_id is None:
                plan.actions.append(Action("create_prospect", r.key, fields=r.body))
            else:
                changed = prospect_changes(item.data.get("body", {}), r.body)
                if changed:
                    plan.actions.append(Action("update_prospect", r.key, fields=changed))
                else:
                    kept = item.status if item.status == statuses.EXISTS else statuses.SYNCED
                    plan.notes.append(Note("prospects", r.key, kept, done=True))

    # --- campaigns ---
    citems = items["campaigns"]
    campaigns = {c.key: c for c in rows.campaigns}
    cd = d("campaigns", [(c.key, c.hash) for c in rows.campaigns])
    startable: dict[str, str] = {}  # campaign key -> api status expected after this phase
    after_pause: list[Action] = []  # changes of a campaign paused in the same edit
    for c in rows.campaigns:
        item = citems.get(c.key)
        status = str(item.data.get("api_status", "")) if item else ""
        if cd.settling(c.key):
            plan.notes.append(Note("campaigns", c.key, SETTLING))
            continue
        if item is None or item.remote_id is None:
            recheck = False
            if not cd.todo(c.key) and item is not None and item.hash == c.hash:
                # refused before with this content: wait for a change, except that a refusal
                # for a mailbox is checked again every monitor_seconds (it may be fixed in
                # WarmySender, where the sheet cannot see it)
                checked = item.data.get(MAILBOX_CHECKED)
                if checked is None or now - float(checked) < sheet.monitor_seconds:
                    continue
                recheck = True
            missing = _missing(c)
            if missing:
                plan.notes.append(Note("campaigns", c.key, statuses.waiting_to_create(missing)))
                continue
            fields = {"recheck": True} if recheck else {}
            plan.actions.append(Action("create_campaign", c.key, fields=fields))
            startable[c.key] = "draft"
            continue
        startable[c.key] = status
        if item.data.get("window_pending"):  # a create cut off before its window PATCH
            plan.actions.append(Action("update_campaign", c.key, fields={"window_pending": 1}))
        if not cd.todo(c.key):
            continue
        if "fixed" not in item.data:  # linked by an older sheetsync: read what WarmySender holds
            plan.actions.append(Action("reconcile", c.key))
            continue
        patch, locked = drift(c, item.data)
        fields = {f: mine for f, mine, _ in patch}
        if locked:
            note = Note("campaigns", c.key, statuses.locked(locked), done=not patch)
        elif patch and status in RUNNING and c.state == "paused":
            after_pause.append(Action("update_campaign", c.key, fields=fields))
            continue
        elif patch and status in RUNNING:
            note = Note("campaigns", c.key, statuses.pause_first(patch))
        elif patch:
            note = None
        else:
            note = Note("campaigns", c.key, settled(c, item), done=True)
        if note is not None:
            plan.notes.append(note)
        if patch and status not in RUNNING:
            plan.actions.append(Action("update_campaign", c.key, fields=fields))

    # --- enrollments ---
    eitems = items["enrollments"]
    ed = d("enrollments", [(e.key, e.hash) for e in rows.enrollments])
    # rows waiting for a formula result: their keys (None: a row whose key is unknown)
    waits = {r: {w.key for w in rows.waiting if w.role == r} for r in ("prospects", "campaigns")}
    unsure = {w.key for w in rows.waiting if w.role == "enrollments"}
    named = campaigns.keys() | {k for k in waits["campaigns"] if k is not None}
    if None in waits["prospects"]:  # a prospect row's email is unknown: any email without a
        waits["prospects"] |= {e.email for e in rows.enrollments} - {r.key for r in live}  # row
    enroll: dict[str, list[str]] = {}
    unenroll: dict[str, list[str]] = {}
    stops = rows.stopped.union(stopped)
    stop_keys: set[str] = set()
    seen = set()
    for e in rows.enrollments:
        if e.key in seen:
            continue
        seen.add(e.key)
        if ed.settling(e.key):
            plan.notes.append(Note("enrollments", e.key, SETTLING))
            continue
        item = eitems.get(e.key)
        was_stopped = item is not None and item.status == statuses.STOPPED
        if e.email is not None and e.email in stops:
            if item is not None and item.data.get("active"):
                unenroll.setdefault(enrollment_target(e, named), []).append(e.key)
                stop_keys.add(e.key)
            elif not was_stopped:
                plan.notes.append(Note("enrollments", e.key, statuses.STOPPED, done=True))
            continue
        todo = ed.todo(e.key) or was_stopped
        if not todo and (item is None or item.status[:6] != "error:"):
            continue  # the common case, without a call per row
        target = enrollment_target(e, named)
        if not todo and not _target_moved(item, target):
            continue
        wait = _formula_wait(e, target, waits, pitems, rows.titles)
        if wait:
            plan.notes.append(Note("enrollments", e.key, wait))
            continue
        active = bool(item and item.data.get("active"))
        if e.enrolled and active and item is not None and item.data.get("target") == target:
            # already so (its campaign was renamed, or a relinked row): nothing to send
            kept = item.status if item.status == statuses.SUPPRESSED else statuses.ENROLLED
            plan.notes.append(Note("enrollments", e.key, kept, done=True))
        elif e.enrolled:
            enroll.setdefault(target, []).append(e.key)
        elif e.list_id:
            plan.notes.append(Note("enrollments", e.key, statuses.LIST_UNENROLL, done=True))
        elif active:
            unenroll.setdefault(target, []).append(e.key)
        else:
            ever = item is not None and item.data.get("target")
            never = statuses.UNENROLLED if ever else statuses.NOT_ENROLLED
            plan.notes.append(Note("enrollments", e.key, never, done=True))
    if sheet.on_row_removed == "unenroll" and None not in unsure:
        for key in ed.removed:
            if key in unsure:
                continue  # its row is there, waiting for a formula result
            item = eitems[key]
            if item.data.get("active") and item.data.get("target"):
                unenroll.setdefault(str(item.data["target"]), []).append(key)
    for target, keys in enroll.items():
        plan.actions.append(Action("enroll", target, rows=tuple(keys)))
    _brake(plan, unenroll, campaigns, ed, items, sheet, confirm_unenroll=confirm_unenroll)
    _mark_stops(plan, stop_keys)

    # --- start / pause ---
    for c in rows.campaigns:
        if c.key not in startable or c.state is None or cd.settling(c.key):
            continue
        item = citems.get(c.key)
        if item is not None and item.data.get("wanted") == c.state:
            continue
        status = startable[c.key]
        if c.state == "running" and status not in RUNNING:
            plan.actions.append(Action("start", c.key, fields={"wanted": c.state}))
        elif c.state == "paused" and status in RUNNING:
            plan.actions.append(Action("pause", c.key, fields={"wanted": c.state}))
        elif item is not None and c.state == "draft" and status not in ("draft", ""):
            plan.notes.append(Note("campaigns", c.key, statuses.NO_DRAFT_AGAIN))
        elif c.state == "paused" and status == "draft":
            plan.notes.append(Note("campaigns", c.key, statuses.NO_PAUSE_DRAFT))
        elif item is not None:
            plan.actions.append(Action("want", c.key, fields={"wanted": c.state}))
    plan.actions.extend(after_pause)

    # --- monitoring ---
    # every campaign whose settings can still change (in WarmySender's app too), unless a call
    # of this cycle reads it anyway
    read = {a.key for a in plan.actions if a.kind in ("start", "pause", "reconcile")}
    for c in rows.campaigns:
        item = citems.get(c.key)
        if item is None or item.remote_id is None or c.key in read:
            continue
        if str(item.data.get("api_status", "")) not in (*RUNNING, *EDITABLE):
            continue  # completed (or archived): nothing can change any more
        if now - float(item.data.get("monitored_at", 0)) >= sheet.monitor_seconds:
            plan.actions.append(Action("monitor", c.key))
    return plan


def _formula_wait(
    e: EnrollmentRecord,
    target: str,
    waits: Mapping[str, set[str | None]],
    pitems: Mapping[str, Item],
    titles: Mapping[str, str],
) -> str | None:
    """Why an enrollment row waits for a formula elsewhere: its campaign may be the one whose
    name is unknown, or its prospect's row waits (or may be the one whose email is unknown)
    and the prospect is not in WarmySender yet."""
    if target.startswith("id:") and None in waits["campaigns"]:
        return statuses.uncomputed_in_tab(titles.get("campaigns", "Campaigns"))
    prospects = waits["prospects"]
    linked = e.email is not None and (p := pitems.get(e.email)) is not None and p.remote_id
    if e.email and not linked and e.email in prospects:
        return statuses.uncomputed_in_tab(titles.get("prospects", "Prospects"))
    return None


def _brake(
    plan: Plan,
    unenroll: Mapping[str, list[str]],
    campaigns: Mapping[str, CampaignRecord],
    ed: Diff,
    items: Mapping[str, Mapping[str, Item]],
    sheet: SheetConfig,
    *,
    confirm_unenroll: bool,
) -> None:
    """The safety brake, per enrollment target. Its record (state role HOLDS, one Item per
    target; `plan.holds` is the new one) lists the enrollment keys held (`keys`, shown as
    `status`) and the keys confirmed but not unenrolled yet (`release`, confirmed `by` "sheet"
    or "command"). A confirmation (the campaign's Confirm box, or `confirm_unenroll` for every
    target) moves `keys` to `release`; those keys are unenrolled while they are still due (a
    row ticked again drops out), and what else is due goes through the brake on its own."""
    eitems, holds = items["enrollments"], items.get(HOLDS, {})
    box = sheet.tab("campaigns").column("confirm").header
    ticked = {f"sheet:{c.key}" for c in campaigns.values() if c.confirm}
    kept = sorted(t for t, h in holds.items() if h.data)
    for target in dict.fromkeys([*unenroll, *kept, *sorted(ticked)]):
        due = unenroll.get(target, [])
        old = holds[target].data if target in holds else {}
        release, by = set(old.get("release", ())), old.get("by")
        if old.get("keys") and (confirm_unenroll or target in ticked):
            release.update(old["keys"])
            by = "sheet" if target in ticked else "command"
        now = [k for k in due if k in release]
        rest = [k for k in due if k not in release]
        record: dict[str, Any] = {}
        if now:
            plan.actions.append(Action("unenroll", target, rows=tuple(now), fields={"by": by}))
            record.update(release=now, by=by)
        if rest:
            active = (i for i in eitems.values() if i.data.get("active"))
            enrolled = sum(1 for i in active if i.data.get("target") == target) - len(now)
            n = len(rest)
            if n > BRAKE_MIN and n > sheet.max_unenroll_fraction * enrolled:
                kind, ref = target.split(":", 1)
                name = campaigns[ref].name if kind == "sheet" and ref in campaigns else ref
                held = statuses.held(n, enrolled, name, box if kind == "sheet" else None)
                plan.notes.extend(Note("enrollments", k, held) for k in rest)
                record.update(keys=rest, status=held)
            else:
                plan.actions.append(Action("unenroll", target, rows=tuple(rest)))
        if target in ticked:
            plan.confirmed.add(target[6:])
            if not record:
                record["nothing_held"] = True
        # rows held before and ticked again since: enrolled, as they were
        for k in sorted({*old.get("keys", ()), *old.get("release", ())} - set(due)):
            ch, it = ed.changes.get(k), eitems.get(k)
            if ch and ch.kind == "unchanged" and it and it.data.get("active"):
                plan.notes.append(Note("enrollments", k, statuses.ENROLLED, done=True))
        plan.holds[target] = record


def _mark_stops(plan: Plan, stop_keys: set[str]) -> None:
    """Unenrolls for a ticked Stop box carry their keys (`stop`): their rows say why."""
    if not stop_keys:
        return
    for i, a in enumerate(plan.actions):
        if a.kind == "unenroll" and (stop := sorted(stop_keys.intersection(a.rows))):
            plan.actions[i] = replace(a, fields={**a.fields, "stop": stop})


def prospect_changes(held: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that makes WarmySender hold what the row says. Only the fields the row
    fills in: an emptied cell clears nothing. customFields goes whole (a PATCH replaces the
    object), WarmySender's other custom fields kept."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k == "email":
            continue
        if k == "customFields":
            have = held.get(k) or {}
            merged = {**have, **v}
            if merged != have:
                out[k] = merged
        elif held.get(k) != v:
            out[k] = v
    return out


def prospect_differences(held: Mapping[str, Any], row: Mapping[str, Any]) -> list[Difference]:
    """What `prospect_changes` would send, as (field, the sheet's value, WarmySender's)."""
    out: list[Difference] = []
    for k, v in prospect_changes(held, row).items():
        if k == "customFields":
            have = held.get(k) or {}
            mine = row[k]
            out += [
                (name, mine[name], have.get(name)) for name in mine if have.get(name) != mine[name]
            ]
        else:
            out.append((k, v, held.get(k)))
    return out


# --- campaigns against what WarmySender holds --------------------------------------------------


def drift(c: CampaignRecord, held: Mapping[str, Any]) -> tuple[list[Difference], list[Difference]]:
    """(PATCH-able differences, differences the API cannot change) between the row and what
    WarmySender holds (`held` is an item's data). Fields the row leaves blank, and create-only
    fields WarmySender did not report, are not compared."""
    settings = held.get("settings") or {}
    patch = [
        (f, mine, settings.get(f))
        for f, mine in c.settings.items()
        if not same_setting(f, mine, settings.get(f))
    ]
    fixed = held.get("fixed") or {}
    locked: list[Difference] = [
        (f, mine, fixed[f]) for f, mine in c.fixed.items() if f in fixed and fixed[f] != mine
    ]
    boxes = fixed.get("mailboxes")
    if c.mailboxes and isinstance(boxes, list) and not same_mailboxes(c.mailboxes, boxes):
        locked.append(("mailboxIds", list(c.mailboxes), [b[1] or b[0] for b in boxes]))
    return patch, locked


def steps_locked(c: CampaignRecord, held: Mapping[str, Any]) -> bool:
    """The row's steps differ from the ones WarmySender holds (which the API cannot change).
    `steps_hash` is the row's own when sheetsync created the campaign from it, or `sent:` and
    the digest of the steps as read back (compared with the row's steps as it sends them)."""
    h = held.get("steps_hash")
    return h is not None and h != c.steps_hash and h != f"sent:{c.steps_sent}"


def same_setting(field: str, mine: Any, theirs: Any) -> bool:
    """The row's value of a setting equals WarmySender's, read tolerantly (a date-time for a
    date, 09:00:00 for 09:00, "Mon" for "mon")."""
    if mine == theirs:
        return True
    if theirs is None or isinstance(mine, bool | int):
        return False
    if field in ("startDate", "endDate"):
        return bool(str(theirs)[:10] == mine)
    if field in ("sendingWindowStart", "sendingWindowEnd"):
        return bool(str(theirs)[:5] == mine)
    if field == "scheduleDays":
        days = theirs.split(",") if isinstance(theirs, str) else theirs
        return isinstance(days, list) and [str(d).strip().lower()[:3] for d in days] == mine
    if field == "name":
        return bool(str(theirs).strip() == mine)
    return False


def same_mailboxes(refs: tuple[str, ...], boxes: list[list[str]]) -> bool:
    """The mailboxes a row names (ids or addresses) are the ones WarmySender holds ([id,
    email] pairs)."""
    ids: set[str] = set()
    for ref in refs:
        want = ref.strip().casefold()
        hit = next((b[0] for b in boxes if want in (b[0].casefold(), b[1].casefold())), None)
        if hit is None:
            return False
        ids.add(hit)
    return ids == {b[0] for b in boxes}


def settled(c: CampaignRecord, item: Item) -> str:
    """The status of a linked campaign row whose settings WarmySender holds: synced, unless a
    start or pause the row asks for was refused (that error stands until it is done)."""
    status = str(item.data.get("api_status", ""))
    if statuses.is_error(item.status) and not statuses.is_drift(item.status) and c.state:
        if (c.state == "running") != (status in RUNNING) or (
            c.state == "paused" and status != "paused"
        ):
            return item.status
    return statuses.SYNCED


def _target_moved(item: Item | None, target: str) -> bool:
    """An enrollment in error about its campaign that now names another one (the campaign row
    was added or renamed since): act on it again."""
    return (
        item is not None
        and statuses.is_error(item.status)
        and item.data.get("target") not in (None, target)
    )


# --- renamed rows --------------------------------------------------------------------------


def relink(
    rows: SheetRows,
    items: Mapping[str, dict[str, Item]],
    unchanged: Mapping[str, Collection[str]],
) -> list[Item]:
    """Re-key the state of renamed rows in `items`; returns every item changed (to save).

    A campaign row whose name state does not know, with a Campaign ID cell holding the id of a
    campaign whose old name has no row any more, is that campaign renamed: its item moves to the
    new key (the next plan PATCHes the name), and the enrollments of the old name target the new
    one. An Enrollments row with no active enrollment takes over the active enrollment of a row
    that is gone, for the same prospect (or list) and the same campaign: renaming a campaign on
    the Enrollments tab changes the rows' keys, never who is enrolled. The rows in `unchanged`
    (left out of `rows` by the row cache) are still there."""
    moved: list[Item] = []
    citems = items["campaigns"]
    names = {c.key for c in rows.campaigns}
    by_id: dict[str, Item] | None = None
    for c in rows.campaigns:
        have = citems.get(c.key)
        if not c.remote_id or (have is not None and have.remote_id):
            continue
        if by_id is None:
            by_id = {it.remote_id: it for it in citems.values() if it.remote_id}
        old = by_id.get(c.remote_id)
        if old is None or old.key in names or old.key in unchanged.get("campaigns", ()):
            continue  # unknown id, or a copied row: the old row is still there
        new = _move(citems, old, c.key, moved)
        by_id[c.remote_id] = new
        before, after = f"sheet:{old.key}", f"sheet:{c.key}"
        for it in items["enrollments"].values():
            if it.data.get("target") == before:
                it.data["target"] = after
                moved.append(it)
    moved += _relink_enrollments(rows, items, unchanged.get("enrollments", ()))
    return moved


def _relink_enrollments(
    rows: SheetRows, items: Mapping[str, dict[str, Item]], unchanged: Collection[str]
) -> list[Item]:
    eitems = items["enrollments"]
    loose = [
        e
        for e in rows.enrollments
        if (it := eitems.get(e.key)) is None or it.status[:6] in ("error:", "waitin")
    ]  # the common poll finds none and stops here
    if not loose:
        return []
    keys = {e.key for e in rows.enrollments}
    orphans: dict[tuple[str, str], Item] = {}
    for key, it in eitems.items():
        if key not in keys and it.data.get("active") and key not in unchanged:
            who = it.data.get("email") or f"list:{it.data.get('list_id')}"
            orphans[(str(it.data.get("target")), who)] = it
    if not orphans:
        return []
    campaigns = {c.key: c for c in rows.campaigns}
    moved: list[Item] = []
    for e in loose:
        who = e.email or f"list:{e.list_id}"
        old = orphans.pop((enrollment_target(e, campaigns), who), None)
        if old is not None:
            _move(eitems, old, e.key, moved)
    return moved


def _move(known: dict[str, Item], old: Item, key: str, moved: list[Item]) -> Item:
    """`old`'s state under `key`; `old`'s own key is forgotten (saved blank)."""
    new = replace(old, key=key, data=dict(old.data))
    blank = Item(old.role, old.key)
    known[key] = new
    known[old.key] = blank
    moved += [new, blank]
    return new


def _missing(c: CampaignRecord) -> str:
    if not c.mailboxes and not c.steps:
        return "a mailbox in Mailboxes and at least one row in the Steps tab"
    if not c.mailboxes:
        return "a mailbox in Mailboxes"
    if not c.steps:
        return "at least one row in the Steps tab"
    return ""
