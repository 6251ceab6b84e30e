"""What happens after sending, made to happen: `POST /_sandbox/events` applies one event to a
workspace the way WarmySender would see it, and returns the event's type and webhook payload.

    {"type": "reply.received", "email": "nia@example.com", "campaign": "cmp_…"?}

Effects: the campaign's stats count it (`sent` and `sent_log` for email.sent; `opened`,
`clicked`, `replied`, `bounced`, `unsubscribed`); a reply stops the enrollment when the campaign
has stopOnReply (status `replied`), a bounce marks the prospect `bounced` and stops the
enrollment when the campaign has stopOnBounce (status `bounced`), an unsubscribe marks the
prospect `unsubscribed` and stops the enrollment (status `unsubscribed`); prospect.suppressed
marks the prospect `suppressed`. Without `campaign`, the prospect's one enrollment names it (a
prospect in several campaigns, or in none, needs `campaign`).
"""

from __future__ import annotations

from sheetsync.sandbox.campaigns import Campaign, Enrollment, sent_event
from sheetsync.sandbox.prospects import Prospect
from sheetsync.sandbox.validate import JSON, invalid, normal_email, not_found, stamp
from sheetsync.sandbox.webhooks import MADE
from sheetsync.sandbox.workspace import Workspace


def apply_event(ws: Workspace, body: JSON, now: float) -> tuple[str, JSON]:
    """Apply one control event to `ws`: (event type, webhook `data`)."""
    kind = body.get("type")
    if kind not in MADE:
        raise invalid(f"type must be one of: {', '.join(MADE)}")
    email = normal_email(body.get("email"))
    pid = ws.by_email.get(email)
    if pid is None:
        raise not_found("prospect with email", email)
    prospect = ws.prospects[pid]
    at = stamp(now)
    if kind == "prospect.suppressed":
        prospect.status = "suppressed"
        reason = body.get("reason") if isinstance(body.get("reason"), str) else "manual"
        return kind, {"prospectId": pid, "email": email, "reason": reason, "suppressedAt": at}
    campaign = _campaign(ws, prospect, body.get("campaign"))
    enr = campaign.enrollments[pid]
    step = _step(body, enr)
    data: JSON = {"prospectId": pid, "prospectEmail": email, "campaignId": campaign.id}
    mailbox = campaign.mailbox_ids[0] if campaign.mailbox_ids else None
    if kind == "email.sent":
        data = sent_event(campaign.record_send(enr, step, now))
    elif kind == "email.opened":
        campaign.counters["opened"] += 1
        data.update(mailboxId=mailbox, stepIndex=step, openedAt=at)
    elif kind == "email.clicked":
        campaign.counters["clicked"] += 1
        url = body.get("url") if isinstance(body.get("url"), str) else "https://example.com/"
        data.update(mailboxId=mailbox, stepIndex=step, url=url, clickedAt=at)
    elif kind == "reply.received":
        campaign.counters["replied"] += 1
        _stop(enr, "replied", campaign.settings["stopOnReply"])
        subject = campaign.steps[min(step, len(campaign.steps) - 1)]["subject"]
        data.update(
            sequenceId=campaign.id,
            mailboxId=mailbox,
            subject=f"Re: {subject}",
            messageId=f"<reply.{pid}.{campaign.id}@sandbox.warmysender>",
            receivedAt=at,
            channel="email",
        )
    elif kind == "email.bounced":
        campaign.counters["bounced"] += 1
        prospect.status = "bounced"
        _stop(enr, "bounced", campaign.settings["stopOnBounce"])
        bounce = body.get("bounceType") if body.get("bounceType") in ("hard", "soft") else "hard"
        data.update(
            bounceType=bounce,
            bounceReason="550 mailbox unavailable (sandbox)",
            mailboxId=mailbox,
            bouncedAt=at,
        )
    else:  # email.unsubscribed
        campaign.counters["unsubscribed"] += 1
        prospect.status = "unsubscribed"
        _stop(enr, "unsubscribed", True)
        data.update(unsubscribedAt=at)
    return str(kind), data


def _campaign(ws: Workspace, prospect: Prospect, ref: object) -> Campaign:
    if ref is not None:
        if not isinstance(ref, str) or not ref:
            raise invalid("campaign must be a campaign id")
        campaign = ws.campaign(ref)
        if prospect.id not in campaign.enrollments:
            raise invalid(f"{prospect.email} is not enrolled in campaign {ref!r}; enroll first")
        return campaign
    found = [c for c in ws.campaigns.values() if prospect.id in c.enrollments]
    if len(found) == 1:
        return found[0]
    if not found:
        raise invalid(f"{prospect.email} is not enrolled in any campaign; enroll them first")
    ids = ", ".join(c.id for c in found)
    raise invalid(f"{prospect.email} is enrolled in several campaigns ({ids}); pass campaign")


def _step(body: JSON, enr: Enrollment) -> int:
    """The step the event is about: `stepIndex` when given, else the last one sent (0)."""
    value = body.get("stepIndex")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return max(enr.next_step - 1, 0)


def _stop(enr: Enrollment, why: str, stop: bool) -> None:
    if stop and enr.status == "active":
        enr.status = why
