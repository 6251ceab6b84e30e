"""Workers on a PostgreSQL state: `sheetsync worker` processes on this machine sharing 200 Google
sheets (the emulator) against the WarmySender sandbox, both answering after LATENCY_S; the
failover after kill -9; and what the PostgreSQL store costs a poll against SQLite.

    python bench/workers.py [--quick] [--json]      (bench/run.py reports it as "workers")

- fleet:    1, 2 and 4 workers, for WINDOW_S after a warm-up, in two settings: `limits` (Google's
            default 60 reads and 60 writes a minute per credential, WarmySender's default 60
            calls a minute, polls every 60 s: the limits bind) and `throughput` (limits out of
            reach, polls every 15 s: the workers' speed binds). New prospects arrive at
            CHURN_PER_S on random sheets, so polls have API work. From the run records and the
            two servers: polls a minute, API calls and Google reads a minute against the limits,
            overlapping cycles of one sheet, 429s.
- failover: 2 workers on the production [workers] defaults; one is killed (-9) in the middle of
            cycles; for the sheets it was in a cycle of, the time to their next cycle.
- store:    one long-lived SheetSync in this process (the emulator and the sandbox too, on a
            fake clock), unchanged and 1%-changed polls of a 1,000 and a 10,000-prospect sheet,
            with the state in SQLite and in PostgreSQL (the same throwaway server).
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/workers.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench.fixtures import TOKEN, UNLIMITED, World, campaign_tabs, prospect_row  # noqa: E402
from bench.run import SHEET, changed_rows, measured, note, table  # noqa: E402
from bench.run import main as run_main  # noqa: E402
from sheetsync.app.worker import Runtime, failover_bound_s  # noqa: E402
from sheetsync.clock import FakeClock, SystemClock  # noqa: E402
from sheetsync.config import Secret, load_config  # noqa: E402
from sheetsync.sandbox import DEMO_KEY  # noqa: E402
from sheetsync.state.connect import open_state  # noqa: E402
from sheetsync.state.postgres import connect_pool, open_postgres  # noqa: E402
from sheetsync.testing.postgres import Server, TempPostgres  # noqa: E402

LATENCY_S = 0.08
SHEETS = 200
WINDOW_S = 60.0
WARMUP_S = 15.0
CHURN_PER_S = 2.0  # new prospects a second, on random sheets
WORKER_COUNTS = (1, 2, 4)
CONCURRENCY = 4  # cycles at once per worker
SETTINGS = {
    "limits": {"poll_s": 60, "google_per_min": 60, "warmysender_per_min": 60},
    "throughput": {"poll_s": 15, "google_per_min": UNLIMITED, "warmysender_per_min": 6_000},
}
STORE_SIZES = (1_000, 10_000)


def empty_tabs() -> dict[str, list[list[object]]]:
    return {t: rows[:1] for t, rows in campaign_tabs(0).items()}


def write_config(folder: Path, urls: dict[str, str], sheets: list[str], poll_s: int,
                 google_per_min: int) -> Path:  # fmt: skip
    text = (
        f'[warmysender]\nbase_url = "{urls["api"]}"\n'
        f'[google]\nauth = "token"\nsheets_base_url = "{urls["sheets"]}"\n'
        f"reads_per_minute = {google_per_min}\nwrites_per_minute = {google_per_min}\n"
        f'[state]\nurl = "{urls["state"]}"\n'
    )
    for i, sid in enumerate(sheets):
        text += (
            f'[[sheet]]\nname = "s{i:03d}"\nsource = "google"\nspreadsheet = "{sid}"\n'
            f'poll_seconds = {poll_s}\nsettle_polls = 0\ncustom_fields = ["Industry"]\n'
        )
    path = folder / "sheetsync.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Fleet(World):
    """The bench's World on the real clock, every answer after LATENCY_S, with a PostgreSQL
    database, `sheets` empty sheets on one config file and `n` worker processes reading it."""

    def __init__(self, pg: Server, name: str, *, sheets: int, poll_s: int,
                 google_per_min: int, warmysender_per_min: int) -> None:  # fmt: skip
        self.url = pg.create_database(name)
        super().__init__(
            clock=SystemClock(), rate_limit=warmysender_per_min, google_quota=google_per_min
        )
        self.emu.hook = lambda kind, emu: time.sleep(LATENCY_S)  # every answer after LATENCY_S
        self.sandbox.faults.latency_ms = int(LATENCY_S * 1000)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sheets = [self.emu.create_spreadsheet(empty_tabs()) for _ in range(sheets)]
        self.rows = [1] * sheets
        urls = {"api": self.server.base_url, "sheets": self.emu.base_url, "state": self.url}
        self.workers_config = load_config(
            write_config(self.dir, urls, self.sheets, poll_s, google_per_min), env={}
        )
        self._stop = threading.Event()
        self._churn = threading.Thread(target=self._arrivals, daemon=True)
        self.added = 0

    def start(self, workers: int, *, env: dict[str, str] | None = None) -> None:
        env = {**os.environ, "WARMYSENDER_API_KEY": DEMO_KEY, "SHEETSYNC_GOOGLE_TOKEN": TOKEN,
               **(env or {})}  # fmt: skip
        for i in range(workers):
            cmd = [sys.executable, "-m", "sheetsync", "--config", "sheetsync.toml", "worker",
                   "--name", f"w{i}", "--concurrency", str(CONCURRENCY)]  # fmt: skip
            log = (self.dir / f"w{i}.log").open("wb")
            self.procs.append(subprocess.Popen(cmd, cwd=self.dir, env=env, stderr=log, stdout=log))
        self._churn.start()

    def workers_cpu_s(self) -> float:
        """CPU seconds the worker processes used so far (user + system, from /proc)."""
        total = 0
        for p in self.procs:
            try:
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def _arrivals(self) -> None:
        """New prospects on random sheets, CHURN_PER_S of them a second."""
        rng = random.Random(7)
        while not self._stop.wait(1.0 / CHURN_PER_S):
            n = rng.randrange(len(self.sheets))
            row = self.rows[n] + 1
            for col, value in enumerate(prospect_row(10_000 * n + row)):
                self.emu.set_cell(self.sheets[n], "Prospects", row, col, value)
            self.rows[n] = row
            self.added += 1

    def close(self) -> None:
        self._stop.set()
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        super().close()


@dataclass(frozen=True)
class RunRecord:
    """A row of the run records of a PostgreSQL state (what bench/ and tests/postgres read)."""

    sheet: str
    worker: str | None
    ok: bool
    started: float | None
    finished: float
    report: dict[str, Any] | None
    message: str | None


def runs(url: str, since: float = 0.0) -> list[RunRecord]:
    """The run records of cycles finished at `since` or later, oldest first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT sheet, worker, ok, started, finished, report, message FROM runs "
            "WHERE finished >= %s ORDER BY id",
            (since,),
        ).fetchall()
    return [
        RunRecord(r[0], r[1], bool(r[2]), r[3], r[4], json.loads(r[5]) if r[5] else None, r[6])
        for r in rows
    ]


