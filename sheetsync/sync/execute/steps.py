"""The executor's steps by kind: which function of which role turns an Action into intents, builds
an intent's request, performs it, and reads its object back after a 409 for a reused key
(`Steps` of executor.py)."""

from __future__ import annotations

from sheetsync.sync.execute import campaigns, enrollments, prospects
from sheetsync.sync.execute.executor import Steps

STEPS = Steps(
    acts={
        "create_prospect": prospects.act_create,
        "update_prospect": prospects.act_update,
        "create_campaign": campaigns.act_create,
        "update_campaign": campaigns.act_update,
        "start": campaigns.act_start,
        "pause": campaigns.act_pause,
        "monitor": campaigns.act_monitor,
        "reconcile": campaigns.act_monitor,
        "enroll": enrollments.act_enroll,
        "unenroll": enrollments.act_unenroll,
    },
    requests={
        "create_prospect": prospects.request_create,
        "update_prospect": prospects.request_update,
        "create_campaign": campaigns.request_create,
        "update_campaign": campaigns.request_update,
        "start": campaigns.request_start,
        "pause": campaigns.request_pause,
        "enroll": enrollments.request_enroll,
        "unenroll": enrollments.request_unenroll,
    },
    dos={
        "create_prospect": prospects.do_create,
        "update_prospect": prospects.do_update,
        "create_campaign": campaigns.do_create,
        "update_campaign": campaigns.do_update,
        "start": campaigns.do_start,
        "pause": campaigns.do_pause,
        "enroll": enrollments.do_enroll,
        "unenroll": enrollments.do_unenroll,
    },
    heals={
        "create_prospect": prospects.heal_create,
        "create_campaign": campaigns.heal_create,
        "start": campaigns.read_back,
        "pause": campaigns.read_back,
    },
)
