"""The benchmark's world: the WarmySender sandbox and the Google Sheets emulator on 127.0.0.1, in
this process, and a spreadsheet of N prospects on the emulator that the real engine syncs.

    with World(clock=FakeClock(), rate_limit=1_000_000) as w:
        w.make_sheet(1000)
        sync = w.open_sync()          # one long-lived SheetSync, as the daemon keeps one
        sync.cycle()
"""

from __future__ import annotations

import collections
import copy
import tempfile
from pathlib import Path
from typing import Any

from sheetsync.api.ratelimit import RateLimiter
from sheetsync.clock import Clock
from sheetsync.config import Config, SheetConfig, parse_config
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer, demo_seed
from sheetsync.sandbox.service import Reply
from sheetsync.sync.cycle import SheetSync, open_sync
from sheetsync.testing.sheets_emulator import SheetsEmulator

TOKEN = "ya29.bench-token-not-secret"
MAILBOX = "alex@outreach-demo.example"
CAMPAIGN = "Bench Launch"
UNLIMITED = 1_000_000  # a quota or rate limit the setup phase never reaches

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
    prospects: int, *, enrolled: int = 0, state: str = "Draft"
) -> dict[str, list[list[object]]]:
    """The five tabs: `prospects` prospects, one campaign with two steps, and Enrollments rows
    for the first `enrolled` prospects."""
    return {
        "Prospects": [PROSPECT_HEADERS, *(prospect_row(i) for i in range(prospects))],
        "Campaigns": [CAMPAIGN_HEADERS, [CAMPAIGN, MAILBOX, 50, "09:00", "17:00", state]],
        "Steps": [
            STEP_HEADERS,
            [CAMPAIGN, 1, 0, "Hello {{firstName}}", "<p>Hi {{firstName}}</p>"],
            [CAMPAIGN, 2, 3, "Following up", "<p>Just checking in.</p>"],
        ],
        "Enrollments": [
            ENROLLMENT_HEADERS,
            *([email(i), CAMPAIGN, True] for i in range(enrolled)),
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

    def __init__(self, *, clock: Clock, rate_limit: int = UNLIMITED) -> None:
        self.clock = clock
        self.sandbox = CountingSandbox(seed(rate_limit), clock=clock, faults=Faults())
        self.server = SandboxServer(self.sandbox)
        self.emu = SheetsEmulator(
            clock=clock,
            tokens={TOKEN},
            read_quota_per_min=UNLIMITED,
            write_quota_per_min=UNLIMITED,
        )
        self._tmp = tempfile.TemporaryDirectory(prefix="sheetsync-bench-")
        self.dir = Path(self._tmp.name)
        self.spreadsheet = ""
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
        self.emu.close()
        self.server.close()
        self._tmp.cleanup()

    @property
    def workspace(self) -> Any:
        return self.sandbox._workspaces[0]  # noqa: SLF001 (the bench changes the plan's limit)

    def set_rate_limit(self, per_minute: int) -> None:
        self.workspace.rate_limit = per_minute

    def make_sheet(self, tabs: dict[str, list[list[object]]]) -> str:
        self.spreadsheet = self.emu.create_spreadsheet(tabs, title="Bench")
        return self.spreadsheet

    def config(self, **sheet: Any) -> Config:
        data: dict[str, Any] = {
            "warmysender": {"base_url": self.server.base_url},
            "google": {"auth": "token", "sheets_base_url": self.emu.base_url},
            "state": {"path": str(self.dir / "state.db")},
            "sheet": [
                {
                    "name": "bench",
                    "source": "google",
                    "spreadsheet": self.spreadsheet,
                    "custom_fields": ["Industry"],
                    "settle_polls": 0,
                    **sheet,
                }
            ],
        }
        data.update(self.top)
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN}
        return parse_config(data, path=self.dir / "sheetsync.toml", env=env)

    def open_sync(self, limiter: RateLimiter | None = None, **sheet: Any) -> SheetSync:
        config = self.config(**sheet)
        return open_sync(config, config.sheets[0], clock=self.clock, limiter=limiter)

    def sheet_config(self, **sheet: Any) -> SheetConfig:
        return self.config(**sheet).sheets[0]

    def edit_prospects(self, rows: list[int], version: int, *, spreadsheet: str = "") -> None:
        """A person edits the Company cell of these prospect indexes (row = index + 2)."""
        col = PROSPECT_HEADERS.index("Company")
        sid = spreadsheet or self.spreadsheet
        for i in rows:
            self.emu.set_cell(sid, "Prospects", i + 2, col, prospect_row(i, version)[col])

    def http_429s(self) -> int:
        return self.sandbox.statuses[429]