def overlaps(records: list[RunRecord]) -> list[tuple[RunRecord, RunRecord]]:
    """Pairs of cycles of one sheet that were running at the same time."""
    found = []
    by_sheet: dict[str, list[RunRecord]] = collections.defaultdict(list)
    for r in records:
        if r.ok and r.started is not None:
            by_sheet[r.sheet].append(r)
    for cycles in by_sheet.values():
        cycles.sort(key=lambda r: r.started or 0.0)
        for a, b in zip(cycles, cycles[1:], strict=False):
            if b.started is not None and b.started < a.finished:
                found.append((a, b))
    return found


def bench_fleet(pg: Server, setting: str, workers: int, *, sheets: int, window_s: float,
                warmup_s: float) -> dict[str, Any]:  # fmt: skip
    limits = SETTINGS[setting]
    note(f"fleet {setting}: {workers} workers x {sheets} sheets, {window_s:.0f}s window")
    fleet = Fleet(pg, f"fleet_{setting}_{workers}", sheets=sheets, poll_s=limits["poll_s"],
                  google_per_min=limits["google_per_min"],
                  warmysender_per_min=limits["warmysender_per_min"])  # fmt: skip
    try:
        fleet.start(workers)
        time.sleep(warmup_s)
        api0, google0 = sum(fleet.sandbox.statuses.values()), sum(fleet.emu.answered.values())
        reads0, t0 = fleet.emu.reads, time.time()
        cpu0, servers0 = fleet.workers_cpu_s(), time.process_time()
        time.sleep(window_s)
        t1 = time.time()
        cpu, servers = fleet.workers_cpu_s() - cpu0, time.process_time() - servers0
        api = sum(fleet.sandbox.statuses.values()) - api0
        google = sum(fleet.emu.answered.values()) - google0
        reads = fleet.emu.reads - reads0
        records = runs(fleet.url, 0)
        in_window = [r for r in records if r.started is not None and t0 <= r.started < t1]
        per_min = 60.0 / (t1 - t0)
        return {
            "setting": setting,
            "workers": workers,
            "sheets": sheets,
            "poll_seconds": limits["poll_s"],
            "polls_wanted_per_min": round(sheets * 60 / limits["poll_s"]),
            "polls_per_min": round(len(in_window) * per_min, 1),
            "api_calls_per_min": round(api * per_min, 1),
            "api_limit_per_min": limits["warmysender_per_min"],
            "google_requests_per_min": round(google * per_min, 1),
            "google_reads_per_min": round(reads * per_min, 1),
            "google_read_limit_per_min": limits["google_per_min"],
            "failed_cycles": sum(1 for r in in_window if not r.ok),
            "overlapping_cycles": len(overlaps(records)),
            "http_429_warmysender": fleet.sandbox.statuses[429],
            "http_429_google": fleet.emu.answered[429],
            "workers_seen": len({r.worker for r in in_window}),
            "workers_cores": round(cpu / (t1 - t0), 2),  # CPU used by the workers, in cores
            "worker_cpu_ms_per_poll": round(1000 * cpu / max(len(in_window), 1)),
            "servers_cores": round(servers / (t1 - t0), 2),  # by the emulator and the sandbox
            "prospects_added": fleet.added,
        }
    finally:
        fleet.close()


