"""The benchmark's world: the WarmySender sandbox and the Google Sheets emulator on 127.0.0.1, in
this process, spreadsheets of N prospects on the emulator, and the real daemon (`sheetsync run`'s
Daemon, with the real engine) polling them.

    with World(clock=FakeClock()) as w:
        w.make_sheet(campaign_tabs(1000))
        daemon = w.daemon(w.config())   # as `sheetsync run` builds it
        daemon.run_due()                # the polls that are due, as the interval trigger fires
"""

from __future__ import annotations

import collections
import copy
import tempfile
from pathlib import Path
from typing import Any

from sheetsync.api.ratelimit import forget_limiters
from sheetsync.app.daemon import Daemon
from sheetsync.clock import Clock
from sheetsync.config import Config, parse_config
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.sandbox.service import Reply
from sheetsync.state import State
from sheetsync.testing.sheets_emulator import SheetsEmulator

TOKEN = "ya29.bench-token-not-secret"
MAILBOX = "alex@outreach-demo.example"
CAMPAIGN = "Bench Launch"
UNLIMITED = 1_000_000  # a rate limit the setup phase never reaches
GOOGLE_QUOTA = 60  # Google's reads and writes a minute per user, enforced by the emulator

PROSPECT_HEADERS = ["Email", "First Name", "Last Name", "Company", "Role", "Industry"]
CAMPAIGN_HEADERS = ["Campaign", "Mailboxes", "Daily Send Limit", "Window Start", "Window End"]
CAMPAIGN_HEADERS = [*CAMPAIGN_HEADERS, "State"]
STEP_HEADERS = ["Campaign", "Step", "Delay Days", "Subject", "Body"]
ENROLLMENT_HEADERS = ["Email", "Campaign", "Enrolled"]


def email(i: int) -> str:
    return f"person{i:06d}@example.com"


def prospect_row(i: int, version: int = 0) -> list[object]:
    """Prospect i; a higher `version` changes its Company (one edited cell)."""
    company = f"Company {i % 997}" + (f" v{version}" if version else "")
    return [email(i), f"First{i}", f"Last{i}", company, "Head of Growth", "SaaS"]


def campaign_tabs(
    prospects: int, *, enrolled: int = 0, state: str = "Draft", first: int = 0
) -> dict[str, list[list[object]]]:
    """The five tabs: `prospects` prospects (numbered from `first`), one campaign with two steps,
    and Enrollments rows for the first `enrolled` prospects."""
    return {
        "Prospects": [
            PROSPECT_HEADERS,
            *(prospect_row(i) for i in range(first, first + prospects)),
        ],
        "Campaigns": [CAMPAIGN_HEADERS, [CAMPAIGN, MAILBOX, 50, "09:00", "17:00", state]],
        "Steps": [
            STEP_HEADERS,
            [CAMPAIGN, 1, 0, "Hello {{firstName}}", "<p>Hi {{firstName}}</p>"],
            [CAMPAIGN, 2, 3, "Following up", "<p>Just checking in.</p>"],
        ],
        "Enrollments": [
            ENROLLMENT_HEADERS,
            *([email(i), CAMPAIGN, True] for i in range(first, first + enrolled)),
        ],
        "Sync Log": [["Time"]],
    }


def seed(rate_limit: int) -> dict[str, Any]:
    s = copy.deepcopy(demo_seed())
    s["workspaces"][0]["rateLimitPerMinute"] = rate_limit
    return s


class CountingSandbox(Sandbox):
    """The sandbox, counting the status of every answer (the bench reports its 429s)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.statuses: collections.Counter[int] = collections.Counter()
        super().__init__(*args, **kwargs)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        reply = super().handle(method, target, headers, body)
        self.statuses[reply.status] += 1
        return reply


class World:
    """Sandbox + emulator + a temp dir for the state file. A context manager; closes all."""

    def __init__(
        self, *, clock: Clock, rate_limit: int = UNLIMITED, google_quota: int = GOOGLE_QUOTA
    ) -> None:
        forget_limiters()  # the daemon's limiters are per workspace and process: start afresh
        self.clock = clock
        self.sandbox = CountingSandbox(seed(rate_limit), clock=clock, faults=Faults())
        self.server = SandboxServer(self.sandbox)
        self.emu = SheetsEmulator(
            clock=clock,
            tokens={TOKEN},
            read_quota_per_min=google_quota,
            write_quota_per_min=google_quota,
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="sheetsync-bench-")
        self.dir = Path(self._tmp.name)
        self.spreadsheet = ""
        self.daemons: list[Daemon] = []
        self.top: dict[str, Any] = {}  # more top-level config tables, e.g. [webhooks]
        self.server.start()
        try:
            self.emu.start()
        except BaseException:
            self.server.close()
            raise

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for daemon in self.daemons:
            daemon.close()
        self.emu.close()
        self.server.close()
        self._tmp.cleanup()
        forget_limiters()

    @property
    def workspace(self) -> Any:
        return self.sandbox._workspaces[0]  # noqa: SLF001 (the bench reads its counters)

    def make_sheet(self, tabs: dict[str, list[list[object]]]) -> str:
        self.spreadsheet = self.emu.create_spreadsheet(tabs, title="Bench")
        return self.spreadsheet

    def config(
        self, sheets: list[dict[str, Any]] | None = None, *, name: str = "bench", **sheet: Any
    ) -> Config:
        """The config `sheetsync run` would read: one [[sheet]] `name` on the latest spreadsheet
        (with `sheet`'s keys), or the given [[sheet]] tables."""
        if sheets is None:
            sheets = [{"name": name, "spreadsheet": self.spreadsheet, **sheet}]
        data: dict[str, Any] = {
            "warmysender": {"base_url": self.server.base_url},
            "google": {"auth": "token", "sheets_base_url": self.emu.base_url},
            "state": {"path": str(self.dir / "state.db")},
            "sheet": [
                {"source": "google", "custom_fields": ["Industry"], "settle_polls": 0, **s}
                for s in sheets
            ],
        }
        data.update(self.top)
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
        return parse_config(data, path=self.dir / "sheetsync.toml", env=env)

    def daemon(self, config: Config) -> Daemon:
        """The daemon of `sheetsync run` on this world's clock (closed with the world)."""
        daemon = Daemon(config, clock=self.clock)
        self.daemons.append(daemon)
        return daemon

    def last_report(self, config: Config, sheet: str) -> dict[str, Any]:
        """The report of the sheet's latest cycle, as recorded in the state file."""
        with State(config.state_path) as state:
            runs = state.recent_runs(sheet, 1)
        if not runs or runs[0].report is None:
            raise RuntimeError(f"{sheet}: no finished cycle recorded: {runs}")
        return runs[0].report

    def edit_prospects(self, rows: list[int], version: int, *, spreadsheet: str = "") -> None:
        """A person edits the Company cell of these prospect indexes (row = index + 2)."""
        col = PROSPECT_HEADERS.index("Company")
        sid = spreadsheet or self.spreadsheet
        for i in rows:
            self.emu.set_cell(sid, "Prospects", i + 2, col, prospect_row(i, version)[col])

    def api_calls(self) -> int:
        return sum(self.workspace.by_endpoint.values())

    def http_429s(self) -> int:
        return self.sandbox.statuses[429]
