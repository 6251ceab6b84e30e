"""`sheetsync demo`: the whole loop, offline, on a sample workbook against the local sandbox.

It copies the shipped demo workbook to `./sheetsync-demo.xlsx`, starts the sandbox in-process
with the demo workspace and sheetsync's webhook receiver on a free local port, writes a
throwaway config (xlsx source, settle_polls = 0, [webhooks], stop_on_reply = true, state in a
temporary folder) and runs the real sync cycle three times. Between the first two it edits the
workbook the way a marketer would (unticks an enrollment, adds a prospect and enrolls it, pauses
the running campaign); before the third, prospects reply, open and bounce in the sandbox, which
delivers those events to the receiver. It prints each cycle's counts and a few rows.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import openpyxl
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sheetsync.app.webhooks import receiving
from sheetsync.clock import Clock, SystemClock
from sheetsync.config import Config, load_config
from sheetsync.data import demo_workbook as sample
from sheetsync.errors import ConfigError
from sheetsync.sandbox import DEMO_KEY, Sandbox, SandboxServer, demo_seed
from sheetsync.serving import free_port
from sheetsync.sheet.layout import header_key
from sheetsync.sync.counts import CycleReport
from sheetsync.sync.cycle import open_sync

KEY_ENV = "SHEETSYNC_DEMO_API_KEY"
# The counts worth showing (every CycleReport field is in `sync --json`).
SHOWN = (
    "rows_read", "prospects_created", "prospects_existing", "campaigns_created",
    "campaigns_started", "campaigns_paused", "enrolled", "unenrolled", "suppressed", "errors",
    "api_calls", "sheets_reads", "sheets_writes", "duration_s",
)  # fmt: skip


# What happens in WarmySender before the third cycle (prospects of the running campaign).
REPLY = "olivia.brown@meadowhealth.com"
OPEN = "priya.raman@stackforge.dev"
BOUNCE = "daniel.kim@harborlane.com"


@dataclass(frozen=True)
class DemoResult:
    workbook: Path
    replaced: bool  # a previous demo copy was overwritten
    cycles: tuple[CycleReport, CycleReport, CycleReport]


def run_demo(
    workdir: Path, *, console: Console | None = None, clock: Clock | None = None
) -> DemoResult:
    console = console or Console()
    target = (workdir / sample.WORKBOOK_NAME).resolve()
    replaced = target.exists()
    try:
        target.write_bytes((files("sheetsync.data") / sample.WORKBOOK_NAME).read_bytes())
    except OSError as exc:
        raise ConfigError(
            f"cannot write the demo workbook here ({exc.strerror}); close it if it is open in "
            "a spreadsheet app, or run `sheetsync demo` from a folder you can write to",
            path=str(target),
        ) from None
    if replaced:
        console.print(f"Replaced the previous demo workbook at {target}", soft_wrap=True)
    else:
        console.print(f"Copied the demo workbook to {target}", soft_wrap=True)

    seed = demo_seed()
    seed["workspaces"][0]["rateLimitPerMinute"] = 600  # the demo should not wait for budget
    with (
        tempfile.TemporaryDirectory(prefix="sheetsync-demo-") as tmp,
        SandboxServer(Sandbox(seed, clock=clock)) as server,
    ):
        config = _config(Path(tmp), server.base_url, target, free_port())
        with receiving(config, clock or SystemClock()) as receiver:
            assert receiver is not None
            console.print(
                f"Started the sandbox (a local WarmySender) at {server.base_url}, and "
                f"sheetsync's webhook receiver on port {receiver.port}\n"
            )
            console.rule("Cycle 1: the sheet as the marketer wrote it")
            first = _cycle(config, clock)
            _show(console, first, target)

            console.rule("The marketer edits the sheet")
            for line in edit_like_a_marketer(target):
                console.print(f"  • {line}")
            console.print()

            console.rule("Cycle 2: only the changed rows cause API calls")
            second = _cycle(config, clock)
            _show(console, second, target)

            console.rule("Meanwhile in WarmySender: a reply, an open, a bounce")
            for line in happen_in_warmysender(server.sandbox):
                console.print(f"  • {line}")
            console.print()

            console.rule("Cycle 3: the outcomes land in the Enrollments tab")
            third = _cycle(config, clock)
            _show(console, third, target)

    console.print(
        f"\nOpen [bold]{escape(str(target))}[/bold] to see the status columns sheetsync filled in.",
        soft_wrap=True,
    )
    console.print(
        "Next: `sheetsync init --xlsx leads.xlsx` (or `--spreadsheet ID` for Google Sheets), "
        "then `sheetsync check` and `sheetsync sync`. `sheetsync sandbox` runs this API locally."
    )
    return DemoResult(target, replaced, (first, second, third))


def _config(folder: Path, base_url: str, workbook: Path, port: int) -> Config:
    path = folder / "sheetsync.toml"
    q = json.dumps  # TOML basic strings
    path.write_text(
        "[warmysender]\n"
        f"base_url = {q(base_url)}\n"
        f"api_key_env = {q(KEY_ENV)}\n"
        "[state]\n"
        f"path = {q(str(folder / 'state.db'))}\n"
        "[webhooks]\n"  # plain http is fine on this machine; WarmySender itself wants https
        f'listen = "127.0.0.1:{port}"\n'
        f'public_url = "http://127.0.0.1:{port}/warmysender"\n'
        "[[sheet]]\n"
        'name = "demo"\n'
        'source = "xlsx"\n'
        f"spreadsheet = {q(str(workbook))}\n"
        "settle_polls = 0\n"
        "stop_on_reply = true\n"
        f"custom_fields = {q(list(sample.CUSTOM_FIELDS))}\n",
        encoding="utf-8",
    )
    return load_config(path, env={KEY_ENV: DEMO_KEY})


def _cycle(config: Config, clock: Clock | None) -> CycleReport:
    sheet = config.sheets[0]
    with open_sync(config, sheet, clock=clock) as sync:
        return sync.cycle()


def edit_like_a_marketer(path: Path) -> list[str]:
    """Untick one enrollment, add a prospect and enroll it, pause the running campaign; save."""
    wb = openpyxl.load_workbook(path)
    try:
        enrollments = _Tab(wb["Enrollments"])
        row = enrollments.find(Email=sample.SECOND_CYCLE_UNENROLL, Campaign=sample.RUNNING)
        enrollments.set(row, "Enrolled", False)
        enrollments.append(
            dict(
                zip(
                    ("Email", "List ID", "Campaign", "Enrolled"),
                    sample.SECOND_CYCLE_ENROLLMENT,
                    strict=True,
                )
            )
        )
        prospects = _Tab(wb["Prospects"])
        headers = ("Email", "First Name", "Last Name", "Company", "Role", "Phone",
                   "LinkedIn URL", "Industry")  # fmt: skip
        prospects.append(dict(zip(headers, sample.SECOND_CYCLE_PROSPECT, strict=True)))
        campaigns = _Tab(wb["Campaigns"])
        campaigns.set(campaigns.find(Campaign=sample.SECOND_CYCLE_PAUSE), "State", "Paused")
        wb.save(path)
    finally:
        wb.close()
    email, campaign = sample.SECOND_CYCLE_ENROLLMENT[0], sample.SECOND_CYCLE_ENROLLMENT[2]
    return [
        f"Enrollments: unticked {sample.SECOND_CYCLE_UNENROLL} in {sample.RUNNING!r}",
        f"Prospects: added {email}, and enrolled them in {campaign!r}",
        f"Campaigns: set State of {sample.SECOND_CYCLE_PAUSE!r} to Paused",
    ]


def happen_in_warmysender(sandbox: Sandbox) -> list[str]:
    """A reply, an open and a bounce in the running campaign, made through the sandbox's
    control endpoint: each is applied and delivered, signed, to the receiver at once."""
    for kind, email in (
        ("reply.received", REPLY),
        ("email.opened", OPEN),
        ("email.bounced", BOUNCE),
    ):
        sandbox.event({"type": kind, "email": email})
    return [
        f"{REPLY} replied (stop_on_reply: sheetsync ticks their Stop box)",
        f"{OPEN} opened the first email",
        f"{BOUNCE} bounced",
        "the emails of step 1 went out to the rest (email.sent)",
    ]


class _Tab:
    """A worksheet addressed by header (case- and space-insensitive, like sheetsync)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.cols = {
            header_key(c.value): c.column
            for c in next(ws.iter_rows(min_row=1, max_row=1))
            if c.value is not None
        }

    def value(self, row: int, header: str) -> object:
        return self.ws.cell(row=row, column=self.cols[header_key(header)]).value

    def set(self, row: int, header: str, value: object) -> None:
        self.ws.cell(row=row, column=self.cols[header_key(header)]).value = value

    def rows(self) -> range:
        return range(2, self.ws.max_row + 1)

    def find(self, **match: object) -> int:
        for row in self.rows():
            if all(
                str(self.value(row, h.replace("_", " "))).casefold() == str(v).casefold()
                for h, v in match.items()
            ):
                return row
        raise LookupError(f"no row with {match} in {self.ws.title!r}")

    def append(self, values: dict[str, object]) -> None:
        row = self.ws.max_row + 1
        for header, value in values.items():
            if value is not None:
                self.set(row, header, value)