def bench_failover(pg: Server, *, sheets: int, warmup_s: float) -> dict[str, Any]:
    """Kill -9 one of two workers, at steady state, while it is in cycles of at least two
    sheets (or one, after a minute of trying); the time those sheets wait."""
    note(f"failover: 2 workers x {sheets} sheets, production [workers] defaults")
    fleet = Fleet(pg, "failover", sheets=sheets, poll_s=60, google_per_min=UNLIMITED,
                  warmysender_per_min=6_000)  # fmt: skip
    try:
        fleet.start(2)
        victim = fleet.procs[0]
        time.sleep(warmup_s)
        deadline = time.time() + 60
        held: list[str] = []
        with psycopg.connect(fleet.url, autocommit=True) as conn:
            while len(held) < (2 if time.time() < deadline else 1):
                if time.time() > deadline + 120:
                    raise RuntimeError("the first worker never ran a cycle")
                time.sleep(0.05)
                try:
                    held = [r[0] for r in conn.execute(
                        "SELECT j.args->>'sheet' FROM procrastinate_jobs j JOIN workers w "
                        "ON w.id = j.worker_id WHERE w.name = 'w0' AND j.status = 'doing'"
                    ).fetchall()]  # fmt: skip
                except psycopg.errors.UndefinedTable:
                    pass  # the workers have not created the tables yet
        victim.kill()
        killed = time.time()
        note(f"failover: killed w0 in cycles of {len(held)} sheets")
        waits: dict[str, float] = {}
        while len(waits) < len(held) and time.time() < killed + 120:
            time.sleep(0.2)
            for r in runs(fleet.url, killed):
                if r.sheet in held and r.ok and r.started is not None and r.started > killed:
                    waits.setdefault(r.sheet, r.started - killed)
        return {
            "sheets": sheets,
            "held_by_the_killed_worker": len(held),
            "handed_on": len(waits),
            "max_wait_s": round(max(waits.values()), 1) if waits else None,
            "median_wait_s": round(statistics.median(waits.values()), 1) if waits else None,
            # failover_seconds + a keeper tick + a fetch
            "bound_s": failover_bound_s(fleet.workers_config),
            "after_warmup_s": warmup_s,
        }
    finally:
        fleet.close()


