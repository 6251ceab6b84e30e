"""`sheetsync worker` as real processes sharing one config through the PostgreSQL state: the
sheets spread over the workers, one cycle of a sheet at a time (checked from the run records),
one shared WarmySender budget (no 429), kill -9 mid-cycle handed on and finished without doing
anything twice, SIGTERM finishing the cycle in progress."""

from __future__ import annotations

import signal
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench.workers import overlaps, runs
from sheetsync.app.worker import failover_bound_s
from sheetsync.config import load_config
from sheetsync.sandbox.server import SandboxServer
from tests.postgres.fleet import FleetSandbox, Worker, wait_until, write_config

pytestmark = pytest.mark.slow
POLL_S = 3


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.kill()
        print(w.name, "\n".join(w.lines[-30:]))


def serve(sandbox: FleetSandbox) -> SandboxServer:
    server = SandboxServer(sandbox)
    server.start()
    return server


def test_workers_share_the_sheets_and_one_budget_and_never_overlap_a_sheet(
    tmp_path: Path, pg_url: str, workers: list[Worker]
) -> None:
    sandbox = FleetSandbox(rate_limit=60)  # the three first syncs want ~110 calls
    with serve(sandbox) as server:
        write_config(tmp_path, server.base_url, pg_url, sheets=3, poll_s=POLL_S)
        workers += [Worker(tmp_path, f"w{i}") for i in range(3)]
        for w in workers:
            w.started()
        wait_until(
            lambda: all(n >= 3 for n in ok_cycles(pg_url, 3).values()),
            "three cycles of each sheet",
        )
        assert [w.stop() for w in workers] == [0, 0, 0]
    records = runs(pg_url)
    assert overlaps(records) == []
    assert len({r.worker for r in records}) >= 2, "the sheets were spread over the workers"
    # One budget for the three workers: at most 60 calls in the window, and never a 429.
    assert sandbox.statuses()[429] == 0
    assert 40 <= len(sandbox.answers) <= 60
    assert any(r.report and r.report["deferred"] for r in records)  # the limit did bind
    # Each sheet on its own poll_seconds: never more often (a poll may start up to
    # FETCH_INTERVAL_S late, or later on a busy machine, and the next keeps to the grid).
    starts: dict[str, list[float]] = defaultdict(list)
    for r in records:
        if r.started is not None:
            starts[r.sheet].append(r.started)
    for s in starts.values():
        assert len(s) - 1 <= (s[-1] - s[0]) / POLL_S + 1, s
    gaps = [b - a for s in starts.values() for a, b in zip(s, s[1:], strict=False)]
    assert statistics.median(gaps) >= POLL_S * 0.8, gaps


def ok_cycles(url: str, sheets: int) -> dict[str, int]:
    counts = {f"s{i}": 0 for i in range(sheets)}
    for r in runs(url):
        if r.ok:
            counts[r.sheet] += 1
    return counts


def test_kill_9_mid_cycle_moves_the_sheet_on_and_nothing_is_done_twice(
    tmp_path: Path, pg_url: str, workers: list[Worker]
) -> None:
    sandbox = FleetSandbox(rate_limit=600)
    sandbox.gate.clear()  # the first worker's first write waits until the second is up
    with serve(sandbox) as server:
        write_config(tmp_path, server.base_url, pg_url, sheets=1, poll_s=30)
        first = Worker(tmp_path, "first")
        workers.append(first)
        first.started()
        assert sandbox.waiting.wait(60), "the first worker's first write"
        second = Worker(tmp_path, "second")
        workers.append(second)
        second.started()
        # killed right after its 6th write was done in WarmySender, before the answer
        sandbox.kill = (first.proc.pid, 6)
        sandbox.gate.set()
        wait_until(lambda: sandbox.killed_at is not None, "the kill")
        killed_at = sandbox.killed_at
        assert killed_at is not None
        wait_until(lambda: any(r.ok for r in runs(pg_url)), "a finished cycle")
        assert second.stop() == 0
    records = runs(pg_url)
    failover, done = records[0], records[1]
    assert not failover.ok and failover.message is not None
    assert failover.message.startswith("first stopped during a cycle (no heartbeat for 3s)")
    assert done.ok and done.worker == "second" and done.started is not None
    config = load_config(tmp_path / "sheetsync.toml", env={})
    assert done.started - killed_at <= failover_bound_s(config) + 1.0
    # Nothing twice: the write the dead worker never heard back from was sent again with its
    # Idempotency-Key (and answered from it), one campaign per name, each prospect once, and
    # no intent left open.
    cut = sandbox.keys[5]
    assert sandbox.keys.count(cut) == 2 and sandbox.keys.index(cut, 6) >= 6
    ws = sandbox.state()["workspaces"][0]
    names = [c["name"] for c in ws["campaigns"]]
    assert sorted(names) == sorted(set(names)) and len(names) == 2
    assert done.report is not None and done.report["deferred"] == 0  # the whole sheet is done
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM intents").fetchone() == (0,)
        statuses = conn.execute(
            "SELECT status FROM items WHERE role = 'prospects' AND sheet = 's0'"
        ).fetchall()
    assert {s for (s,) in statuses} <= {"synced", "exists"}
    emails = [p["email"] for p in ws["prospects"]]
    assert len(emails) == len(set(emails))


def test_sighup_is_only_logged_and_sigterm_finishes_the_cycle_in_progress_then_exits_0(
    tmp_path: Path, pg_url: str, workers: list[Worker]
) -> None:
    sandbox = FleetSandbox(rate_limit=600, latency_ms=30)
    with serve(sandbox) as server:
        write_config(tmp_path, server.base_url, pg_url, sheets=1, poll_s=30)
        worker = Worker(tmp_path, "only")
        workers.append(worker)
        worker.started()
        worker.proc.send_signal(signal.SIGHUP)  # `systemctl reload`: logged, not a stop
        worker.wait_for(lambda line: "SIGHUP: a worker does not reload its config" in line)
        wait_until(lambda: sandbox.posts >= 1, "the first write")
        signalled = time.time()
        assert worker.stop() == 0
    text = "\n".join(worker.lines)
    assert "SIGTERM: finishing the cycles in progress" in text
    assert text.index("finishing the cycles") < text.index("s0: 52 rows")
    [done] = runs(pg_url)
    assert done.ok and done.worker == "only" and done.finished > signalled
    assert done.report is not None and done.report["deferred"] == 0
    assert done.report["prospects_created"] > 0 and done.report["enrolled"] > 0
    with psycopg.connect(pg_url) as conn:  # the next poll waits for any worker
        job = conn.execute(
            "SELECT status, args->>'sheet' FROM procrastinate_jobs WHERE task_name = "
            "'sheetsync.poll'"
        ).fetchall()
        assert job == [("todo", "s0")]
        assert conn.execute("SELECT count(*) FROM workers").fetchone() == (0,)


def test_failover_bound_of_the_defaults_is_under_a_minute(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[[sheet]]\nname = "a"\nsource = "xlsx"\nspreadsheet = "a.xlsx"\n', encoding="utf-8"
    )
    assert failover_bound_s(load_config(tmp_path / "c.toml", env={})) <= 30
