"""sheetsync benchmarks: request economy, CPU at scale, the Google quota, and the rate limit used
to the last call, measured on the daemon that `sheetsync run` runs.

    python bench/run.py [--quick] [--json]

Runs the real daemon (app/daemon.Daemon, with the real engine) against the Google Sheets emulator
(which enforces Google's 60 reads and 60 writes a minute per user) and the WarmySender sandbox,
over loopback, in this process, and prints a table (or one JSON object):

- polls:   polls of the daemon (its sync kept open between polls, settle_polls = 0) on sheets of
           1,000 / 10,000 / 100,000 prospects, with 0 and 1% of the rows changed: Sheets requests
           and API calls counted at the emulator and the sandbox, the polling thread's CPU next
           to the floor measured in the same run (decoding the same values.batchGet response),
           and the memory the daemon keeps between polls;
- naive:   the same sheets and changes through bench/naive.py (one API call and one row
           update per changed row), for the ratio;
- quota:   100 sheets of 1,000 prospects on one Google credential at poll_seconds = 60, ten
           simulated minutes: Google 429s and the reads a minute used of the quota;
- backlog: 1,000 new prospects enrolled into one new running campaign at 6,000 calls/min, on
           the real clock, the daemon polling every 60 s; the full run adds the same backlog at
           600/min, where the limit binds.
- webhooks: 1,000 events (an open per enrolled prospect) delivered by the sandbox in one burst,
           32 at a time, to the real receiver of `sheetsync run` ([webhooks]); how long each
           took to be acknowledged (WarmySender waits 5 s), then the daemon's poll that projects
           them.
- workers: `sheetsync worker` processes on a throwaway PostgreSQL over 200 sheets, the failover
           after kill -9, and the PostgreSQL store against SQLite (bench/workers.py; skipped,
           with the reason, when no PostgreSQL server can be started here).

docs/PERFORMANCE.md holds the figures of one full run and what limits each of them.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import resource
import sys
import time
import tracemalloc
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` and `sheetsync` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fixtures import (  # noqa: E402
    TOKEN,
    UNLIMITED,
    World,
    campaign_tabs,
    email,
)
from bench.naive import NaiveSync  # noqa: E402
from sheetsync.app.daemon import Daemon, collector_policy  # noqa: E402
from sheetsync.app.webhooks import receiving  # noqa: E402
from sheetsync.clock import FakeClock, SystemClock  # noqa: E402
from sheetsync.config import Config  # noqa: E402
from sheetsync.sandbox import DEMO_KEY  # noqa: E402
from sheetsync.serving import free_port  # noqa: E402
from sheetsync.sheet.google.build import quote_title  # noqa: E402
from sheetsync.sheet.google.source import READ_PARAMS  # noqa: E402
from sheetsync.sync.cycle import READ_ROLES  # noqa: E402
from sheetsync.sync.execute.enrollments import BATCH  # noqa: E402
from sheetsync.testing.sheets_emulator import READ_KINDS  # noqa: E402

FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
CHANGED_FRACTIONS = (0.0, 0.01)
BACKLOG_PROSPECTS = 1_000
BACKLOG_RATE = 6_000
BOUND_RATE = 600  # the full run's second backlog: 1,000 prospects need two windows
TRACE_MAX_ROWS = 10_000  # tracemalloc slows every thread ~5x: the 100,000-row poll skips it
REAL_LIMIT = 60  # WarmySender's default plan, calls per minute
FIRST_SYNC_PROSPECTS = 10_000
QUOTA_FULL = {"sheets": 100, "rows": 1_000, "poll_seconds": 60, "minutes": 10}
QUOTA_QUICK = {"sheets": 20, "rows": 50, "poll_seconds": 15, "minutes": 3}
SHEET = "bench"
REPEAT = 3  # polls measured per size and change, in a row
WEBHOOK_EVENTS = 1_000
WEBHOOK_WORKERS = 32  # deliveries in flight at once
WEBHOOK_TIMEOUT_MS = 5_000  # WarmySender's: a delivery not answered 2xx by then is retried


def note(text: str) -> None:
    """Progress on stderr, so a long run shows where it is (stdout holds the result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- measuring ------------------------------------------------------------------------------


@contextmanager
def measured(out: dict[str, Any]) -> Iterator[None]:
    """Wall, process CPU (every thread: engine, emulator, sandbox), the calling thread's CPU
    (the engine alone: it runs the cycle on this thread) and the peak RSS inside the block. No
    collection beforehand: a poll pays the collector's work as it falls, as in the daemon."""
    reset = _reset_peak_rss()
    w0, c0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
    yield
    out["cpu_s"] = round(time.process_time() - c0, 3)
    out["engine_cpu_s"] = round(time.thread_time() - t0, 3)
    out["wall_s"] = round(time.perf_counter() - w0, 3)
    out["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    out["peak_rss_scope"] = "poll" if reset else "process"


def _reset_peak_rss() -> bool:
    """Linux: reset VmHWM so the next read is the peak of this block (not of the setup)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def traced_peak_mb(fn: Callable[[], object]) -> float:
    """The peak of Python memory allocated while `fn` runs (tracemalloc, every thread)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def floor_cpu_s(world: World, config: Config, repeat: int = 3) -> tuple[float, float]:
    """(CPU s, MB): decoding the values.batchGet response of a poll, as the Google source asks
    for it (the same ranges and render options), the least of `repeat` decodes: the floor of a
    poll's CPU, whatever the engine does with the rows."""
    tabs = [quote_title(config.sheets[0].tab(r).title) for r in READ_ROLES]
    url = f"{world.emu.base_url}/v4/spreadsheets/{world.spreadsheet}/values:batchGet"
    params = [("ranges", t) for t in tabs] + list(READ_PARAMS.items())
    answer = requests.get(url, params=params, headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    body = answer.content
    best = math.inf
    for _ in range(repeat):
        gc.collect()
        t0 = time.thread_time()
        decoded = json.loads(body)
        best = min(best, time.thread_time() - t0)
        del decoded
    return round(best, 3), round(len(body) / 2**20, 1)


def held_mb(root: object) -> float:
    """The memory reachable from `root` (a sheet's open sync: its state and items, row cache,
    source with its metadata, API client), without classes, modules and functions: what the
    daemon keeps for the sheet between polls."""
    skip = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return round(total / 2**20, 1)


def changed_rows(size: int, fraction: float) -> list[int]:
    """Prospect indexes spread evenly over the tab."""
    n = round(size * fraction)
    return [i * size // n for i in range(n)] if n else []


# --- polls ----------------------------------------------------------------------------------


def until_done(daemon: Daemon, world: World, config: Config, clock: FakeClock) -> int:
    """Poll until nothing is deferred (the first sync); returns the polls it took."""
    poll_s = config.sheets[0].poll_seconds
    for n in range(1, 51):
        if daemon.run_due() != [(SHEET, "ok")]:
            raise RuntimeError(f"the first sync failed: {daemon.runs[SHEET].last_error}")
        if not world.last_report(config, SHEET)["deferred"]:
            return n
        clock.advance(poll_s)
    raise RuntimeError("the first sync did not finish in 50 polls")


def poll(daemon: Daemon, world: World, clock: FakeClock, poll_s: float, m: dict[str, Any]) -> None:
    """One poll of the daemon, `poll_s` after the previous one, measured into `m`."""
    clock.advance(poll_s)
    reads0, writes0, calls0 = world.emu.reads, world.emu.writes, world.api_calls()
    patches0 = world.workspace.by_endpoint["PATCH /prospects/{id}"]
    with measured(m):
        outcome = daemon.run_due()
    if outcome != [(SHEET, "ok")]:
        raise RuntimeError(f"the poll failed: {outcome} {daemon.runs[SHEET].last_error}")
    m["sheets_reads"] = world.emu.reads - reads0
    m["sheets_writes"] = world.emu.writes - writes0
    m["api_calls"] = world.api_calls() - calls0
    m["prospects_updated"] = world.workspace.by_endpoint["PATCH /prospects/{id}"] - patches0


def bench_polls(
    size: int, *, trace_memory: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Polls of the daemon and of the naive sync on a sheet of `size` prospects, one row per
    fraction changed."""
    clock = FakeClock()
    polls: list[dict[str, Any]] = []
    naive: list[dict[str, Any]] = []
    # The naive sync writes a row per change: at 1% of 10,000 rows it needs more than Google's
    # write quota, so this world's emulator does not enforce it (the daemon keeps to its own).
    with World(clock=clock, google_quota=UNLIMITED) as world:
        world.make_sheet(campaign_tabs(size))
        # a poll's API calls are its rows' (the draft campaign's monitor read, one GET every
        # monitor_seconds whatever the rows, is left out of them)
        config = world.config(name=SHEET, monitor_seconds=86_400)
        daemon = world.daemon(config)
        poll_s = daemon.runs[SHEET].pace.poll_s
        note(f"{size:,} rows: first sync (setup)")
        t0 = time.perf_counter()
        setup_polls = until_done(daemon, world, config, clock)
        setup_s = time.perf_counter() - t0
        setup_calls = world.api_calls()
        note(f"{size:,} rows: first sync took {setup_s:.1f} s; measuring polls")
        warm: dict[str, Any] = {}
        poll(daemon, world, clock, poll_s, warm)  # reads the statuses the first sync wrote
        if warm["api_calls"]:
            raise RuntimeError(f"the sheet did not settle: {warm}")
        floor, response_mb = floor_cpu_s(world, config)
        # The naive sync gets its own copy of the synced sheet (statuses and ids included).
        copy_id = world.emu.create_spreadsheet(
            {t: world.emu.values(world.spreadsheet, t) for t in campaign_tabs(0)},
            title="Bench (naive copy)",
        )
        naive_sync = NaiveSync(
            world.emu,
            copy_id,
            token=TOKEN,
            api_base_url=world.server.base_url,
            api_key=DEMO_KEY,
            clock=clock,
        )
        with naive_sync:
            naive_sync.poll()  # its first poll only takes the copy it compares with
            for version, fraction in enumerate(CHANGED_FRACTIONS, start=1):
                rows = changed_rows(size, fraction)
                runs: list[dict[str, Any]] = []
                for again in range(REPEAT):  # polls in a row, as the daemon runs them
                    world.edit_prospects(rows, version + 10 * again)
                    runs.append({})
                    poll(daemon, world, clock, poll_s, runs[-1])
                m = runs[0] | {
                    k: round(sum(r[k] for r in runs) / REPEAT, 3)
                    for k in ("cpu_s", "engine_cpu_s", "wall_s")
                }
                m["engine_cpu_s_max"] = max(r["engine_cpu_s"] for r in runs)
                m["polls_measured"] = REPEAT
                if trace_memory:
                    world.edit_prospects(rows, version + 100)  # the same poll once more
                    once_more = lambda: poll(daemon, world, clock, poll_s, {})  # noqa: E731
                    m["py_peak_mb"] = round(traced_peak_mb(once_more), 1)
                polls.append(
                    {
                        "rows": size,
                        "changed_rows": len(rows),
                        **m,
                        "floor_cpu_s": floor,
                        # the poll after the first sync: every row's status cells had just been
                        # written, so every row was parsed, planned and compared again (what
                        # each poll would cost without the row cache)
                        "all_rows_cpu_s": warm["engine_cpu_s"],
                        "floor_ratio": round(m["engine_cpu_s"] / floor, 2) if floor else None,
                        "response_mb": response_mb,
                        "setup_first_sync_s": round(setup_s, 1),
                        "setup_api_calls": setup_calls,
                        "setup_polls": setup_polls,
                    }
                )
                world.edit_prospects(rows, version, spreadsheet=copy_id)
                naive.append(vars(naive_sync.poll()))
        # What the daemon keeps for the sheet between polls, after a poll that changed nothing.
        poll(daemon, world, clock, poll_s, {})
        held = held_mb(daemon.runs[SHEET].sync)
        for p in polls:
            p["held_mb"] = held
            p["held_mb_per_10k_rows"] = round(held * 10_000 / size, 1)
    return polls, naive


# --- the Google quota ---------------------------------------------------------------------------


def bench_quota(sheets: int, rows: int, poll_seconds: int, minutes: int) -> dict[str, Any]:
    """`sheets` sheets of `rows` prospects on one Google credential, polled by one daemon for
    `minutes` simulated minutes against the emulator's quota (Google's 60 reads and 60 writes a
    minute per user): the first syncs, then unchanged polls, every sheet stretched evenly."""
    clock = FakeClock()
    note(f"quota: {sheets} sheets of {rows:,} rows every {poll_seconds} s, {minutes} minutes")
    with World(clock=clock) as world:
        tables = [
            {
                "name": f"s{i:03d}",
                "spreadsheet": world.emu.create_spreadsheet(campaign_tabs(rows, first=i * rows)),
                "poll_seconds": poll_seconds,
            }
            for i in range(sheets)
        ]
        config = world.config(tables)
        daemon = world.daemon(config)
        start = clock.monotonic()
        read_at: list[float] = []  # when each read reached the emulator
        world.emu.hook = lambda kind, _: (
            read_at.append(clock.monotonic() - start) if kind in READ_KINDS else None
        )
        t0 = time.perf_counter()
        while clock.monotonic() - start < minutes * 60:
            daemon.run_due()
            clock.advance(1)
        wall = time.perf_counter() - t0
        reads = [sum(1 for t in read_at if m * 60 <= t < (m + 1) * 60) for m in range(minutes)]
        polls = sum(r.cycles for r in daemon.runs.values())
        failed = sum(1 for r in daemon.runs.values() if r.failures)
        effective = {round(r.pace.poll_s, 1) for r in daemon.runs.values()}
        budget = config.google.reads_per_minute
        steady = reads[len(reads) // 2 :]
        return {
            "sheets": sheets,
            "rows": rows,
            "poll_seconds": poll_seconds,
            "minutes": minutes,
            "effective_poll_s": sorted(effective),
            "reads_per_minute_budget": budget,
            "reads_per_minute": reads,
            "reads_per_minute_used": round(sum(reads) / minutes, 1),
            "budget_used": round(sum(reads) / minutes / budget, 3),
            "steady_budget_used": round(sum(steady) / len(steady) / budget, 3),
            "google_429": world.emu.answered[429],
            "sheets_writes": world.emu.writes,
            "polls": polls,
            "failed_sheets": failed,
            "wall_s": round(wall, 1),
        }


# --- backlog --------------------------------------------------------------------------------


def minimum_calls(prospects: int, campaigns: int, *, window_patch: bool) -> dict[str, int]:
    """The calls the API makes unavoidable for `prospects` new prospects enrolled into
    `campaigns` new running campaigns: one POST /prospects each (no bulk create), the
    enrollments in batches of at most BATCH per campaign, and per campaign one create, one
    PATCH for the sending window when the row sets one (the create body does not carry it) and
    one start; plus one GET /mailboxes, since the sheet names mailboxes by address."""
    parts = {
        "POST /prospects": prospects,
        "POST /campaigns/{id}/enrollments": campaigns * math.ceil(prospects / BATCH),
        "POST /campaigns": campaigns,
        "PATCH /campaigns/{id}": campaigns if window_patch else 0,
        "POST /campaigns/{id}/start": campaigns,
        "GET /mailboxes": 1,
    }
    return parts


def bench_backlog(prospects: int, rate: int, *, max_polls: int = 20) -> dict[str, Any]:
    """`prospects` new rows enrolled into one new Running campaign, the sandbox at `rate`
    calls/min, the real clock, the daemon polling every 60 s until nothing is deferred."""
    clock = SystemClock()
    note(f"backlog: {prospects:,} prospects at {rate:,}/min")
    with World(clock=clock, rate_limit=rate) as world:
        world.make_sheet(campaign_tabs(prospects, enrolled=prospects, state="Running"))
        config = world.config(name=SHEET, poll_seconds=60)
        # The daemon's limiter starts at the default 60/min and adapts to X-RateLimit-Limit.
        daemon = world.daemon(config)
        run = daemon.runs[SHEET]
        t0 = time.perf_counter()
        polls = 0
        by_endpoint0 = dict(world.workspace.by_endpoint)
        for _ in range(max_polls):
            time.sleep(max(0.0, run.next_fire - clock.monotonic()))  # the interval trigger
            if daemon.run_due() != [(SHEET, "ok")]:
                raise RuntimeError(f"the backlog poll failed: {run.last_error}")
            polls += 1
            report = world.last_report(config, SHEET)
            if not report["deferred"]:
                break
        wall = time.perf_counter() - t0
        done = report["deferred"] == 0 and report["enrolled"] + report["prospects_created"] > 0
    by_endpoint = {
        k: v - by_endpoint0.get(k, 0)
        for k, v in sorted(world.workspace.by_endpoint.items())
        if v - by_endpoint0.get(k, 0)
    }
    calls = sum(by_endpoint.values())
    minimum = minimum_calls(prospects, 1, window_patch=True)
    min_total = sum(minimum.values())
    return {
        "prospects": prospects,
        "campaigns": 1,
        "rate_limit_per_min": rate,
        "api_calls": calls,
        "minimum_calls": min_total,
        "wall_s": round(wall, 2),
        "utilisation": round(calls / wall * 60 / rate, 3),
        "http_429": world.http_429s(),
        "cycles": polls,
        "finished": done,
        "extra_calls": calls - min_total,
        "calls_by_endpoint": by_endpoint,
        "minimum_by_endpoint": minimum,
        "limit_floor_s": limit_floor_s(min_total, rate),
        "floor_utilisation": _floor_utilisation(min_total, rate, wall),
    }


def _floor_utilisation(calls: int, rate: int, wall: float) -> float | None:
    """The least time the limit allows ÷ the time taken, when the limit binds (None when the
    calls fit in one window: then only the engine's own speed limits the run)."""
    floor = limit_floor_s(calls, rate)
    return round(floor / wall, 3) if floor else None


def limit_floor_s(calls: int, rate: int) -> float:
    """The least wall time a client may take for `calls` calls at `rate`/min against a
    fixed-window server, starting at a window boundary: every full window but the last waits."""
    return float((math.ceil(calls / rate) - 1) * 60)


def first_sync_at_real_limit(
    prospects: int, sizes_measured: list[dict[str, Any]]
) -> dict[str, Any]:
    """How long a first sync of `prospects` prospects (each enrolled, one campaign) takes at
    WarmySender's default 60 calls/min: the engine's call count (from the backlog, which is
    linear in the prospects) and the theoretical minimum."""
    minimum = sum(minimum_calls(prospects, 1, window_patch=True).values())
    extra = max((r["extra_calls"] for r in sizes_measured), default=0)
    engine = minimum + extra
    # A sliding-log limiter of 60 per 60.5 s: n calls take (n / 60 - 1) windows of 60.5 s.
    return {
        "prospects": prospects,
        "rate_limit_per_min": REAL_LIMIT,
        "minimum_calls": minimum,
        "engine_calls": engine,
        "minimum_hours": round(limit_floor_s(minimum, REAL_LIMIT) / 3600, 2),
        "engine_hours": round((math.ceil(engine / REAL_LIMIT) - 1) * 60.5 / 3600, 2),
    }


# --- webhooks -------------------------------------------------------------------------------


def bench_webhooks(events: int, workers: int = WEBHOOK_WORKERS) -> dict[str, Any]:
    """`events` prospects enrolled in a running campaign; one open each, queued in the sandbox
    and delivered in one burst `workers` at a time to the receiver; then one poll."""
    clock = SystemClock()  # real time: the latencies are real, the signatures current
    note(f"webhooks: {events:,} events, {workers} deliveries at a time")
    with World(clock=clock) as world:
        world.make_sheet(campaign_tabs(events, enrolled=events, state="Running"))
        port = free_port()
        world.top["webhooks"] = {
            "listen": f"127.0.0.1:{port}",
            "public_url": f"http://127.0.0.1:{port}/warmysender",
        }
        config = world.config(name=SHEET)
        # as `sheetsync run`: the receiver listens while the daemon polls (its tick, at once)
        with receiving(config, clock) as receiver:
            assert receiver is not None
            daemon = world.daemon(config)
            if daemon.tick(SHEET) != "ok" or world.last_report(config, SHEET)["deferred"]:
                raise RuntimeError("the first sync did not finish in one poll")
            world.sandbox.deliver_due(workers=workers)  # step 1's email.sent, one per prospect
            daemon.tick(SHEET)  # ...projected: the measured poll below has only the burst to do
            for i in range(events):
                world.sandbox.event({"type": "email.opened", "email": email(i), "deliver": False})
            stored0 = receiver.stored
            t0 = time.perf_counter()
            burst = world.sandbox.deliver_due(workers=workers)
            wall = time.perf_counter() - t0
            took = sorted(float(d["attempts"][-1]["ms"]) for d in burst)
            acked = sum(1 for d in burst if d["status"] == "delivered")
            m: dict[str, Any] = {}
            with measured(m):
                if daemon.tick(SHEET) != "ok":
                    raise RuntimeError(f"the poll failed: {daemon.runs[SHEET].last_error}")
            report = world.last_report(config, SHEET)
        values = world.emu.values(world.spreadsheet, "Enrollments")
        column = values[0].index("Outcome")
        projected = sum(1 for row in values[1:] if column < len(row) and row[column] == "opened")
    return {
        "events": events,
        "workers": workers,
        "acknowledged": acked,
        "stored": receiver.stored - stored0,
        "burst_wall_s": round(wall, 3),
        "events_per_s": round(len(burst) / wall, 1) if wall else None,
        "ack_p50_ms": _percentile(took, 0.50),
        "ack_p99_ms": _percentile(took, 0.99),
        "ack_max_ms": took[-1] if took else None,
        "within_timeout": acked == events and (not took or took[-1] < WEBHOOK_TIMEOUT_MS),
        "projected_rows": projected,
        "poll_api_calls": report["api_calls"],
        "poll_sheets_writes": report["sheets_writes"],
        "poll_wall_s": m["wall_s"],
        "poll_cpu_s": m["cpu_s"],
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


# --- the run --------------------------------------------------------------------------------


def run(*, quick: bool) -> dict[str, Any]:
    collector_policy()  # as `sheetsync run` sets it
    polls: list[dict[str, Any]] = []
    naive: list[dict[str, Any]] = []
    for size in QUICK_SIZES if quick else FULL_SIZES:
        p, n = bench_polls(size, trace_memory=size <= TRACE_MAX_ROWS)
        polls += p
        naive += n
    quota = bench_quota(**(QUOTA_QUICK if quick else QUOTA_FULL))
    backlog = bench_backlog(BACKLOG_PROSPECTS, BACKLOG_RATE)
    measured_backlogs = [backlog]
    if not quick:
        backlog["rate_bound"] = bench_backlog(BACKLOG_PROSPECTS, BOUND_RATE)
        measured_backlogs.append(backlog["rate_bound"])
    backlog["first_sync_at_60_per_min"] = first_sync_at_real_limit(
        FIRST_SYNC_PROSPECTS, measured_backlogs
    )
    webhooks = bench_webhooks(WEBHOOK_EVENTS)
    return {
        "polls": polls,
        "naive": naive,
        "backlog": backlog,
        "quota": quota,
        "webhooks": webhooks,
        "workers": _workers(quick),
    }


def _workers(quick: bool) -> dict[str, Any]:
    from bench import workers  # it imports this module's helpers
    from sheetsync.testing.postgres import NoPostgres

    try:
        return workers.run(quick=quick)
    except NoPostgres as exc:
        note(f"workers: skipped ({exc})")
        return {"skipped": str(exc)}


POLL_COLUMNS = (
    "rows", "changed_rows", "sheets_reads", "sheets_writes", "api_calls", "cpu_s",
    "engine_cpu_s", "floor_cpu_s", "floor_ratio", "wall_s", "peak_rss_mb", "py_peak_mb",
    "held_mb",
)  # fmt: skip
QUOTA_COLUMNS = (
    "sheets", "rows", "poll_seconds", "effective_poll_s", "minutes", "reads_per_minute_budget",
    "reads_per_minute_used", "budget_used", "steady_budget_used", "google_429", "polls",
)  # fmt: skip
NAIVE_COLUMNS = ("rows", "changed_rows", "sheets_requests", "api_calls", "wall_s")


def table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = [" | ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for r in rows:
        cells = (str(r.get(c, "")).rjust(w) for c, w in zip(columns, widths, strict=True))
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def render(result: dict[str, Any]) -> str:
    out = ["polls of the daemon (sync kept open)", table(result["polls"], POLL_COLUMNS)]
    out += ["", "naive per-row sync, same sheets and changes"]
    out.append(table(result["naive"], NAIVE_COLUMNS))
    ratios = []
    for p, n in zip(result["polls"], result["naive"], strict=True):
        engine = p["sheets_reads"] + p["sheets_writes"]
        ratios.append(
            {
                "rows": p["rows"],
                "changed_rows": p["changed_rows"],
                "engine_requests": engine,
                "naive_requests": n["sheets_requests"],
                "ratio": round(n["sheets_requests"] / engine, 1) if engine else "-",
            }
        )
    cols = ("rows", "changed_rows", "engine_requests", "naive_requests", "ratio")
    out += ["", "Sheets requests, naive / engine", table(ratios, cols)]
    backlogs = [result["backlog"]]
    if "rate_bound" in result["backlog"]:
        backlogs.append(result["backlog"]["rate_bound"])
    cols = (
        "prospects", "campaigns", "rate_limit_per_min", "api_calls", "minimum_calls", "wall_s",
        "utilisation", "http_429", "cycles", "limit_floor_s", "floor_utilisation",
    )  # fmt: skip
    out += ["", "backlog (real clock)", table(backlogs, cols)]
    if "quota" in result:
        out += ["", "the Google quota (simulated minutes)", table([result["quota"]], QUOTA_COLUMNS)]
    first = result["backlog"]["first_sync_at_60_per_min"]
    out += [
        "",
        f"first sync of {first['prospects']:,} prospects at {first['rate_limit_per_min']}/min: "
        f"{first['engine_calls']:,} calls, {first['engine_hours']} h "
        f"(minimum {first['minimum_calls']:,} calls, {first['minimum_hours']} h)",
    ]
    if "webhooks" in result:
        hooks = result["webhooks"]
        out += ["", "webhooks: a burst of events to the receiver, then the poll that projects them"]
        out.append(table([hooks], WEBHOOK_COLUMNS))
    workers = result.get("workers")
    if workers and "skipped" not in workers:
        from bench.workers import render as render_workers

        out += ["", render_workers(workers)]
    elif workers:
        out += ["", f"workers: skipped ({workers['skipped']})"]
    return "\n".join(out)


WEBHOOK_COLUMNS = (
    "events", "workers", "acknowledged", "burst_wall_s", "events_per_s", "ack_p50_ms",
    "ack_p99_ms", "ack_max_ms", "projected_rows", "poll_api_calls", "poll_wall_s",
)  # fmt: skip


def main(
    argv: list[str] | None = None,
    *,
    doc: str = __doc__,
    quick: str = "sizes up to 10,000 rows only",
    measure: Callable[..., dict[str, Any]] = run,
    show: Callable[[dict[str, Any]], str] = render,
) -> int:
    """`--quick` and `--json` (bench/workers.py has the same command line)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = measure(quick=args.quick)
    print(json.dumps(result, indent=2) if args.json else show(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