def bench_store(pg: Server, size: int) -> list[dict[str, Any]]:
    """The same unchanged and 1%-changed polls with the state in SQLite, polled by the daemon
    of `sheetsync run`, then in PostgreSQL, polled by a worker's Runtime (its pool, its shared
    WarmySender and Google budgets), each keeping its sync between polls."""
    return [row for store in ("sqlite", "postgresql") for row in _store_polls(pg, store, size)]


def _store_polls(pg: Server, store: str, size: int) -> list[dict[str, Any]]:
    note(f"store: {size:,} rows on {store}")
    clock = FakeClock()
    out = []
    with World(clock=clock, google_quota=UNLIMITED) as world, ExitStack() as stack:
        world.make_sheet(campaign_tabs(size))
        if store == "postgresql":
            url = Secret(pg.create_database(f"store_{size}"))
            world.top["state"] = {"url": url.reveal()}
            open_postgres(url, clock=clock).close()  # the schema, as the first worker makes it
            pool = stack.enter_context(connect_pool(url, size=4))
            rt = Runtime(world.config(), "bench", pool, clock=clock)
            stack.callback(rt.close)
        else:
            daemon = world.daemon(world.config())

        def polled() -> bool:
            if store == "postgresql":
                return rt.cycle(rt.config.sheets[0]) == "ok"
            return daemon.run_due() == [(SHEET, "ok")]

        config = world.config()
        for _ in range(50):  # the first sync
            clock.advance(60)
            if not polled():
                raise RuntimeError(f"{store}: the first sync failed")
            with open_state(config) as state:
                report = state.recent_runs(SHEET, 1)[0].report
            if report is not None and not report["deferred"]:
                break
        clock.advance(60)
        polled()  # statuses written: the sheet is settled
        for version, fraction in enumerate((0.0, 0.01), start=1):
            rows = changed_rows(size, fraction)
            world.edit_prospects(rows, version)
            clock.advance(60)
            calls0 = world.api_calls()
            m: dict[str, Any] = {}
            with measured(m):
                ok = polled()
            if not ok:
                raise RuntimeError(f"{store}: the measured poll failed")
            out.append({"store": store, "rows": size, "changed_rows": len(rows),
                        "api_calls": world.api_calls() - calls0, **m})  # fmt: skip
    return out


def run(*, quick: bool) -> dict[str, Any]:
    sheets = 20 if quick else SHEETS
    window, warmup = (15.0, 10.0) if quick else (WINDOW_S, WARMUP_S)
    counts = (1, 2) if quick else WORKER_COUNTS
    settings = ("throughput",) if quick else tuple(SETTINGS)
    with TempPostgres() as pg:
        fleet = [
            bench_fleet(pg, s, n, sheets=sheets, window_s=window, warmup_s=warmup)
            for s in settings
            for n in counts
        ]
        failover = bench_failover(pg, sheets=sheets, warmup_s=warmup)
        store = [r for size in STORE_SIZES[: 1 if quick else None] for r in bench_store(pg, size)]
    return {"fleet": fleet, "failover": failover, "store": store, "latency_s": LATENCY_S}


FLEET_COLUMNS = (
    "setting", "workers", "sheets", "polls_wanted_per_min", "polls_per_min",
    "api_calls_per_min", "api_limit_per_min", "google_reads_per_min", "google_read_limit_per_min",
    "overlapping_cycles", "http_429_warmysender", "http_429_google", "failed_cycles",
    "workers_cores", "servers_cores", "worker_cpu_ms_per_poll",
)  # fmt: skip
STORE_COLUMNS = ("store", "rows", "changed_rows", "api_calls", "wall_s", "engine_cpu_s", "cpu_s")


def render(result: dict[str, Any]) -> str:
    f = result["failover"]
    return "\n".join(
        [
            f"fleet (every answer after {result['latency_s'] * 1000:.0f} ms)",
            table(result["fleet"], FLEET_COLUMNS),
            "",
            f"failover: kill -9 of a worker in cycles of {f['held_by_the_killed_worker']} "
            f"sheets; {f['handed_on']} carried on elsewhere after {f['median_wait_s']} s "
            f"(median), {f['max_wait_s']} s (max); bound {f['bound_s']} s",
            "",
            "store: one poll of a long-lived SheetSync",
            table(result["store"], STORE_COLUMNS),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, doc=__doc__, quick="20 sheets, short windows", measure=run,
                          show=render)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
