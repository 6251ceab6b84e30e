"""What a worker process keeps between polls, on a real PostgreSQL state, the emulator and the
sandbox: one open sync per sheet (an unchanged poll is one Sheets read, as in the daemon), read
again from PostgreSQL when another worker ran the sheet since (it never plans from stale items),
and its polls chained at the daemon's pace (stretched to fit the credential's Google quota)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job

from sheetsync.app.pace import paces
from sheetsync.app.worker import (
    GOOGLE_MARGIN_S,
    POLL,
    QUEUE,
    Runtime,
    build_app,
    prepare_engine,
    sheet_lock,
)
from sheetsync.clock import FakeClock
from sheetsync.config import Config, Secret, parse_config
from sheetsync.sandbox import DEMO_KEY, Sandbox, SandboxServer, demo_seed
from sheetsync.state.postgres import connect_pool, open_postgres
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine.conftest import TOKEN, default_tabs


class World:
    def __init__(self, tmp_path: Path, pg_url: str, sheets: int, **google: Any) -> None:
        self.clock = FakeClock()
        self.sandbox = Sandbox(demo_seed(), clock=self.clock)
        self.server = SandboxServer(self.sandbox)
        self.emu = SheetsEmulator(
            clock=self.clock, tokens={TOKEN}, read_quota_per_min=10**6, write_quota_per_min=10**6
        )
        self.server.start()
        self.emu.start()
        self.ids = [self.emu.create_spreadsheet(default_tabs()) for _ in range(sheets)]
        self.config: Config = parse_config(
            {
                "warmysender": {"base_url": self.server.base_url},
                "google": {"auth": "token", "sheets_base_url": self.emu.base_url, **google},
                "state": {"url": pg_url},
                "sheet": [
                    {"name": f"s{i}", "spreadsheet": sid, "settle_polls": 0}
                    for i, sid in enumerate(self.ids)
                ],
            },
            path=tmp_path / "sheetsync.toml",
            env={"WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN},
        )
        open_postgres(Secret(pg_url)).close()  # the schema, as the first worker makes it
        self.pools = []
        self.url = pg_url

    def worker(self, name: str) -> Runtime:
        pool = connect_pool(Secret(self.url), size=4)
        self.pools.append(pool)
        return Runtime(self.config, name, pool, clock=self.clock)

    def last_report(self, sheet: str) -> dict[str, Any]:
        with open_postgres(Secret(self.url)) as state:
            report = state.recent_runs(sheet, 1)[0].report
        assert report is not None
        return report

    def close(self) -> None:
        for pool in self.pools:
            pool.close()
        self.emu.close()
        self.server.close()


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[World]:
    w = World(tmp_path, pg_url, 1)
    yield w
    w.close()


def test_a_kept_sync_polls_with_one_read_and_reads_the_items_again_after_another_worker(
    world: World,
) -> None:
    sheet = world.config.sheets[0]
    a, b = world.worker("a"), world.worker("b")
    try:
        assert a.cycle(sheet) == "ok"  # the first sync
        kept = a.sync_for(sheet)
        world.clock.advance(60)
        assert a.cycle(sheet) == "ok"
        quiet = world.last_report("s0")
        assert (quiet["sheets_reads"], quiet["sheets_writes"], quiet["api_calls"]) == (1, 0, 0)

        world.emu.set_cell(world.ids[0], "Prospects", 5, 0, "new@example.com")  # a new row
        world.clock.advance(60)
        assert b.cycle(sheet) == "ok"  # the sheet moved to worker b, which creates it
        assert world.last_report("s0")["prospects_created"] == 1

        world.clock.advance(60)
        assert a.cycle(sheet) == "ok"  # and back: a's kept items knew nothing of the new row
        back = world.last_report("s0")
        assert (back["api_calls"], back["prospects_created"], back["sheets_reads"]) == (0, 0, 1)
        assert a.sync_for(sheet) is kept  # the same open sync all along
    finally:
        a.close()
        b.close()
    emails = [p["email"] for p in world.sandbox.state()["workspaces"][0]["prospects"]]
    assert emails.count("new@example.com") == 1


def test_a_workers_next_poll_is_at_the_pace_of_its_quota_slots(tmp_path: Path, pg_url: str) -> None:
    """Two Google sheets polled every 60 s need 2 reads a minute; the credential allows 1, and a
    worker holds each slot 62 s: each is polled every 124 s by the workers together."""
    w = World(tmp_path, pg_url, 2, reads_per_minute=1)
    rt = w.worker("a")
    pace = paces(w.config, margin_s=GOOGLE_MARGIN_S)["s0"].poll_s
    assert pace == pytest.approx(2 * (60 + GOOGLE_MARGIN_S)) == 124
    try:
        prepare_engine(w.pools[0], rt.url)
        app = build_app(rt)
        due = datetime.now(UTC)
        job = Job(
            queue=QUEUE,
            lock=sheet_lock("s0"),
            queueing_lock=sheet_lock("s0"),
            task_name=POLL,
            task_kwargs={"sheet": "s0"},
            scheduled_at=due,
        )
        context = JobContext(
            app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None
        )

        async def poll() -> None:
            async with app.open_async():
                await app.tasks[POLL].func(context, sheet="s0")

        asyncio.run(poll())
    finally:
        rt.close()
        w.close()
    with psycopg.connect(pg_url) as conn:
        [(at,)] = conn.execute(
            "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = %s", (POLL,)
        ).fetchall()
    assert (at - due).total_seconds() == pytest.approx(pace, abs=0.01)
    assert w.last_report("s0")["rows_read"] > 0  # the cycle ran (its API work waits for quota)


def test_a_part_that_fails_to_close_keeps_no_other_open_and_the_worker_running(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    sheet = world.config.sheets[0]
    w = world.worker("w")
    assert w.cycle(sheet) == "ok"
    sync = w.sync_for(sheet)
    closed: list[str] = []
    close_source, close_api = sync.source.close, sync.api.close

    def broken_close() -> None:
        close_source()  # what it holds is released; then the close fails
        raise OSError("the connection was already gone")

    def recorded_close() -> None:
        closed.append("api")
        close_api()

    sync.source.close = broken_close  # type: ignore[method-assign]
    sync.api.close = recorded_close  # type: ignore[method-assign]
    w.drop(sheet.name)  # the source closes first: its failure left the API client open before
    assert closed == ["api"] and sheet.name not in w._open
    assert "closing the sheet's connections failed: the connection was already gone" in caplog.text
    world.clock.advance(60)
    assert w.cycle(sheet) == "ok"  # opened afresh
