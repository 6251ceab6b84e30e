"""Real `sheetsync worker` processes on one config: xlsx workbooks in a folder, the sandbox served
from the test process, the state on the throwaway PostgreSQL server; and what the tests read
back (the sandbox's objects; the run records are read with bench/workers.py's `runs`)."""

from __future__ import annotations

import collections
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sheetsync.data.demo_workbook import build_workbook
from sheetsync.sandbox.seed import demo_seed
from sheetsync.sandbox.service import Reply, Sandbox
from tests.daemon.test_run_process import Daemon

WAIT_S = 60.0  # the bound on every wait; the happy paths take a few seconds
HEARTBEAT_S = 0.5
FAILOVER_S = 3.0


class FleetSandbox(Sandbox):
    """The sandbox, recording every API answer, and able to SIGKILL a worker right after the
    n-th POST was done, before its answer leaves (the call was made; its outcome not stored)."""

    def __init__(self, rate_limit: int, latency_ms: int = 0) -> None:
        seed = demo_seed()
        seed["workspaces"][0]["rateLimitPerMinute"] = rate_limit
        super().__init__(seed)
        self.faults.latency_ms = latency_ms
        self.answers: list[tuple[float, str, str, int]] = []  # time, method, path, status
        self.keys: list[str] = []  # the Idempotency-Key of each POST, in order
        self.posts = 0
        self.kill: tuple[int, int] | None = None  # (pid, at the n-th POST)
        self.killed_at: float | None = None
        self.lock = threading.Lock()
        self.gate = threading.Event()  # writes wait for it
        self.gate.set()
        self.waiting = threading.Event()  # a write is waiting at the closed gate

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST":
            self.waiting.set()
            self.gate.wait(WAIT_S)
        reply = super().handle(method, target, headers, body)
        if target.startswith("/api/"):
            with self.lock:
                self.answers.append((time.time(), method, target, reply.status))
                if method == "POST":
                    self.posts += 1
                    self.keys.append(headers.get("idempotency-key", ""))
                    if self.kill is not None and self.posts == self.kill[1]:
                        os.kill(self.kill[0], signal.SIGKILL)
                        self.killed_at = time.time()
                        self.kill = None
        return reply

    def statuses(self) -> collections.Counter[int]:
        with self.lock:
            return collections.Counter(a[3] for a in self.answers)


def write_config(folder: Path, base_url: str, state_url: str, sheets: int, poll_s: int) -> None:
    text = (
        f'[warmysender]\nbase_url = "{base_url}"\n[state]\nurl = "{state_url}"\n'
        f"[workers]\nheartbeat_seconds = {HEARTBEAT_S}\nfailover_seconds = {FAILOVER_S}\n"
    )
    for i in range(sheets):
        (folder / f"book{i}.xlsx").write_bytes(build_workbook())
        text += (
            f'[[sheet]]\nname = "s{i}"\nsource = "xlsx"\nspreadsheet = "book{i}.xlsx"\n'
            f'poll_seconds = {poll_s}\nsettle_polls = 0\ncustom_fields = ["Industry"]\n'
        )
    (folder / "sheetsync.toml").write_text(text, encoding="utf-8")


class Worker(Daemon):
    """A `sheetsync worker` process named `name`."""

    command = "worker"

    def __init__(self, folder: Path, name: str) -> None:
        super().__init__(folder, "--name", name, "--concurrency", "3")
        self.name = name

    def started(self) -> None:
        self.wait_for(lambda line: "SIGINT or SIGTERM stops" in line)

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.finish()


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT_S}s: {what}")
        time.sleep(0.1)
