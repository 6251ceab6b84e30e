"""sheetsync benchmarks: request economy, CPU at scale, and the rate limit used to the last call.

    python bench/run.py [--quick] [--json]

Runs the real engine against the Google Sheets emulator and the WarmySender sandbox over
loopback, in this process, and prints a table (or one JSON object):

- polls:   one steady-state poll of a long-lived SheetSync (metadata cached, settle_polls = 0)
           on sheets of 1,000 / 10,000 / 100,000 prospects, with 0 and 1% of the rows changed;
- naive:   the same sheets and changes through bench/naive.py (one API call and one row
           update per changed row), for the ratio;
- backlog: 1,000 new prospects enrolled into one new running campaign at 6,000 calls/min, on
           the real clock, cycles back to back like the daemon; the full run adds the same
           backlog at 600/min, where the limit binds.
- webhooks: 1,000 events (an open per enrolled prospect) delivered by the sandbox in one burst,
           32 at a time, to the real receiver of `sheetsync run` ([webhooks]); how long each
           took to be acknowledged (WarmySender waits 5 s), then the one poll that projects them.
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
import socket
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
from sheetsync.api.ratelimit import RateLimiter  # noqa: E402
from sheetsync.app.webhooks import receiving  # noqa: E402
from sheetsync.clock import FakeClock, SystemClock  # noqa: E402
from sheetsync.sandbox import DEMO_KEY  # noqa: E402
from sheetsync.sync.counts import CycleReport  # noqa: E402
from sheetsync.sync.cycle import SheetSync  # noqa: E402
from sheetsync.sync.execute.enrollments import BATCH  # noqa: E402

FULL_SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
CHANGED_FRACTIONS = (0.0, 0.01)
BACKLOG_PROSPECTS = 1_000
BACKLOG_RATE = 6_000
BOUND_RATE = 600  # the full run's second backlog: 1,000 prospects need two windows
TRACE_MAX_ROWS = 10_000  # tracemalloc slows every thread ~5x: the 100,000-row poll skips it
REAL_LIMIT = 60  # WarmySender's default plan, calls per minute
FIRST_SYNC_PROSPECTS = 10_000
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
    (the engine alone: it runs the cycle on this thread) and the peak RSS inside the block."""
    gc.collect()
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


