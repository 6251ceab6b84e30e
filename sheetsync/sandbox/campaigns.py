"""Campaigns: the object, create/PATCH checks, the lifecycle (start, pause, scheduled → running,
→ completed after the end date) and the sending simulation.

Simulation (deterministic, driven by the clock): while a campaign is running, each active
enrollment receives step k once the delays of steps 1..k (delayDays × 86400 s) have passed since
the enrollment went live (enrolled into a running campaign, or the campaign started running).
Each such send adds 1 to `stats.sent` and a line to `sent_log` (GET /emails/sent), and is an
`email.sent` event. Sending windows, schedule days and the daily limit are not simulated;
opened, clicked, replied, bounced and unsubscribed count the events made through
`/_sandbox/events` (see events.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sheetsync.sandbox.validate import (
    JSON,
    Refusal,
    conflict,
    instant,
    invalid,
    opt_bool,
    opt_date,
    opt_days,
    opt_hhmm,
    opt_positive_int,
    opt_timezone,
    req_str,
    stamp,
)

CHANNELS = ("email", "linkedin", "multichannel")
BOOLS = ("trackOpens", "trackClicks", "stopOnReply", "stopOnBounce")
DEFAULTS: JSON = {
    "dailySendLimit": None,
    "timezone": None,
    "scheduleDays": None,
    "sendingWindowStart": None,
    "sendingWindowEnd": None,
    "trackOpens": True,
    "trackClicks": False,
    "stopOnReply": True,
    "stopOnBounce": True,
    "startDate": None,
    "endDate": None,
}
PATCHABLE = (
    "name",
    "dailySendLimit",
    "sendingWindowStart",
    "sendingWindowEnd",
    "scheduleDays",
    *BOOLS,
    "startDate",
    "endDate",
)
FIXED = ("steps", "mailboxIds", "channel", "prospectIds", "status", "id", "stats")
STATS = ("enrolled", "suppressed", "sent", "opened", "clicked", "replied", "bounced")
EVENT_STATS = ("opened", "clicked", "replied", "bounced", "unsubscribed")
DAY = 86400.0


@dataclass
class Enrollment:
    prospect_id: str
    email: str
    status: str  # active, suppressed, unenrolled; stopped: replied, bounced, unsubscribed
    next_step: int = 0
    due_at: float | None = None  # when next_step is due; None until the campaign runs

    def to_json(self) -> JSON:
        return {"prospectId": self.prospect_id, "email": self.email, "status": self.status}


@dataclass
class Campaign:
    id: str
    name: str
    channel: str
    mailbox_ids: list[str]
    steps: list[JSON]
    settings: JSON
    created_at: str
    status: str = "draft"
    paused_reason: str | None = None
    sent: int = 0
    enrollments: dict[str, Enrollment] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)  # EVENT_STATS
    sent_log: list[JSON] = field(default_factory=list)  # GET /emails/sent
    new_sends: list[JSON] = field(default_factory=list)  # sent_log lines not yet events

    def to_json(self) -> JSON:
        counts = {name: 0 for name in STATS}
        for enr in self.enrollments.values():
            if enr.status == "active":
                counts["enrolled"] += 1
            elif enr.status == "suppressed":
                counts["suppressed"] += 1
        counts["sent"] = self.sent
        for name in EVENT_STATS:
            counts[name] = self.counters[name]
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "channel": self.channel,
            "mailboxIds": list(self.mailbox_ids),
            **{k: (list(v) if isinstance(v, list) else v) for k, v in self.settings.items()},
            "pausedReason": self.paused_reason,
            "steps": [dict(s) for s in self.steps],
            "stats": counts,
            "createdAt": self.created_at,
        }

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, now: float, subscription_active: bool) -> None:
        if self.status in ("running", "scheduled"):
            raise conflict(f"campaign is already {self.status}")
        if self.status == "completed":
            raise conflict("campaign is completed; it cannot be started again")
        if not self.steps:
            raise invalid("steps: the campaign has no steps; it needs at least one to start")
        if not self.mailbox_ids:
            raise invalid("mailboxIds: the campaign has no mailbox; it needs one to start")
        tz = self.settings["timezone"]
        end = self.settings["endDate"]
        if end is not None and now >= instant(end, tz, day_end=True):
            raise invalid(f"endDate {end} has passed; PATCH a later endDate before starting")
        if not subscription_active:
            raise Refusal(
                402,
                "subscription_inactive",
                "the workspace subscription is not active",
            )
        begin = self.settings["startDate"]
        self.paused_reason = None
        if begin is not None and instant(begin, tz) > now:
            self.status = "scheduled"
        else:
            self.status = "running"
            self._go_live(now)

    def pause(self) -> None:
        if self.status not in ("running", "scheduled"):
            raise conflict(
                f"campaign is {self.status}; only running or scheduled campaigns can be paused"
            )
        self.status = "paused"
        self.paused_reason = "api"

    def check_editable(self) -> None:
        if self.status in ("running", "scheduled"):
            raise conflict(f"campaign is {self.status}; pause it before updating")
        if self.status == "completed":
            raise conflict("campaign is completed; it can no longer be updated")

    def tick(self, now: float) -> None:
        """Advance the clock-driven transitions and the sending simulation up to `now`."""
        tz = self.settings["timezone"]
        if self.status == "scheduled":
            begin = self.settings["startDate"]
            if begin is None or now >= instant(begin, tz):
                self.status = "running"
                self._go_live(instant(begin, tz) if begin else now)
        end = self.settings["endDate"]
        if self.status == "running":
            self._send(now if end is None else min(now, instant(end, tz, day_end=True)))
        if (
            self.status in ("running", "scheduled")
            and end is not None
            and now >= instant(end, tz, day_end=True)
        ):
            self.status = "completed"

    def activate(self, enr: Enrollment, now: float) -> None:
        """An enrollment became active: it goes live now when the campaign runs."""
        if self.status == "running" and enr.due_at is None:
            enr.due_at = now

    def record_send(self, enr: Enrollment, step: int, at: float) -> JSON:
        """One email sent to `enr` (step `step`): counted, and a line of GET /emails/sent."""
        self.sent += 1
        line = {
            "id": f"eml_{self.id}_{len(self.sent_log) + 1:05d}",
            "campaignId": self.id,
            "prospectId": enr.prospect_id,
            "prospectEmail": enr.email,
            "stepIndex": step,
            "subject": self.steps[min(step, len(self.steps) - 1)]["subject"],
            "mailboxId": self.mailbox_ids[0] if self.mailbox_ids else None,
            "sentAt": stamp(at),
        }
        self.sent_log.append(line)
        return line

    def _go_live(self, at: float) -> None:
        for enr in self.enrollments.values():
            if enr.status == "active" and enr.due_at is None:
                enr.due_at = at

    def _send(self, until: float) -> None:
        for enr in self.enrollments.values():
            while (
                enr.status == "active"
                and enr.due_at is not None
                and enr.next_step < len(self.steps)
                and enr.due_at <= until
            ):
                self.new_sends.append(self.record_send(enr, enr.next_step, enr.due_at))
                enr.next_step += 1
                if enr.next_step < len(self.steps):
                    enr.due_at += self.steps[enr.next_step]["delayDays"] * DAY


# --- bodies ----------------------------------------------------------------------------------


def read_steps(value: Any) -> list[JSON]:
    if not isinstance(value, list) or not value:
        raise invalid("steps is required: a list of at least one {subject, bodyHtml, stepIndex}")
    steps: list[JSON] = []
    for i, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise invalid(f"steps[{i}] must be an object with subject, bodyHtml and stepIndex")
        index = raw.get("stepIndex")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise invalid(f"steps[{i}].stepIndex must be an integer 0 or more")
        subject = raw.get("subject")
        if not isinstance(subject, str) or not subject.strip():
            raise invalid(f"steps[{i}].subject is required and must be a non-empty string")
        body = raw.get("bodyHtml")
        if not isinstance(body, str) or not body.strip():
            raise invalid(f"steps[{i}].bodyHtml is required and must be a non-empty string")
        delay = raw.get("delayDays")
        if delay is not None and (
            isinstance(delay, bool) or not isinstance(delay, int) or delay < 0
        ):
            raise invalid(f"steps[{i}].delayDays must be an integer 0 or more")
        steps.append({"stepIndex": index, "subject": subject, "bodyHtml": body, "delayDays": delay})
    steps.sort(key=lambda s: int(s["stepIndex"]))
    if [s["stepIndex"] for s in steps] != list(range(len(steps))):
        raise invalid(f"steps: stepIndex values must be 0..{len(steps) - 1}, each exactly once")
    for step in steps:
        if step["stepIndex"] == 0:
            step["delayDays"] = 0  # step 0 always sends immediately
        elif step["delayDays"] is None:
            step["delayDays"] = 1
    return steps


def read_settings(body: JSON, current: JSON) -> JSON:
    """The settings a create or PATCH body sets, checked, merged over `current`."""
    out = dict(current)
    if "dailySendLimit" in body:
        out["dailySendLimit"] = opt_positive_int(body, "dailySendLimit")
    if "scheduleDays" in body:
        out["scheduleDays"] = opt_days(body)
    for name in ("sendingWindowStart", "sendingWindowEnd"):
        if name in body:
            out[name] = opt_hhmm(body, name)
    for name in BOOLS:
        if name in body:
            value = opt_bool(body, name)
            out[name] = DEFAULTS[name] if value is None else value
    for name in ("startDate", "endDate"):
        if name in body:
            out[name] = opt_date(body, name)
    start, end = out["sendingWindowStart"], out["sendingWindowEnd"]
    if start is not None and end is not None and start >= end:
        raise invalid(f"sendingWindowStart {start} must be before sendingWindowEnd {end}")
    tz = out["timezone"]
    if out["startDate"] is not None and out["endDate"] is not None:
        if instant(out["endDate"], tz, day_end=True) <= instant(out["startDate"], tz):
            raise invalid(f"endDate {out['endDate']} is before startDate {out['startDate']}")
    return out


def new_campaign(campaign_id: str, body: JSON, created_at: str) -> Campaign:
    """Validate a POST /campaigns body (mailboxes and prospects are checked by the caller).
    sendingWindowStart/End are not create fields: they are ignored here and set with PATCH."""
    name = req_str(body, "name")
    steps = read_steps(body.get("steps"))
    channel = body.get("channel", "email")
    if channel is None:
        channel = "email"
    if channel not in CHANNELS:
        raise invalid(f"channel {channel!r} must be one of: {', '.join(CHANNELS)}")
    create_body = {k: v for k, v in body.items() if not k.startswith("sendingWindow")}
    settings = dict(DEFAULTS)
    settings["timezone"] = opt_timezone(body)
    settings = read_settings(create_body, settings)
    return Campaign(
        id=campaign_id,
        name=name,
        channel=channel,
        mailbox_ids=[],
        steps=steps,
        settings=settings,
        created_at=created_at,
    )


def apply_patch(campaign: Campaign, body: JSON) -> None:
    campaign.check_editable()
    for name in FIXED:
        if name in body:
            raise invalid(f"{name} cannot be changed after the campaign is created")
    if "timezone" in body and body["timezone"] != campaign.settings["timezone"]:
        raise invalid(
            "timezone cannot be changed after the campaign is created; the updatable fields "
            "are " + ", ".join(PATCHABLE)
        )
    name = req_str(body, "name") if "name" in body else campaign.name
    campaign.settings = read_settings(body, campaign.settings)
    campaign.name = name


def app_edit(campaign: Campaign, body: JSON, mailbox_ids: list[str] | None) -> None:
    """A change made in WarmySender's app (POST /_sandbox/campaigns): any setting, the name,
    timezone, channel and mailboxes, whatever the campaign's status (no lifecycle rule).
    `mailbox_ids` are the checked `mailboxIds` of the body, or None when it has none."""
    unknown = set(body) - {*PATCHABLE, "timezone", "channel", "mailboxIds", "id", "workspace"}
    if unknown:
        raise invalid(f"cannot change {', '.join(sorted(unknown))} here")
    settings = dict(campaign.settings)
    if "timezone" in body:
        settings["timezone"] = opt_timezone(body)
    if "channel" in body and body["channel"] not in CHANNELS:
        raise invalid(f"channel {body['channel']!r} must be one of: {', '.join(CHANNELS)}")
    campaign.settings = read_settings(body, settings)
    campaign.name = req_str(body, "name") if "name" in body else campaign.name
    campaign.channel = body.get("channel", campaign.channel)
    if mailbox_ids is not None:
        campaign.mailbox_ids = mailbox_ids


# The fields of an `email.sent` webhook's data, in the order the sandbox sends them.
SENT_EVENT = (
    "prospectId",
    "prospectEmail",
    "campaignId",
    "mailboxId",
    "stepIndex",
    "subject",
    "sentAt",
)


def sent_event(line: JSON) -> JSON:
    """The `email.sent` webhook data of a line of the sent log (`Campaign.record_send`)."""
    return {k: line[k] for k in SENT_EVENT}
