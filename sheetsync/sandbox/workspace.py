"""One workspace's data and the rules that tie prospects, mailboxes, lists and campaigns
together (mailbox checks, enroll and unenroll), its webhook endpoints, and the events that
happened in it and are not delivered yet (`events`). Not thread-safe: the Sandbox holds a lock."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sheetsync.sandbox.campaigns import (
    Campaign,
    Enrollment,
    app_edit,
    apply_patch,
    new_campaign,
    sent_event,
)
from sheetsync.sandbox.prospects import Prospect, apply_update, new_prospect
from sheetsync.sandbox.validate import (
    JSON,
    conflict,
    id_list,
    invalid,
    not_found,
    stamp,
)
from sheetsync.sandbox.webhooks import Endpoint, new_endpoint


class Workspace:
    def __init__(self, seed: JSON) -> None:
        self.id: str = seed["id"]
        self.subscription_active: bool = seed["subscriptionActive"]
        self.rate_limit: int = seed["rateLimitPerMinute"]
        self.keys: dict[str, JSON] = {k["key"]: k for k in seed["apiKeys"]}
        self.mailboxes: dict[str, JSON] = {m["id"]: dict(m) for m in seed["mailboxes"]}
        self.lists: dict[str, JSON] = {x["id"]: x for x in seed["lists"]}
        self.prospects: dict[str, Prospect] = {}
        self.by_email: dict[str, str] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.webhooks: dict[str, Endpoint] = {}
        self.events: list[tuple[str, JSON, float]] = []  # (type, data, when) to deliver
        self.requests = 0
        self.by_endpoint: Counter[str] = Counter()
        self._seq: Counter[str] = Counter()
        for item in seed["prospects"]:
            prospect = new_prospect(item.get("id") or self._next_id("prs"), item)
            prospect.status = item["status"]
            self._add_prospect(prospect)

    def _next_id(self, prefix: str) -> str:
        self._seq[prefix] += 1
        return f"{prefix}_{self.id}_{self._seq[prefix]:04d}"

    def _add_prospect(self, prospect: Prospect) -> None:
        self.prospects[prospect.id] = prospect
        self.by_email[prospect.email] = prospect.id

    # --- mailboxes and prospects -------------------------------------------------------------

    def list_mailboxes(self, email: str | None) -> list[JSON]:
        boxes = list(self.mailboxes.values())
        if email:
            boxes = [m for m in boxes if m["email"].lower() == email.strip().lower()]
        return [dict(m) for m in boxes]

    def create_prospect(self, body: JSON) -> tuple[int, JSON]:
        """201 with a new prospect, or 200 with the existing one (its fields untouched)."""
        candidate = new_prospect("new", body)
        existing = self.by_email.get(candidate.email)
        if existing is not None:
            return 200, self.prospects[existing].to_json()
        candidate.id = self._next_id("prs")
        self._add_prospect(candidate)
        return 201, candidate.to_json()

    def update_prospect(self, prospect_id: str, body: JSON) -> JSON:
        prospect = self.prospects.get(prospect_id)
        if prospect is None:
            raise not_found("prospect", prospect_id)
        apply_update(prospect, body)
        return prospect.to_json()

    def find_prospects(self, email: str | None) -> list[JSON]:
        if email is None:
            return [p.to_json() for p in self.prospects.values()]
        pid = self.by_email.get(email.strip().lower())
        return [self.prospects[pid].to_json()] if pid else []

    def set_prospect_status(self, email: str, status: str) -> JSON:
        pid = self.by_email.get(email.strip().lower())
        if pid is None:
            raise not_found("prospect with email", email)
        self.prospects[pid].status = status
        return self.prospects[pid].to_json()

    def set_mailbox(self, email: str, changes: JSON) -> JSON:
        """Connect/disconnect a mailbox or turn its sending on/off (POST /_sandbox/mailboxes)."""
        want = email.strip().lower()
        box = next((m for m in self.mailboxes.values() if m["email"].lower() == want), None)
        if box is None:
            raise not_found("mailbox with email", email)
        for field in ("connected", "sendingEnabled"):
            if field in changes:
                if not isinstance(changes[field], bool):
                    raise invalid(f"{field} must be true or false")
                box[field] = changes[field]
        return dict(box)

    # --- campaigns ---------------------------------------------------------------------------

    def campaign(self, campaign_id: str) -> Campaign:
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise not_found("campaign", campaign_id)
        return campaign

    def create_campaign(self, body: JSON, now: float) -> JSON:
        campaign = new_campaign("new", body, stamp(now))
        campaign.mailbox_ids = self._sending_mailboxes(body.get("mailboxIds"))
        prospect_ids = id_list(body, "prospectIds")
        for pid in prospect_ids:
            if pid not in self.prospects:
                raise invalid(f"prospectIds: prospect {pid!r} not found in this workspace")
        campaign.id = self._next_id("cmp")
        self.campaigns[campaign.id] = campaign
        for pid in dict.fromkeys(prospect_ids):
            self._enroll_one(campaign, self.prospects[pid], now)
        return campaign.to_json()

    def _sending_mailboxes(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not value:
            raise invalid("mailboxIds is required: a list of at least one connected mailbox id")
        ids: list[str] = []
        for mid in value:
            box = self.mailboxes.get(mid) if isinstance(mid, str) else None
            if box is None:
                raise invalid(f"mailboxIds: mailbox {mid!r} not found in this workspace")
            if not box["connected"]:
                raise invalid(
                    f"mailboxIds: mailbox {box['email']} is not connected; reconnect it in "
                    "WarmySender or choose another"
                )
            if not box["sendingEnabled"]:
                raise invalid(
                    f"mailboxIds: mailbox {box['email']} has sending disabled; enable sending "
                    "in WarmySender or choose another"
                )
            if mid not in ids:
                ids.append(mid)
        return ids

    def update_campaign(self, campaign_id: str, body: JSON) -> JSON:
        campaign = self.campaign(campaign_id)
        apply_patch(campaign, body)
        return campaign.to_json()

    def edit_campaign(self, campaign_id: str, body: JSON) -> JSON:
        """POST /_sandbox/campaigns: change a campaign as WarmySender's app would."""
        campaign = self.campaign(campaign_id)
        boxes = self._sending_mailboxes(body["mailboxIds"]) if "mailboxIds" in body else None
        app_edit(campaign, body, boxes)
        return campaign.to_json()

    def start_campaign(self, campaign_id: str, now: float) -> JSON:
        campaign = self.campaign(campaign_id)
        campaign.start(now, self.subscription_active)
        return campaign.to_json()

    def pause_campaign(self, campaign_id: str) -> JSON:
        campaign = self.campaign(campaign_id)
        campaign.pause()
        return campaign.to_json()

    def tick(self, now: float) -> None:
        for campaign in self.campaigns.values():
            campaign.tick(now)
            for line in campaign.new_sends:
                self.events.append(("email.sent", sent_event(line), now))
            campaign.new_sends.clear()

    def sent_emails(self, campaign_id: str | None) -> list[JSON]:
        """GET /emails/sent?campaignId=: the emails a campaign sent, oldest first."""
        if not campaign_id:
            raise invalid("campaignId is required: the campaign whose sent emails to list")
        return [dict(line) for line in self.campaign(campaign_id).sent_log]

    # --- webhooks ----------------------------------------------------------------------------

    def create_webhook(self, body: JSON, now: float) -> JSON:
        endpoint = new_endpoint(self._next_id("whk"), body, now)
        self.webhooks[endpoint.id] = endpoint
        return endpoint.to_json(with_secret=True)

    def list_webhooks(self) -> list[JSON]:
        return [e.to_json() for e in self.webhooks.values()]

    def delete_webhook(self, webhook_id: str) -> JSON:
        endpoint = self.webhooks.pop(webhook_id, None)
        if endpoint is None:
            raise not_found("webhook", webhook_id)
        endpoint.active = False  # deliveries still queued for it are not attempted
        return {"id": webhook_id, "deleted": True}

    # --- enrollments -------------------------------------------------------------------------

    def enroll(self, campaign_id: str, body: JSON, now: float) -> JSON:
        campaign = self.campaign(campaign_id)
        ids, list_ids, emails = (id_list(body, n) for n in ("prospectIds", "listIds", "emails"))
        if not (ids or list_ids or emails):
            raise invalid("pass at least one non-empty list: prospectIds, listIds or emails")
        if campaign.status == "completed":
            raise conflict("campaign is completed; prospects can no longer be enrolled")
        targets, missing = self._resolve(ids, emails)
        for lid in list_ids:
            if lid in self.lists:
                targets.extend(self.prospects[self.by_email[e]] for e in self.lists[lid]["emails"])
            else:
                missing.append((None, None, lid))
        counts = Counter[str]()
        results: list[JSON] = []
        for prospect in dict.fromkeys(targets):
            outcome = self._enroll_one(campaign, prospect, now)
            counts[outcome] += 1
            results.append({"prospectId": prospect.id, "email": prospect.email, "status": outcome})
        for pid, email, _ in missing:
            if pid is not None or email is not None:
                results.append({"prospectId": pid, "email": email, "status": "not_found"})
        return {
            "enrolled": counts["enrolled"],
            "suppressed": counts["suppressed"],
            "alreadyEnrolled": counts["already_enrolled"],
            "notFound": [raw for _, _, raw in missing],
            "results": results,
        }

    def _resolve(
        self, ids: list[str], emails: list[str]
    ) -> tuple[list[Prospect], list[tuple[str | None, str | None, str]]]:
        """Prospects for ids and emails, and the (prospectId, email, as sent) of the unknown."""
        found: list[Prospect] = []
        missing: list[tuple[str | None, str | None, str]] = []
        for pid in ids:
            if pid in self.prospects:
                found.append(self.prospects[pid])
            else:
                missing.append((pid, None, pid))
        for raw in emails:
            email = raw.strip().lower()
            if email in self.by_email:
                found.append(self.prospects[self.by_email[email]])
            else:
                missing.append((None, email, raw))
        return found, missing

    def _enroll_one(self, campaign: Campaign, prospect: Prospect, now: float) -> str:
        enr = campaign.enrollments.get(prospect.id)
        if enr is not None and enr.status != "unenrolled":
            return "already_enrolled"  # a stopped enrollment (replied, …) is not restarted
        status = "active" if prospect.contactable else "suppressed"
        if enr is None:
            enr = Enrollment(prospect.id, prospect.email, status)
            campaign.enrollments[prospect.id] = enr
        enr.status = status
        if status == "active":
            campaign.activate(enr, now)
            return "enrolled"
        return "suppressed"

    def unenroll(self, campaign_id: str, body: JSON) -> JSON:
        campaign = self.campaign(campaign_id)
        ids, emails = id_list(body, "prospectIds"), id_list(body, "emails")
        if not (ids or emails):
            raise invalid("pass at least one non-empty list: prospectIds or emails")
        targets, missing = self._resolve(ids, emails)
        unique = list(dict.fromkeys(targets))
        unenrolled = 0
        for prospect in unique:
            enr = campaign.enrollments.get(prospect.id)
            if enr is not None and enr.status != "unenrolled":
                enr.status = "unenrolled"
                unenrolled += 1
        processed = len(unique) + len({raw for _, _, raw in missing})
        return {"unenrolledCount": unenrolled, "totalProcessed": processed}

    # --- the state view ----------------------------------------------------------------------

    def state(self) -> JSON:
        return {
            "id": self.id,
            "subscriptionActive": self.subscription_active,
            "mailboxes": [dict(m) for m in self.mailboxes.values()],
            "prospects": [p.to_json() for p in self.prospects.values()],
            "lists": [dict(x) for x in self.lists.values()],
            "campaigns": [
                {**c.to_json(), "enrollments": [e.to_json() for e in c.enrollments.values()]}
                for c in self.campaigns.values()
            ],
            "webhooks": self.list_webhooks(),
            "requests": self.requests,
            "requestsByEndpoint": dict(sorted(self.by_endpoint.items())),
        }
