"""Reliability harness: a small workbook synced by the real `sheetsync sync` process (run under
tests/reliability/crash_child.py, which can SIGKILL it at an exact point) against a sandbox
served from this test process, which can itself SIGKILL the process at the N-th API request,
after doing that request's work. Plus the end-state invariants every scenario must meet.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheetsync.clock import FakeClock
from sheetsync.config import Config, load_config
from sheetsync.sandbox import DEMO_KEY, Faults, Sandbox, SandboxServer
from sheetsync.sandbox.service import Reply
from sheetsync.sandbox.workspace import Workspace
from sheetsync.state import State
from sheetsync.sync.cycle import open_sync
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine.conftest import Harness
from tests.engine.conftest import seed as engine_seed

WAIT_S = 60.0  # the bound on every subprocess; a crash-free sync takes about a second
CHILD = Path(__file__).with_name("crash_child.py")
MBX1 = "alex@outreach-demo.example"
MBX2 = "sam@outreach-demo.example"
BOUNCED = "bounced@globex.example"  # a prospect the demo seed has as bounced
LIST_ID = "lst_demo_webinar"
RUNNING = "Spring Launch"
DRAFT = "Partner Pilot"
WRITES = ("POST", "PATCH", "DELETE")
GOOGLE_TOKEN = "ya29.reliability-test-token"

# Emails NOT in sorted order (ben before ana): a batch's ids must go out again in the order they
# were first sent, whatever order the state file keeps its rows in.
TABS: dict[str, list[list[object]]] = {
    "Prospects": [
        ["Email", "First Name", "Last Name", "Company"],
        ["ben@beta.example", "Ben", "Berg", "Beta"],
        ["ana@alpha.example", "Ana", "Alvarez", "Alpha"],
        [BOUNCED, "Bob", "Gray", "Globex"],
        ["cho@gamma.example", "Cho", "Chen", "Gamma"],
    ],
    "Campaigns": [
        ["Campaign", "Mailboxes", "Daily Send Limit", "Window Start", "Window End", "State"],
        [RUNNING, MBX1, 40, "09:00", "17:00", "Running"],
        [DRAFT, MBX2, 20, None, None, "Draft"],
    ],
    "Steps": [
        ["Campaign", "Step", "Delay Days", "Subject", "Body"],
        [RUNNING, 1, 0, "Hello {{firstName}}", "<p>Hi</p>"],
        [RUNNING, 2, 3, "Following up", "<p>Again</p>"],
        [DRAFT, 1, 0, "Partners?", "<p>Let us talk</p>"],
    ],
    "Enrollments": [
        ["Email", "List ID", "Campaign", "Enrolled"],
        ["ben@beta.example", None, RUNNING, True],
        ["ana@alpha.example", None, RUNNING, True],
        [BOUNCED, None, RUNNING, True],
        ["cho@gamma.example", None, DRAFT, True],
        [None, LIST_ID, DRAFT, True],
    ],
    "Sync Log": [["Time"]],
}
# The second sync's edits, one per write kind the first sync does not make: a prospect's field
# (PATCH /prospects), a Draft campaign's setting (PATCH /campaigns), the running campaign set to
# Paused (POST …/pause) and two enrollments unticked, ben before ana (DELETE …/enrollments).
EDITS: list[tuple[str, str, str, object]] = [
    ("Prospects", "ben@beta.example", "Company", "Beta Labs"),
    ("Campaigns", DRAFT, "Daily Send Limit", 25),
    ("Campaigns", RUNNING, "State", "Paused"),
    ("Enrollments", "ben@beta.example", "Enrolled", False),
    ("Enrollments", "ana@alpha.example", "Enrolled", False),
]
# What the sheet asks for: prospects that must exist once, and per campaign the enrolled emails
SHEET_PROSPECTS = [str(r[0]) for r in TABS["Prospects"][1:]]
SHEET_CAMPAIGNS = (RUNNING, DRAFT)
# Columns whose value differs between two equally good runs (times) or is checked apart (ids)
VOLATILE = {"Synced At", "Prospect ID", "Campaign ID"}


def build_book(path: Path, tabs: dict[str, list[list[object]]] = TABS) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in tabs.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)


class KillingSandbox(Sandbox):
    """The sandbox, able to SIGKILL the sync process right after doing the work of its N-th API
    request (the answer is then never sent: "sent, outcome not stored")."""

    def __init__(self) -> None:
        super().__init__()
        self.kill_at = 0
        self.api_requests = 0
        self.proc: subprocess.Popen[str] | None = None
        self.armed = threading.Event()
        self.killed = False
        self.before: dict[int, Callable[[KillingSandbox], None]] = {}  # change the world
        self.endpoints: list[str] = []  # the route template of every API request, in order
        self._count_lock = threading.Lock()

    def workspace(self) -> Workspace:
        return self._workspaces[0]

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if not target.startswith("/api/v1/"):
            return super().handle(method, target, headers, body)
        with self._count_lock:
            self.api_requests += 1
            n = self.api_requests
            change = self.before.pop(n, None)
        if change is not None:
            change(self)  # e.g. the key is revoked right before this request arrives
        reply = super().handle(method, target, headers, body)
        self.endpoints.append(reply.endpoint)
        if n == self.kill_at:
            assert self.armed.wait(WAIT_S)
            assert self.proc is not None
            self.killed = True
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(WAIT_S)
            return Reply(0, b"", drop=True)
        return reply


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.code == -signal.SIGKILL


def finish(proc: subprocess.Popen[str]) -> Result:
    """The process's exit code and output (killed after WAIT_S)."""
    try:
        out, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Result(proc.returncode, out, err)