# --- output ------------------------------------------------------------------------------------


def _show(console: Console, report: CycleReport, workbook: Path) -> None:
    counts = report.to_json()
    table = Table(title="What the cycle did", show_header=False, title_justify="left")
    table.add_column("count")
    table.add_column("value", justify="right")
    for key in SHOWN:
        value = counts.get(key)
        if value:
            table.add_row(key.replace("_", " ").replace("duration s", "duration (s)"), str(value))
    console.print(table)

    wb = openpyxl.load_workbook(workbook, read_only=True)
    try:
        for title, columns, rows in _examples(wb):
            t = Table(title=f"{title} (example rows)", title_justify="left")
            for c in columns:
                t.add_column(c, overflow="fold")
            for r in rows:
                t.add_row(*("" if v is None else str(v) for v in r))
            console.print(t)
    finally:
        wb.close()


_EXAMPLES: dict[str, tuple[tuple[str, ...], Sequence[str]]] = {
    # tab: (columns shown, key-column values of the rows shown)
    "Prospects": (
        ("Email", "Sync Status", "Prospect ID", "Stop"),
        ("maria.gonzalez@brightpath.io", "dana.whitfield@", "Maria.Gonzalez@BrightPath.io",
         "samuel.okafor@kitepay.ng", sample.BOUNCED, str(sample.SECOND_CYCLE_PROSPECT[0]),
         REPLY),
    ),
    "Campaigns": (
        ("Campaign", "State", "Campaign ID", "API Status", "Enrolled", "Last Change",
         "Sync Status"),
        (sample.RUNNING, sample.DRAFT),
    ),
    "Enrollments": (
        ("Email", "Campaign", "Enrolled", "Enrollment Status", "Outcome", "Last Event At"),
        (REPLY, OPEN, BOUNCE, sample.SECOND_CYCLE_UNENROLL, sample.BOUNCED,
         str(sample.SECOND_CYCLE_ENROLLMENT[0])),
    ),
}  # fmt: skip


def _examples(wb: Any) -> list[tuple[str, tuple[str, ...], list[list[object]]]]:
    out = []
    for title, (columns, keys) in _EXAMPLES.items():
        grid = [list(r) for r in wb[title].iter_rows(values_only=True)]
        if not grid:
            continue
        idx = {header_key(h): i for i, h in enumerate(grid[0]) if h is not None}
        shown = [c for c in columns if header_key(c) in idx]
        key_col = idx[header_key(columns[0])]
        picked: list[list[object]] = []
        for key in keys:
            for row in grid[1:]:
                if key_col < len(row) and str(row[key_col]) == key:
                    picked.append([_cell(row, idx[header_key(c)]) for c in shown])
        out.append((title, tuple(shown), picked))
    return out


def _cell(row: list[object], i: int) -> object:
    return row[i] if i < len(row) else None
