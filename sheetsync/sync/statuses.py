"""Every status word sheetsync writes into a status cell, and the campaign row's Last Change text.

A status is one word, then detail (PRODUCT.md): `synced`, `exists`, `enrolled`, `suppressed`,
`unenrolled`, `waiting: …`, `held: …`, `error: …`. The planner, the executor and the write-back
take their texts from here, so one wording is used everywhere and a test can name it.
"""

from __future__ import annotations

from collections.abc import Sequence

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
LIST_UNENROLL = "error: the API cannot unenroll a list; unenroll its prospects one by one"
NO_PROSPECT_ROUTE = (
    "synced: change not sent: WarmySender has no route to update a prospect (HTTP {status}); "
    "change it in WarmySender"
)


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


def internal(message: str) -> str:
    return f"error: internal error, please report it: {message}"


# --- the campaign row's Last Change ---------------------------------------------------------


def enrolled_change(enrolled: int, suppressed: int) -> str:
    return f"+{enrolled} enrolled, {suppressed} suppressed"


CONFIRMED = {"sheet": "confirmed in the sheet", "command": "confirmed by sync --confirm-unenroll"}


def unenrolled_change(unenrolled: int, processed: int, confirmed: str | None = None) -> str:
    """`confirmed`: how held unenrolls were released (a key of CONFIRMED), None if not held."""
    text = f"\u2212{unenrolled} unenrolled ({unenrolled} of {processed} processed)"
    return f"{text}, {CONFIRMED.get(confirmed, 'confirmed')}" if confirmed else text
