"""`sheetsync check`: everything a sync needs, one check at a time, each failure with its fix.

Checks, in order: the config is valid; the API key is present (the env var it names); GET /me
accepts the key; the key has the scopes a sync uses; per sheet: it can be read, its tabs and
required headers exist, each tab's column map (which header feeds which field, which headers
are ignored; a warning for a configured mapping that matches no header and for an ignored
header that looks like a known field; a warning does not fail `check`), and the mailboxes its
Campaigns tab names exist, are connected and can send. A failed check does not stop the others
unless they depend on it (no config → nothing else; no valid key → no scope or mailbox check).
`run_checks` yields each result as it is known.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.models import Identity, Mailbox
from sheetsync.clock import Clock
from sheetsync.config import Config, SheetConfig, load_config
from sheetsync.errors import AuthError, ConfigError, ScopeError, ServiceError, SheetsyncError
from sheetsync.retry import RetryPolicy
from sheetsync.rows import cells, prospects
from sheetsync.sheet.aliases import looks_like
from sheetsync.sheet.base import Row, SheetData, column_letter
from sheetsync.sheet.connect import open_source
from sheetsync.sheet.layout import TAB_ROLES, TabSpec, describe_columns, header_key, match_headers

# Every scope a sync uses (PRODUCT.md; the vendor guide names the campaign ones).
REQUIRED_SCOPES = (
    "mailboxes:read",
    "prospects:read",
    "prospects:write",
    "campaigns:read",
    "campaigns:write",
    "enrollments:write",
)
WEBHOOK_SCOPES = ("webhooks:read", "webhooks:write")  # with [webhooks]
# A check should answer in seconds, not wait out the sync's retry deadline.
CHECK_RETRY = RetryPolicy(base_s=0.2, cap_s=1.0, deadline_s=5.0, max_attempts=2)
KEYS_PAGE = "Settings > API Keys in WarmySender"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    warning: bool = False  # passed, but something looks wrong (shown with `!`)


def run_checks(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    http: httpx.Client | None = None,
    clock: Clock | None = None,
    interactive: bool = False,
) -> Iterator[Check]:
    """`interactive`: a person is at a terminal, so the OAuth browser sign-in may run."""
    try:
        config = load_config(path, env)
    except ConfigError as exc:
        yield Check("config valid", False, str(exc))
        return
    n = len(config.sheets)
    yield Check("config valid", True, f"{path} ({n} sheet{'s' if n != 1 else ''})")

    ws = config.warmysender
    identity: Identity | None = None
    client: WarmySenderClient | None = None
    if ws.api_key is None:
        yield Check(
            "API key present",
            False,
            f"${ws.api_key_env} is not set",
            f"export {ws.api_key_env}=<your key> (create one in {KEYS_PAGE})",
        )
    else:
        yield Check("API key present", True, f"${ws.api_key_env} is set")
        client = WarmySenderClient(
            ws.base_url, ws.api_key, http=http, clock=clock, retry=CHECK_RETRY,
            timeout_s=min(ws.timeout_s, 10.0),
        )  # fmt: skip
    try:
        if client is not None:
            identity, check = _key(client, config)
            yield check
            if identity is not None:
                needed = REQUIRED_SCOPES + (WEBHOOK_SCOPES if config.webhooks else ())
                yield _scopes(identity, ws.api_key_env, needed)
        mailboxes = _mailboxes(client, identity)
        for sheet in config.sheets:
            yield from _sheet_checks(config, sheet, mailboxes, interactive)
    finally:
        if client is not None:
            client.close()


def _key(client: WarmySenderClient, config: Config) -> tuple[Identity | None, Check]:
    name = "API key valid"
    env = config.warmysender.api_key_env
    try:
        me = client.me()
    except AuthError:
        return None, Check(
            name,
            False,
            f"WarmySender refused the key in ${env} (401): it is unknown, revoked or expired",
            f"create a new key in {KEYS_PAGE} and export {env}=<the new key>",
        )
    except ServiceError as exc:
        return None, Check(
            name,
            False,
            f"cannot reach WarmySender at {config.warmysender.base_url}: {exc}",
            "check [warmysender] base_url in the config and the network, then try again",
        )
    who = f"workspace {me.workspace_id}"
    if me.key_name:
        who += f", key {me.key_name!r}"
    return me, Check(name, True, who)


def _scopes(me: Identity, env: str, needed: tuple[str, ...]) -> Check:
    missing = [s for s in needed if s not in me.scopes]
    if missing:
        return Check(
            "API key scopes",
            False,
            f"the key lacks {', '.join(missing)}",
            f"in {KEYS_PAGE}, create a key with {', '.join(needed)} and export {env}=<the new key>",
        )
    return Check("API key scopes", True, ", ".join(needed))


def _mailboxes(
    client: WarmySenderClient | None, me: Identity | None
) -> list[Mailbox] | Check | None:
    """The workspace's mailboxes, a failed Check saying why they cannot be listed, or None when
    the key check already failed (nothing more to say)."""
    if client is None or me is None:
        return None
    if "mailboxes:read" not in me.scopes:
        return Check(
            "mailboxes",
            False,
            "cannot list the workspace's mailboxes without the mailboxes:read scope",
            f"add mailboxes:read to the key in {KEYS_PAGE}",
        )
    try:
        return client.list_mailboxes()
    except ScopeError as exc:
        return Check("mailboxes", False, str(exc), f"add mailboxes:read to the key in {KEYS_PAGE}")
    except ServiceError as exc:
        return Check("mailboxes", False, f"GET /mailboxes failed: {exc}", "try again later")


def _sheet_checks(
    config: Config,
    sheet: SheetConfig,
    mailboxes: list[Mailbox] | Check | None,
    interactive: bool,
) -> Iterator[Check]:
    prefix = f"sheet {sheet.name!r}"
    specs = [sheet.tab(role) for role in sheet.tabs]
    try:
        source = open_source(sheet, config.google, interactive=interactive)  # may sign in
        try:
            data = source.read([s.title for s in specs])
            label = source.label
        finally:
            source.close()
    except SheetsyncError as exc:
        yield Check(f"{prefix} reachable", False, str(exc))
        return
    yield Check(f"{prefix} reachable", True, label)

    problems = list(_tab_problems(specs, data))
    if problems:
        for tab, detail, fix in problems:
            yield Check(f"{prefix} tab {tab!r}", False, detail, fix)
    else:
        yield Check(f"{prefix} tabs and headers", True, ", ".join(s.title for s in specs))
    for spec in specs:
        rows = data.tabs.get(spec.title)
        if rows is not None and not spec.optional:
            yield from _column_map(prefix, spec, rows[0] if rows else [])

    campaigns = sheet.tab("campaigns")
    named = _named_mailboxes(campaigns, data.tabs.get(campaigns.title))
    if isinstance(mailboxes, Check):
        if named:
            yield Check(f"{prefix} {mailboxes.name}", False, mailboxes.detail, mailboxes.fix)
        return
    if mailboxes is None:
        return
    yield from _mailbox_checks(prefix, campaigns.title, named, mailboxes)


def _tab_problems(specs: list[TabSpec], data: SheetData) -> Iterator[tuple[str, str, str]]:
    existing = ", ".join(repr(t) for t in data.titles) or "none"
    for spec in specs:
        rows = data.tabs.get(spec.title)
        if rows is None:
            if not spec.optional:
                yield (
                    spec.title,
                    f"not found; the tabs there are: {existing}",
                    "create it with `sheetsync init`, rename a tab, or set [sheet.tabs] "
                    f'{spec.role} = "<your tab>" in the config',
                )
            continue
        header = rows[0] if rows else []
        found = match_headers(spec, header)
        for col in spec.columns:
            if col.required and found.get(col.field) is None:
                yield (
                    spec.title,
                    f"has no {col.header!r} column",
                    f"add {col.header!r} to the header row (row 1), or map your header with "
                    f'[sheet.columns.{spec.role}] {col.field} = "<your header>"',
                )
        for field, where in found.duplicates.items():
            letters = ", ".join(column_letter(i) for i in where)
            yield (
                spec.title,
                f"the {spec.column(field).header!r} header appears more than once "
                f"(columns {letters})",
                "rename or delete the extra columns",
            )


def _column_map(prefix: str, spec: TabSpec, header: Row) -> Iterator[Check]:
    """Which header feeds which field of one tab, which headers are ignored, and warnings."""
    found = match_headers(spec, header)
    texts = ["" if h is None else str(h).strip() for h in header]
    used = {i for cols in found.columns.values() for i in cols}
    ignored = [i for i, t in enumerate(texts) if t and i not in used]
    detail = describe_columns(spec, found, header) or "no known column"
    if ignored:
        detail += "; ignored: " + ", ".join(repr(texts[i]) for i in ignored)
    # Prospects fields whose absence means empty merge fields: named, so none goes unnoticed.
    missing = [
        spec.column(f).header
        for f, _ in prospects.FIELDS
        if spec.role == "prospects" and not found.all(f)
    ]
    if missing:
        detail += "; no column for " + ", ".join(missing)
    name = f"{prefix} columns of {spec.title!r}"
    yield Check(name, True, detail)
    default = TAB_ROLES[spec.role]
    for col in spec.inputs:
        if col.required or found.all(col.field):
            continue
        if col.field.startswith("custom:"):
            what = f"custom_fields {col.header!r}"
        elif col.header != default.column(col.field).header:
            what = f"[sheet.columns.{spec.role}] {col.field} = {col.header!r}"
        else:
            continue
        yield Check(
            name,
            True,
            f"{what} matches no header in {spec.title!r}",
            "rename the column in row 1 or change the config to one of its headers",
            warning=True,
        )
    for i in ignored:
        field = looks_like(header_key(texts[i])) if spec.role == "prospects" else None
        if field is not None:
            yield Check(
                name,
                True,
                f"header {texts[i]!r} (column {column_letter(i)}) is ignored but looks like "
                f"{spec.column(field).header}",
                f'to use it, set [sheet.columns.prospects] {field} = "{texts[i]}" in the config '
                f"(or add it to custom_fields to send it as a custom field)",
                warning=True,
            )


Named = list[tuple[int, str | cells.Problem]]


def _named_mailboxes(spec: TabSpec, rows: list[Row] | None) -> Named:
    """(sheet row, mailbox as typed) for every mailbox the Campaigns tab names, or the Problem
    `sync` will have with the cell."""
    if not rows:
        return []
    col = match_headers(spec, rows[0]).get("mailboxes")
    if col is None:
        return []
    out: Named = []
    label = cells.clean(str(rows[0][col]))
    for n, row in enumerate(rows[1:], start=2):
        value = row[col] if col < len(row) else None
        try:  # the very function `sync` reads the cell with: the same split, the same errors
            out.extend((n, ref) for ref in cells.as_list(value, label))
        except cells.Problem as p:
            out.append((n, p))
    return out


def _mailbox_checks(
    prefix: str, tab: str, named: Named, mailboxes: list[Mailbox]
) -> Iterator[Check]:
    name = f"{prefix} mailboxes"
    if not named:
        yield Check(name, True, f"none named in {tab!r} yet")
        return
    by_ref = {m.id.casefold(): m for m in mailboxes} | {m.email.casefold(): m for m in mailboxes}
    usable = ", ".join(m.email for m in mailboxes if m.connected and m.sending_enabled) or "none"
    bad = 0
    seen: set[tuple[int, str]] = set()
    for row, ref in named:
        if isinstance(ref, cells.Problem):
            bad += 1
            yield Check(name, False, f"{tab!r} row {row}: {ref.message}")
            continue
        if (row, ref.casefold()) in seen:
            continue
        seen.add((row, ref.casefold()))
        where = f"{tab!r} row {row}: mailbox {ref!r}"
        box = by_ref.get(ref.casefold())
        if box is None:
            bad += 1
            yield Check(
                name,
                False,
                f"{where} is not in this workspace",
                f"use a connected mailbox's email or id (these can send: {usable})",
            )
        elif not box.connected:
            bad += 1
            yield Check(
                name,
                False,
                f"{where} is disconnected",
                "reconnect it in WarmySender (Mailboxes), or name another mailbox",
            )
        elif not box.sending_enabled:
            bad += 1
            yield Check(
                name,
                False,
                f"{where} has sending disabled",
                "enable sending for it in WarmySender (Mailboxes), or name another mailbox",
            )
    if not bad:
        distinct = len({ref.casefold() for _, ref in named if isinstance(ref, str)})
        yield Check(name, True, f"{distinct} named in {tab!r}, all connected and sending")
