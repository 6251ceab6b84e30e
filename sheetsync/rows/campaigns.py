"""The Campaigns and Steps tabs → CampaignRecords with their validated StepRecords.

Campaigns: the key is the trimmed, casefolded name; the first row with a name wins, later ones
get `duplicate of row N`. `settings` holds the PATCH-able API fields whose cells are filled in
(an unticked checkbox is FALSE, a filled-in value; a blank cell is left out); `fixed` the
create-only ones (Channel, Timezone) whose cells are filled in. The Confirm box
is read into `confirm` and left out of the row's hash: ticking it, or sheetsync clearing it, is
not an edit of the campaign (so it never settles nor counts as a change). `remote_id` is the
Campaign ID cell as read: a status column, never input, used only to recognise a renamed row.

Steps belong to a campaign of the Campaigns tab (matched case-insensitively). Per campaign
they must be numbered 1..n without gaps (a gap puts the same error on the campaign row and on
each of its step rows) and without repeats (the later row gets the error). A campaign whose
steps are not all valid gets a RowIssue carrying its key instead of a CampaignRecord, and so do
its valid step rows (with the same message, or "campaign on row N … has an error" when the
campaign row itself is wrong): every step row ends up either in a CampaignRecord's steps (and in
`SheetRows.steps`) or with an issue.

Every step needs a Subject and a Body, whatever the campaign's channel: the vendor guide's
POST /campaigns takes `steps` of `subject`, `bodyHtml` and `stepIndex` for email, linkedin and
multichannel campaigns alike (and the sandbox refuses a step without them), so a row says so
before anything is sent. A Body without HTML tags is plain text (`body_html`): escaped, blank
lines make paragraphs, single line breaks `<br>`, merge tags like `{{firstName}}` kept. A Body
with HTML tags is sent as written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sheetsync.rows import schedule
from sheetsync.rows.cells import LIMIT_BODY, LIMIT_NAME, Problem, digest
from sheetsync.rows.reader import Line, Tab
from sheetsync.rows.records import CampaignRecord, CampaignState, RowIssue, StepRecord

MAX_STEPS = 100  # keeps a typo like 1000 from reading as 999 missing steps
MAX_DELAY_DAYS = 365
# A Body holds HTML when it has a tag of the elements people write emails with (or a comment);
# `<3`, `a < b` and `<name@acme.com>` are text.
_HTML_TAG_RE = re.compile(
    r"<!--|</?(p|br|div|span|a|b|i|u|s|em|strong|small|big|sub|sup|font|center|ul|ol|li|dl|dt|"
    r"dd|h[1-6]|hr|img|table|thead|tbody|tfoot|tr|td|th|blockquote|pre|code|html|head|body|"
    r"style|meta|title|section|article|header|footer)(\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_PARAGRAPHS_RE = re.compile(r"\n[ \t\u00a0]*\n\s*")
BOOLS = (
    ("track_opens", "trackOpens"),
    ("track_clicks", "trackClicks"),
    ("stop_on_reply", "stopOnReply"),
    ("stop_on_bounce", "stopOnBounce"),
)


@dataclass(frozen=True)
class _Campaign:
    """A campaign row whose own cells are valid; steps are attached later."""

    row: int
    key: str
    name: str
    settings: dict[str, Any]
    mailboxes: tuple[str, ...]
    channel: str
    state: CampaignState | None
    confirm: bool
    fixed: dict[str, Any]
    remote_id: str | None


def parse_campaigns(
    campaigns: Tab, steps: Tab
) -> tuple[list[CampaignRecord], list[StepRecord], list[RowIssue]]:
    drafts, issues, channels = _campaign_rows(campaigns)
    step_records, step_issues, problems = _step_rows(steps, channels, campaigns.title)
    for issue in issues:  # a campaign row with its own error: its steps wait for it
        if issue.key and issue.key not in problems and not issue.message.startswith("duplicate"):
            problems[issue.key] = (
                f"campaign on row {issue.row} of the {campaigns.title} tab has an error; fix it "
                f"there"
            )
    by_campaign: dict[str, list[StepRecord]] = {}
    for s in step_records:
        by_campaign.setdefault(s.campaign_key, []).append(s)
    records = []
    for c in drafts:
        if c.key in problems:
            issues.append(RowIssue(campaigns.role, c.row, problems[c.key], c.key))
            continue
        own = sorted(by_campaign.get(c.key, []), key=lambda s: s.number)
        records.append(_record(c, tuple(own)))
    # Valid steps of a campaign that cannot be synced say why, so every step row has a status.
    kept = [s for s in step_records if s.campaign_key not in problems]
    step_issues += [
        RowIssue(steps.role, s.row, problems[s.campaign_key], s.campaign_key)
        for s in step_records
        if s.campaign_key in problems
    ]
    issues.sort(key=lambda i: i.row)
    step_issues.sort(key=lambda i: i.row)
    return records, kept, issues + step_issues


def steps_digest(steps: Iterable[tuple[int, int, str, str]]) -> str:
    """The hash of (number, delay days, subject, body) per step: of a row's steps (the body as
    typed for `steps_hash`, as sent for `steps_sent`), and of the steps WarmySender holds
    (stepIndex + 1, bodyHtml), which compares with `steps_sent`."""
    return digest([list(s) for s in steps])


def _record(c: _Campaign, steps: tuple[StepRecord, ...]) -> CampaignRecord:
    settings_hash = digest(
        {"settings": c.settings, "mailboxes": c.mailboxes, "channel": c.channel, "fixed": c.fixed}
    )
    steps_hash = steps_digest((s.number, s.delay_days, s.subject, s.body) for s in steps)
    return CampaignRecord(
        row=c.row,
        key=c.key,
        name=c.name,
        settings=c.settings,
        mailboxes=c.mailboxes,
        channel=c.channel,
        state=c.state,
        steps=steps,
        settings_hash=settings_hash,
        steps_hash=steps_hash,
        hash=digest([settings_hash, steps_hash, c.state]),
        confirm=c.confirm,
        fixed=c.fixed,
        remote_id=c.remote_id,
        steps_sent=steps_digest((s.number, s.delay_days, s.subject, s.body_html) for s in steps),
    )


def _campaign_rows(tab: Tab) -> tuple[list[_Campaign], list[RowIssue], dict[str, str]]:
    drafts: list[_Campaign] = []
    issues: list[RowIssue] = []
    first: dict[str, int] = {}
    channels: dict[str, str] = {}  # every named campaign -> its channel ("email" if unreadable)
    for line in tab.lines:
        key: str | None = None
        try:
            name = line.required("name", LIMIT_NAME)
            key = name.casefold()
            if key in first:
                raise Problem(f"duplicate of row {first[key]}")
            first[key] = line.row
            channels[key] = "email"
            channels[key] = schedule.channel(line.raw("channel"), line.label("channel"))
            drafts.append(_campaign(line, key, name, channels[key]))
        except Problem as p:
            issues.append(RowIssue(tab.role, line.row, p.message, key))
    return drafts, issues, channels


def _campaign(line: Line, key: str, name: str, channel: str) -> _Campaign:
    settings: dict[str, Any] = {"name": name}
    mailboxes = line.items("mailboxes")
    limit = line.whole("daily_send_limit")
    if limit is not None:
        if limit < 1:
            label = line.label("daily_send_limit")
            raise Problem(f"{label} is {limit}; use a whole number of 1 or more")
        settings["dailySendLimit"] = limit
    fixed: dict[str, Any] = {}
    if not line.empty("channel"):
        fixed["channel"] = channel
    if tz := schedule.timezone(line.raw("timezone"), line.label("timezone")):
        fixed["timezone"] = tz
    if days := schedule.schedule_days(line.raw("schedule_days"), line.label("schedule_days")):
        settings["scheduleDays"] = days
    start = schedule.clock_time(line.raw("window_start"), line.label("window_start"))
    end = schedule.clock_time(line.raw("window_end"), line.label("window_end"))
    if start and end and start >= end:
        raise Problem(
            f"{line.label('window_start')} {start} is not before {line.label('window_end')} "
            f"{end}; the sending window must start before it ends"
        )
    if start:
        settings["sendingWindowStart"] = start
    if end:
        settings["sendingWindowEnd"] = end
    for field, api in BOOLS:
        flag = line.flag(field)
        if flag is not None:
            settings[api] = flag
    first_day, last_day = line.day("start_date"), line.day("end_date")
    if first_day and last_day and last_day < first_day:
        raise Problem(
            f"{line.label('end_date')} {last_day} is before {line.label('start_date')} "
            f"{first_day}; fix one of them"
        )
    if first_day:
        settings["startDate"] = first_day.isoformat()
    if last_day:
        settings["endDate"] = last_day.isoformat()
    state = schedule.state(line.raw("state"), line.label("state"))
    confirm = bool(line.flag("confirm"))
    return _Campaign(
        line.row, key, name, settings, mailboxes, channel, state, confirm, fixed, _campaign_id(line)
    )


def _campaign_id(line: Line) -> str | None:
    """The Campaign ID cell (sheetsync writes it; whatever a person typed there is only a
    hint for recognising a renamed row)."""
    try:
        return line.text("campaign_id") or None
    except Problem:
        return None


def _step_rows(
    tab: Tab, channels: dict[str, str], campaigns_title: str
) -> tuple[list[StepRecord], list[RowIssue], dict[str, str]]:
    """Valid steps, step issues, and campaign key -> the problem to show on its row."""
    issues: dict[int, RowIssue] = {}  # row -> issue
    valid: dict[int, StepRecord] = {}
    numbered: dict[str, list[tuple[int, int]]] = {}  # campaign key -> (number, row) in sheet order
    rows_of: dict[str, list[int]] = {}
    for line in tab.lines:
        key: str | None = None
        try:
            ref = line.required("campaign", LIMIT_NAME)
            if ref.casefold() not in channels:
                raise Problem(f"no campaign {ref!r} in the {campaigns_title} tab")
            key = ref.casefold()
            rows_of.setdefault(key, []).append(line.row)
            number = _number(line)
            numbered.setdefault(key, []).append((number, line.row))
            valid[line.row] = _step(line, key, number, channels[key])
        except Problem as p:
            issues[line.row] = RowIssue(tab.role, line.row, p.message, key)

    problems: dict[str, str] = {}
    for key, rows in rows_of.items():
        taken: dict[int, int] = {}  # number -> first row
        repeats: list[str] = []
        for number, row in numbered.get(key, []):
            if number not in taken:
                taken[number] = row
                continue
            repeats.append(f"step {number} is on rows {taken[number]} and {row}")
            if row not in issues:
                del valid[row]
                issues[row] = RowIssue(
                    tab.role,
                    row,
                    f"step {number} is already on row {taken[number]}; renumber this step or "
                    f"delete one of them",
                    key,
                )
        missing = [n for n in range(1, max(taken, default=0) + 1) if n not in taken]
        bad = [row for row in rows if row in issues]
        if missing:
            which = f"step {missing[0]} is" if len(missing) == 1 else f"steps {_list(missing)} are"
            problems[key] = f"steps must be numbered 1..n without gaps; {which} missing"
            for row in rows:
                if row not in issues:
                    del valid[row]
                    issues[row] = RowIssue(tab.role, row, problems[key], key)
        elif repeats:
            problems[key] = f"{repeats[0]} of the {tab.title} tab; renumber or delete one"
        elif bad:
            where = (
                f"the step on row {bad[0]}" if len(bad) == 1 else f"the steps on rows {_list(bad)}"
            )
            problems[key] = f"{where} of the {tab.title} tab has an error; fix it there"
            if len(bad) > 1:
                problems[key] = problems[key].replace(
                    "has an error; fix it", "have errors; fix them"
                )
    ordered = [issues[r] for r in sorted(issues)]
    return [valid[r] for r in sorted(valid)], ordered, problems


def _number(line: Line) -> int:
    label = line.label("step")
    number = line.whole("step")
    if number is None:
        raise Problem(f"{label} is empty; number the steps of each campaign 1, 2, 3, …")
    if number < 1:
        raise Problem(f"{label} is {number}; steps are numbered from 1")
    if number > MAX_STEPS:
        raise Problem(f"{label} is {number}; a campaign has at most {MAX_STEPS} steps")
    return number


def _step(line: Line, key: str, number: int, channel: str) -> StepRecord:
    delay = line.whole("delay_days")
    label = line.label("delay_days")
    if delay is not None and delay < 0:
        raise Problem(f"{label} is {delay}; use 0 or more days")
    if delay is not None and delay > MAX_DELAY_DAYS:
        raise Problem(f"{label} is {delay}; use at most {MAX_DELAY_DAYS} days")
    if number == 1 and delay:
        raise Problem(f"Step 1 always sends at once; set its {label} to 0 or leave it blank")
    subject = line.text("subject", LIMIT_NAME)
    if not subject:
        raise Problem(
            f"{line.label('subject')} is empty; every email step needs a subject"
            if channel == "email"
            else f"{line.label('subject')} is empty; WarmySender needs a subject on every step, "
            f"also in {channel} campaigns"
        )
    body = line.text("body", LIMIT_BODY)
    if not body:
        raise Problem(f"{line.label('body')} is empty; write the step's message")
    default = 0 if number == 1 else 1
    delay_days = default if delay is None else delay
    return StepRecord(line.row, key, number, delay_days, subject, body_html(body), body)


def body_html(text: str) -> str:
    """A Body cell as the step's bodyHtml: HTML as written; plain text escaped (`<` `>` `&`),
    its blank lines as paragraphs and single line breaks as `<br>` (Windows and old Mac line
    ends alike); merge tags (`{{firstName}}`) are kept."""
    if _HTML_TAG_RE.search(text):
        return text
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = (p.strip("\n") for p in _PARAGRAPHS_RE.split(text))
    return "".join(
        "<p>" + "<br>".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
        if p
    )


def _list(items: list[int]) -> str:
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