def changed_rows(size: int, fraction: float) -> list[int]:
    """Prospect indexes spread evenly over the tab."""
    n = round(size * fraction)
    return [i * size // n for i in range(n)] if n else []


# --- polls ----------------------------------------------------------------------------------


def until_done(sync: SheetSync, clock: FakeClock, *, poll_s: float, limit: int = 50) -> int:
    """Cycles until nothing is deferred (the first sync); returns the API calls made."""
    calls = 0
    for _ in range(limit):
        report = sync.cycle()
        calls += report.api_calls
        if not report.deferred:
            return calls
        clock.advance(poll_s)
    raise RuntimeError(f"the first sync did not finish in {limit} cycles")


def poll_row(size: int, changed: int, report: CycleReport, m: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": size,
        "changed_rows": changed,
        "sheets_reads": report.sheets_reads,
        "sheets_writes": report.sheets_writes,
        "api_calls": report.api_calls,
        "prospects_updated": report.prospects_updated,
        **m,
    }


def bench_polls(
    size: int, *, trace_memory: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Engine polls and naive polls on a sheet of `size` prospects, one row per fraction."""
    clock = FakeClock()
    polls: list[dict[str, Any]] = []
    naive: list[dict[str, Any]] = []
    with World(clock=clock) as world:
        world.make_sheet(campaign_tabs(size))
        limiter = RateLimiter(UNLIMITED, clock=clock)
        with world.open_sync(limiter=limiter) as sync:
            poll_s = sync.sheet.poll_seconds
            note(f"{size:,} rows: first sync (setup)")
            t0 = time.perf_counter()
            setup_calls = until_done(sync, clock, poll_s=poll_s)
            setup_s = time.perf_counter() - t0
            note(f"{size:,} rows: first sync took {setup_s:.1f} s; measuring polls")
            clock.advance(poll_s)
            if (warm := sync.cycle()).api_calls:  # statuses are written: nothing left to do
                raise RuntimeError(f"the sheet did not settle: {warm}")
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
                    world.edit_prospects(rows, version)
                    clock.advance(poll_s)
                    m: dict[str, Any] = {}
                    with measured(m):
                        report = sync.cycle()
                    if trace_memory:
                        world.edit_prospects(rows, version + 100)  # the same poll once more
                        clock.advance(poll_s)
                        m["py_peak_mb"] = round(traced_peak_mb(sync.cycle), 1)
                    m["setup_first_sync_s"] = round(setup_s, 1)
                    m["setup_api_calls"] = setup_calls
                    polls.append(poll_row(size, len(rows), report, m))

                    world.edit_prospects(rows, version, spreadsheet=copy_id)
                    naive.append(vars(naive_sync.poll()))
    return polls, naive


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


def bench_backlog(prospects: int, rate: int, *, max_cycles: int = 20) -> dict[str, Any]:
    """`prospects` new rows enrolled into one new Running campaign, the sandbox at `rate`
    calls/min, the real clock, cycles back to back until nothing is deferred."""
    clock = SystemClock()
    note(f"backlog: {prospects:,} prospects at {rate:,}/min")
    with World(clock=clock, rate_limit=rate) as world:
        world.make_sheet(campaign_tabs(prospects, enrolled=prospects, state="Running"))
        # The daemon's limiter starts at the default 60/min and adapts to X-RateLimit-Limit.
        with world.open_sync(limiter=RateLimiter(clock=clock), poll_seconds=60) as sync:
            t0 = time.perf_counter()
            cycles = calls = 0
            by_endpoint0 = dict(world.workspace.by_endpoint)
            for _ in range(max_cycles):
                report = sync.cycle()
                cycles += 1
                calls += report.api_calls
                if not report.deferred:
                    break
            wall = time.perf_counter() - t0
            done = report.deferred == 0 and report.enrolled + report.prospects_created > 0
    by_endpoint = {
        k: v - by_endpoint0.get(k, 0)
        for k, v in sorted(world.workspace.by_endpoint.items())
        if v - by_endpoint0.get(k, 0)
    }
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
        "cycles": cycles,
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
        port = _free_port()
        world.top["webhooks"] = {
            "listen": f"127.0.0.1:{port}",
            "public_url": f"http://127.0.0.1:{port}/warmysender",
        }
        config = world.config()
        limiter = RateLimiter(UNLIMITED, clock=clock)
        with receiving(config, clock) as receiver, world.open_sync(limiter=limiter) as sync:
            assert receiver is not None
            if sync.cycle().deferred:
                raise RuntimeError("the first sync did not finish in one cycle")
            world.sandbox.deliver_due(workers=workers)  # step 1's email.sent, one per prospect
            sync.cycle()  # ...projected: the measured poll below has only the burst to do
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
                report = sync.cycle()
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
        "poll_api_calls": report.api_calls,
        "poll_sheets_writes": report.sheets_writes,
        "poll_wall_s": m["wall_s"],
        "poll_cpu_s": m["cpu_s"],
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the run --------------------------------------------------------------------------------


def run(*, quick: bool) -> dict[str, Any]:
    polls: list[dict[str, Any]] = []
    naive: list[dict[str, Any]] = []
    for size in QUICK_SIZES if quick else FULL_SIZES:
        p, n = bench_polls(size, trace_memory=size <= TRACE_MAX_ROWS)
        polls += p
        naive += n
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
        "polls": polls, "naive": naive, "backlog": backlog, "webhooks": webhooks,
        "workers": _workers(quick),
    }  # fmt: skip


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
    "engine_cpu_s", "wall_s", "peak_rss_mb", "py_peak_mb",
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
    out = ["polls (one steady-state poll of the engine)", table(result["polls"], POLL_COLUMNS)]
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
