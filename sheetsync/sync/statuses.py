"""Every status word sheetsync writes into a status cell, and the campaign row's Last Change text.

A status is one word, then detail (PRODUCT.md): `synced`, `exists`, `enrolled`, `suppressed`,
`unenrolled`, `waiting: …`, `held: …`, `error: …`. The planner, the executor and the write-back
take their texts from here, so one wording is used everywhere and a test can name it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sheetsync.rows import prospects
from sheetsync.sheet.layout import CAMPAIGNS, PROSPECTS, STEPS

SYNCED = "synced"
EXISTS = "exists"
ENROLLED = "enrolled"
SUPPRESSED = "suppressed"
UNENROLLED = "unenrolled"
STOPPED = "unenrolled: stopped on the Prospects tab"

# The words of the Enrollments Outcome column, with the order an Outcome moves in (sync/
# outcomes.py): the last three end the outreach and rank alike, so the first of them stays.
OUTCOMES = {
    "sent": 1,
    "opened": 2,
    "clicked": 3,
    "replied": 4,
    "bounced": 5,
    "unsubscribed": 5,
    "suppressed": 5,
}
NOT_ENROLLED = "not enrolled"  # Enrolled unticked, and never enrolled: nothing to do

SETTLING = "waiting: settling (changed since the last poll)"
DEFERRED = "waiting: rate budget spent; continues next poll"
PAUSE_FIRST = "waiting: pause the campaign to change its settings"
PROSPECT_NOT_CREATED = "waiting: the prospect is not created yet"
PROSPECT_SYNC_OFF = "waiting: the prospect's Sync box is not ticked in the Prospects tab"
STEPS_LOCKED = (
    "error: the API cannot change the steps of a campaign that exists; change them in "
    "WarmySender, or put the old steps back"
)
NO_DRAFT_AGAIN = "error: a started campaign cannot go back to Draft; set State to Paused"
NO_PAUSE_DRAFT = (
    "error: a draft campaign cannot be paused (it never ran); set State to Draft, or to Running "
    "to start it"
)
LIST_UNENROLL = "error: the API cannot unenroll a list; unenroll its prospects one by one"
NO_PROSPECT_ROUTE = (
    "error: not sent: WarmySender has no route to update a prospect (HTTP {status}); change it "
    "in WarmySender by hand, or put the old value back"
)
LOCKED_PREFIX = "error: the API cannot change "
NOT_TAKEN_PREFIX = "error: WarmySender did not take the change"


OPEN_AND_SAVE = "open the workbook in Excel or LibreOffice and save it"


def uncomputed(labels: Sequence[str], tab: str | None = None, row: int = 0) -> str:
    """A row whose input cells (or those of `row` of `tab`, a campaign's step row) hold
    formulas the file has no result for: it is not acted on."""
    what = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    verb = "is a formula" if len(labels) == 1 else "are formulas"
    where = f"{tab} row {row}: " if tab else ""
    return f"waiting: {where}{what} {verb} with no computed value; {OPEN_AND_SAVE}"


def uncomputed_in_tab(tab: str) -> str:
    """A row that depends on a row whose key cell is a formula with no computed value."""
    return f"waiting: a formula in the {tab} tab has no computed value; {OPEN_AND_SAVE}"


def left_out(status: str, notes: tuple[str, ...]) -> str:
    """A synced prospect's status with the optional fields left out of it and why, e.g.
    `synced: left out: Phone 'n/a x' is not a phone number; …`. Other statuses as they are."""
    if not notes or status not in (SYNCED, EXISTS):
        return status
    return f"{status}: left out: " + " | ".join(notes)


def needs_linkedin(channel: str, row: int) -> str:
    return (
        f"waiting: a {channel} campaign needs the prospect's LinkedIn profile URL; fill it in on "
        f"row {row} of the Prospects tab"
    )


def is_error(status: str) -> bool:
    return status.startswith("error:")


def error(message: str) -> str:
    return f"error: {message}"


def waiting(message: str) -> str:
    return f"waiting: {message}"


def waiting_to_create(missing: str) -> str:
    return f"waiting: add {missing}"


def campaign_not_created(name: str) -> str:
    return f"waiting: campaign {name!r} is not created yet"


def prospect_row_error(row: int) -> str:
    return f"waiting: the prospect's row {row} in the Prospects tab has an error; fix it"


def no_campaign(ref: str) -> str:
    return f"no campaign {ref!r}: use a name from the Campaigns tab or a WarmySender campaign id"


def no_step_campaign(name: str) -> str:
    return f"error: no campaign {name!r} in the Campaigns tab; add it there or fix the name"


def held(n: int, enrolled: int, name: str, box: str | None) -> str:
    """The safety brake held `n` unenrolls. `box` is the Confirm header when the campaign is a
    row of the sheet (the box releases them), None for a campaign given by its id."""
    how = "run `sheetsync sync --confirm-unenroll`"
    if box:
        how = f"tick the campaign's {box} box (or {how})"
    return (
        f"held: {n} of {enrolled} enrolled would be unenrolled from {name!r}; check the "
        f"sheet, then {how} to release"
    )


def nothing_held(status: str, box: str) -> str:
    """The campaign row's status for one poll after its Confirm box was ticked with nothing
    held: the box was cleared and nothing else done."""
    note = f"nothing was held to release; {box} cleared"
    return f"{status} ({note})" if ":" in status else f"{status}: {note}"


def no_mailbox(ref: str) -> str:
    return (
        f"error: no mailbox {ref!r} in WarmySender; use a mailbox id or address from "
        f"WarmySender > Mailboxes"
    )


def mailbox_disconnected(email: str) -> str:
    return f"error: mailbox {email} is disconnected: reconnect it in WarmySender"


def sending_disabled(email: str) -> str:
    return f"error: mailbox {email} has sending disabled: turn sending on in WarmySender"


def not_a_prospect(who: str) -> str:
    return f"error: {who} is not a WarmySender prospect: add it to the Prospects tab"


def not_enrolled(outcome: str) -> str:
    return f"error: WarmySender did not enroll it ({outcome})"


def replay_refused(message: str) -> str:
    return (
        f"waiting: WarmySender refused to repeat an earlier request ({message}); sheetsync "
        f"tries again next poll"
    )


# --- the campaign row's Last Change ---------------------------------------------------------


def enrolled_change(enrolled: int, suppressed: int) -> str:
    return f"+{enrolled} enrolled, {suppressed} suppressed"


CONFIRMED = {"sheet": "confirmed in the sheet", "command": "confirmed by sync --confirm-unenroll"}


def unenrolled_change(unenrolled: int, processed: int, confirmed: str | None = None) -> str:
    """`confirmed`: how held unenrolls were released (a key of CONFIRMED), None if not held."""
    text = f"\u2212{unenrolled} unenrolled ({unenrolled} of {processed} processed)"
    return f"{text}, {CONFIRMED.get(confirmed, 'confirmed')}" if confirmed else text


# --- what differs between a row and WarmySender ------------------------------------------------

# API field -> the sheet column it comes from (default headers), for statuses in sheet terms
COLUMNS: dict[str, str] = {
    **{
        api: CAMPAIGNS.column(f).header
        for api, f in (
            ("name", "name"),
            ("channel", "channel"),
            ("mailboxIds", "mailboxes"),
            ("dailySendLimit", "daily_send_limit"),
            ("timezone", "timezone"),
            ("scheduleDays", "schedule_days"),
            ("sendingWindowStart", "window_start"),
            ("sendingWindowEnd", "window_end"),
            ("trackOpens", "track_opens"),
            ("trackClicks", "track_clicks"),
            ("stopOnReply", "stop_on_reply"),
            ("stopOnBounce", "stop_on_bounce"),
            ("startDate", "start_date"),
            ("endDate", "end_date"),
        )
    },
    **{api: PROSPECTS.column(f).header for f, api in (("email", "email"), *prospects.FIELDS)},
    "customFields": "custom field columns",
}
STEP_COLUMNS = {
    api: STEPS.column(f).header
    for api, f in (("subject", "subject"), ("bodyHtml", "body"), ("delayDays", "delay_days"))
}
_STEP_PATH = re.compile(r"\bsteps\[(\d+)\](?:\.(\w+))?")
_CAMEL = re.compile(r"\b(" + "|".join(k for k in COLUMNS if k != k.lower()) + r")\b")
_PLAIN = re.compile(r"(^|[;:] )(" + "|".join(k for k in COLUMNS if k == k.lower()) + r")\b")


def in_sheet_terms(text: str) -> str:
    """An API message with its field paths as the sheet names them: `steps[0].subject` is
    "Step 1 Subject", `dailySendLimit` is "Daily Send Limit" (Step 1 is stepIndex 0)."""

    def step(m: re.Match[str]) -> str:
        n = int(m.group(1)) + 1
        field = m.group(2)
        if field is None or field == "stepIndex":
            return f"Step {n}"
        return f"Step {n} {STEP_COLUMNS.get(field, field)}"

    text = _STEP_PATH.sub(step, text)
    text = _CAMEL.sub(lambda m: COLUMNS[m.group(1)], text)
    return _PLAIN.sub(lambda m: m.group(1) + COLUMNS[m.group(2)], text)


def shown(value: Any) -> str:
    """A value as the sheet would show it, for a status."""
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={shown(v)}" for k, v in value.items())
    return str(value)


# (API field, the sheet's value, WarmySender's value)
Difference = tuple[str, Any, Any]


def differences(diffs: Sequence[Difference]) -> str:
    """`Daily Send Limit: 80 in the sheet, 50 in WarmySender; …`"""
    return "; ".join(
        f"{COLUMNS.get(f, f)}: {shown(mine)} in the sheet, {shown(theirs)} in WarmySender"
        for f, mine, theirs in diffs
    )


def pause_first(diffs: Sequence[Difference]) -> str:
    return f"{PAUSE_FIRST} ({differences(diffs)})" if diffs else PAUSE_FIRST


def locked(diffs: Sequence[Difference]) -> str:
    """A create-only field (Mailboxes, Channel, Timezone) differs from WarmySender's."""
    names = [COLUMNS.get(f, f) for f, _, _ in diffs]
    cols = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return (
        f"{LOCKED_PREFIX}{cols} of a campaign that exists ({differences(diffs)}); put "
        f"WarmySender's value back, change it in WarmySender, or add a campaign row with a new "
        f"name"
    )


def not_taken(diffs: Sequence[Difference]) -> str:
    """A PATCH WarmySender answered but did not apply: its answer holds its own value."""
    return (
        f"{NOT_TAKEN_PREFIX} ({differences(diffs)}); change it in WarmySender, or put its value "
        f"in the sheet"
    )


def is_drift(status: str) -> bool:
    """A status saying what differs from WarmySender: replaced when a read finds it settled."""
    return status == SYNCED or status.startswith((PAUSE_FIRST, LOCKED_PREFIX, NOT_TAKEN_PREFIX))


_EXISTS_DIFFERS = "waiting: WarmySender already had this email with other values"


def exists_differs(diffs: Sequence[Difference]) -> str:
    return f"{_EXISTS_DIFFERS} ({differences(diffs)}); the sheet's values are sent next"


def is_exists(status: str) -> bool:
    """The row was linked to a prospect WarmySender already had (and still says so)."""
    return status == EXISTS or status.startswith(_EXISTS_DIFFERS)


def missing_scope(scope: str) -> str:
    return (
        f"error: the WarmySender API key lacks the {scope} scope: create a key with {scope} "
        f"in WarmySender (Settings > API Keys) and use it instead; this row is tried again "
        f"every poll"
    )


def campaign_gone(ident: str) -> str:
    return (
        f"error: WarmySender has no campaign {ident} any more (deleted there?); edit this row "
        f"to create it again"
    )