class Folder:
    """A config, a workbook and a state file in a folder, synced against `server`."""

    def __init__(
        self, path: Path, server: SandboxServer, emu: SheetsEmulator | None = None
    ) -> None:
        self.path = path
        self.server = server
        sandbox = server.sandbox
        assert isinstance(sandbox, KillingSandbox)
        self.sandbox = sandbox
        self.emu = emu
        self.book = path / "book.xlsx"
        google = ""
        if emu is None:
            build_book(self.book)
            source = 'source = "xlsx"\nspreadsheet = "book.xlsx"\n'
        else:
            self.sid = emu.create_spreadsheet(TABS)
            source = f'source = "google"\nspreadsheet = "{self.sid}"\n'
            google = f'[google]\nauth = "token"\nsheets_base_url = "{emu.base_url}"\n'
        (path / "sheetsync.toml").write_text(
            "[warmysender]\n"
            f'base_url = "{server.base_url}"\n'
            f"{google}"
            "[state]\n"
            'path = "state/state.db"\n'
            "[[sheet]]\n"
            'name = "crash"\n'
            f"{source}"
            "settle_polls = 0\n",
            encoding="utf-8",
        )

    @property
    def config(self) -> Config:
        env = {"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": GOOGLE_TOKEN}
        return load_config(self.path / "sheetsync.toml", env=env)

    def sync(
        self,
        kind: str = "commit",
        n: int = 0,
        *,
        kill_at_request: int = 0,
        counts: Path | None = None,
    ) -> Result:
        """`sheetsync sync --json` in a child process that dies at (kind, n), or whose sandbox
        request number `kill_at_request` kills it; 0 means never."""
        env = {**os.environ, "WARMYSENDER_API_KEY": DEMO_KEY, "PYTHONUNBUFFERED": "1"}
        env["SHEETSYNC_GOOGLE_TOKEN"] = GOOGLE_TOKEN
        env.pop("SHEETSYNC_CONFIG", None)
        if counts is not None:
            env["CRASH_COUNTS"] = str(counts)
        self.sandbox.kill_at = self.sandbox.api_requests + kill_at_request if kill_at_request else 0
        self.sandbox.armed.clear()
        self.sandbox.killed = False
        cmd = [sys.executable, str(CHILD), kind, str(n)]
        cmd += ["--config", "sheetsync.toml", "sync", "--json"]
        proc = subprocess.Popen(
            cmd, cwd=self.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.sandbox.proc = proc
        self.sandbox.armed.set()
        result = finish(proc)
        self.sandbox.kill_at = 0
        return result

    def edit(self) -> None:
        """Make the EDITS in the workbook (status columns and all else kept)."""
        wb = openpyxl.load_workbook(self.book)
        for title, key, header, value in EDITS:
            ws = wb[title]
            headers = [c.value for c in ws[1]]
            for row in ws.iter_rows(min_row=2):
                if row[0].value == key:
                    row[headers.index(header)].value = value
        wb.save(self.book)

    def table(self, tab: str) -> list[dict[str, object]]:
        if self.emu is not None:
            rows = self.emu.values(self.sid, tab)
        else:
            wb = openpyxl.load_workbook(self.book)  # also proves the workbook opens
            try:
                rows = [list(r) for r in wb[tab].iter_rows(values_only=True)]
            finally:
                wb.close()
        header = [str(h or "") for h in rows[0]]
        return [
            {h: r[i] for i, h in enumerate(header) if h and i < len(r)}
            for r in rows[1:]
            if any(v not in (None, "") for v in r)
        ]

    def remote(self) -> dict[str, Any]:
        ws: dict[str, Any] = self.sandbox.state()["workspaces"][0]
        return ws

    def statuses(self) -> dict[str, list[dict[str, object]]]:
        """Every row of the four tabs without the volatile columns: what a crash-free run
        shows must be shown after a crash and a rerun too."""
        return {
            tab: [{k: v for k, v in row.items() if k not in VOLATILE} for row in self.table(tab)]
            for tab in ("Prospects", "Campaigns", "Steps", "Enrollments")
        }

    def pending_writes(self) -> list[str]:
        """What the next cycle would still send (a dry run in this process; writes nothing)."""
        config = self.config
        with open_sync(config, config.sheets[0]) as ss:
            dry = ss.plan()
        return [str(a) for a in dry.plan.actions if a.kind not in ("monitor", "want")]


def remote_writes(ws: dict[str, Any]) -> int:
    return sum(n for ep, n in ws["requestsByEndpoint"].items() if ep.split(" ")[0] in WRITES)


def expected(reference: dict[str, Any]) -> dict[str, Any]:
    """The statuses of a reference run (without its extra facts)."""
    return {k: v for k, v in reference.items() if k != "write requests"}


def check_invariants(folder: Folder, reference: dict[str, Any]) -> None:
    """The end state after a crash and a rerun: nothing twice, nothing missing, the sheet right."""
    ws = folder.remote()
    emails = Counter(str(p["email"]).lower() for p in ws["prospects"])
    doubled = [e for e, n in emails.items() if n > 1]
    assert not doubled, f"prospects created twice: {doubled}"
    missing = [e for e in SHEET_PROSPECTS if e not in emails]
    assert not missing, f"prospects never created: {missing}"
    names = Counter(str(c["name"]) for c in ws["campaigns"])
    assert names == Counter(SHEET_CAMPAIGNS), f"campaigns in WarmySender: {dict(names)}"

    by_id = {p["id"]: str(p["email"]).lower() for p in ws["prospects"]}
    wanted: dict[str, set[str]] = {name: set() for name in SHEET_CAMPAIGNS}
    lists = {x["id"]: x for x in ws["lists"]}
    for row in folder.table("Enrollments"):
        if row.get("Enrolled") is True:
            if row.get("Email"):
                wanted[str(row["Campaign"])].add(str(row["Email"]).lower())
            else:
                list_emails = lists[str(row["List ID"])]["emails"]
                wanted[str(row["Campaign"])].update(str(e).lower() for e in list_emails)
    for c in ws["campaigns"]:
        got = [by_id[e["prospectId"]] for e in c["enrollments"] if e["status"] != "unenrolled"]
        assert len(got) == len(set(got)), f"{c['name']}: enrolled twice: {got}"
        assert set(got) == wanted[c["name"]], f"{c['name']}: enrolled {sorted(got)}"

    sheet_ids = {str(r["Email"]).lower(): r.get("Prospect ID") for r in folder.table("Prospects")}
    for email, pid in sheet_ids.items():
        assert pid is not None and by_id.get(str(pid)) == email, (email, pid)
    camp_ids = {str(r["Campaign"]): r.get("Campaign ID") for r in folder.table("Campaigns")}
    assert {str(c["name"]): c["id"] for c in ws["campaigns"]} == camp_ids

    assert folder.statuses() == expected(reference)
    assert not list(folder.path.glob(".book.xlsx.*sheetsync-tmp"))  # no temp file left
    db = sqlite3.connect(folder.path / "state" / "state.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    with State(folder.path / "state" / "state.db") as state:
        assert state.pending_intents("crash") == []
    assert folder.pending_writes() == []


@dataclass
class Reference:
    """The crash-free run: its sheet, how many of each crash point it passes through, and how
    many API requests it made."""

    statuses: dict[str, list[dict[str, object]]]
    points: dict[str, int]
    requests: int
    report: dict[str, Any]
    endpoints: list[str]


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    path = tmp_path_factory.mktemp("reference")
    with SandboxServer(KillingSandbox()) as server:
        folder = Folder(path, server)
        counts = path / "counts.json"
        result = folder.sync(counts=counts)
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout.splitlines()[0])
        points = json.loads(counts.read_text(encoding="utf-8"))
        requests = folder.sandbox.api_requests
        statuses = folder.statuses()
        assert folder.pending_writes() == []
        again = folder.sync()
        assert again.code == 0, again.stderr
        assert json.loads(again.stdout)["api_calls"] <= 1  # a settled sheet: nothing to send
        assert folder.statuses() == statuses
    return Reference(statuses, points, requests, report, folder.sandbox.endpoints[:requests])


@pytest.fixture(scope="session")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The crash-free second sync after the EDITS (its points are not counted)."""
    path = tmp_path_factory.mktemp("edited")
    with SandboxServer(KillingSandbox()) as server:
        folder = Folder(path, server)
        assert folder.sync().code == 0
        folder.edit()
        before = folder.sandbox.api_requests
        result = folder.sync()
        assert result.code == 0, result.stderr
        report = json.loads(result.stdout.splitlines()[0])
        requests = folder.sandbox.api_requests - before
        statuses = folder.statuses()
        assert folder.pending_writes() == []
        endpoints = folder.sandbox.endpoints[before : before + requests]
    return Reference(statuses, {}, requests, report, endpoints)


@pytest.fixture
def folder(tmp_path: Path) -> Any:
    with SandboxServer(KillingSandbox()) as server:
        yield Folder(tmp_path, server)


@pytest.fixture
def emu() -> Iterator[SheetsEmulator]:
    with SheetsEmulator(tokens={GOOGLE_TOKEN}, read_quota_per_min=10_000) as emulator:
        emulator.write_quota_per_min = 10_000
        yield emulator


@pytest.fixture
def gfolder(tmp_path: Path, emu: SheetsEmulator) -> Iterator[Folder]:
    with SandboxServer(KillingSandbox()) as server:
        yield Folder(tmp_path, server, emu)


@pytest.fixture(scope="session")
def google_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a crash-free, failure-free run shows on the Google source (its write-back request
    count under the key "write requests")."""
    with (
        SheetsEmulator(tokens={GOOGLE_TOKEN}, read_quota_per_min=10_000) as emulator,
        SandboxServer(KillingSandbox()) as server,
    ):
        emulator.write_quota_per_min = 10_000
        folder = Folder(tmp_path_factory.mktemp("google"), server, emulator)
        emulator.reset_counts()
        result = folder.sync()
        assert result.code == 0, result.stderr
        writes = emulator.writes
        statuses: dict[str, Any] = folder.statuses()
        return {**statuses, "write requests": writes}


# --- in process: one workbook, a FakeClock, and a sandbox the test can steer ------------------


Hook = Callable[[str, str], "Reply | None"]


class HookedSandbox(Sandbox):
    """The sandbox, with `before(method, route)` that may answer an API request instead of it,
    and `after(method, route, reply)` that may replace the answer once the work is done (route:
    the path below /api/v1, e.g. "/campaigns/cmp_1/start"). `received` lists every API request
    as (method, route, body bytes)."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(engine_seed(), clock=clock, faults=Faults())
        self.before: Hook | None = None
        self.after: Callable[[str, str, Reply], Reply] | None = None
        self.received: list[tuple[str, str, bytes]] = []

    def workspace(self) -> Workspace:
        return self._workspaces[0]

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        route = target.split("?", 1)[0].removeprefix("/api/v1")
        if target.startswith("/api/v1/"):
            self.received.append((method, route, body))
        if self.before is not None and target.startswith("/api/v1/"):
            early = self.before(method, route)
            if early is not None:
                return early
        reply = super().handle(method, target, headers, body)
        if self.after is not None and target.startswith("/api/v1/"):
            reply = self.after(method, route, reply)
        return reply


def refusal(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return Reply(status, body)


REUSED = refusal(
    409, "idempotency_key_reused", "this Idempotency-Key was already used with another body"
)


@pytest.fixture
def hx(tmp_path: Path) -> Iterator[Harness]:
    """One xlsx workbook synced in this process against a HookedSandbox, on a FakeClock."""
    clock = FakeClock()
    sandbox = HookedSandbox(clock)
    with SandboxServer(sandbox) as server:
        harness = Harness(tmp_path, clock, sandbox, server, None, "xlsx")
        try:
            yield harness
        finally:
            harness.restart()
