"""The executor's steps by kind: which function of which role turns an Action into intents, and
which performs an intent (`Steps` of executor.py)."""

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
)
