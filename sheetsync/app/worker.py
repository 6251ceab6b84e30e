"""`sheetsync worker`: one of any number of processes, on any machines, sharing the sheets of one
config through its PostgreSQL state. `sheetsync run` on a PostgreSQL state is the same worker.

The timing, the exclusion and the failover come from procrastinate, a job queue kept in the
same PostgreSQL database, instead of leases of our own. What each guarantee rests on:

- **One cycle of a sheet at a time, across all workers.** A sheet's poll is a procrastinate job
  with `lock = "sheet:<name>"`: procrastinate starts no job while another with its lock is
  `doing`; `queueing_lock` (the same key) keeps at most one poll of a sheet waiting. The cycle
  itself also holds the sheet's advisory lock in the state (`PostgresState.exclusive`), a fence
  for the one case the queue cannot see: a worker taken for dead that is still running.
- **Each sheet on its own poll_seconds.** When a cycle ends, its job defers the sheet's next poll
  with `schedule_at` = its own due time + its pace (app.pace: poll_seconds, stretched as in the
  daemon when the Google sheets together need more reads than the credential's quota; at once
  when the cycle overran; after a failure, the daemon's growing backoff). procrastinate's
  periodic tasks run on a cron grid, which cannot say "every 45 s"; a chain of scheduled jobs
  can, to the second (a worker looks for due jobs every FETCH_INTERVAL_S).
- **The keeper** is a procrastinate periodic task: every worker runs procrastinate's periodic
  deferrer, and procrastinate defers it once per tick whatever the number of workers (its
  `procrastinate_periodic_defers` table is unique per tick). It hands the polls of dead workers
  on, and defers a poll for every sheet of the config that has none waiting or running (a new
  sheet, a chain broken by a database outage).
- **A dead worker's sheets carry on within a minute.** procrastinate records each worker's
  heartbeat (every `[workers] heartbeat_seconds`); the keeper asks it for the poll jobs of
  workers silent for `failover_seconds` (get_stalled_jobs), ends them and defers their sheets'
  polls at once. That cycle, on a live worker, first replays the intents the dead one recorded,
  with their Idempotency-Keys: the half-done cycle is finished without doing anything twice.
  Worst case with the defaults: 20 s of silence + one keeper tick (5 s) + a second to fetch.
- **SIGTERM** (or SIGINT): the worker fetches no more jobs, lets the cycles in progress finish
  (each then defers its sheet's next poll), unregisters and exits 0; a second signal exits at once.

Rate limits are shared through the state too (api.ratelimit.SharedRateLimiter): one budget for
the config's WarmySender API key (its workspace) and one read and one write budget per Google
credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import random
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import procrastinate
import psycopg
from procrastinate import exceptions as engine_errors
from procrastinate.job_context import JobContext
from procrastinate.jobs import Status
from procrastinate.schema import SchemaManager
from procrastinate.worker import Worker
from psycopg_pool import ConnectionPool

from sheetsync.api.ratelimit import SharedRateLimiter
from sheetsync.app.daemon import backoff_s, jitter_s
from sheetsync.app.logs import redact, secrets_of
from sheetsync.app.pace import paces, stretch_note
from sheetsync.clock import Clock, SystemClock
from sheetsync.config import Config, Secret, SheetConfig
from sheetsync.errors import ConfigError, ServiceError, SheetBusy, SheetsyncError, StateError
from sheetsync.sheet.google.auth import load_credentials
from sheetsync.sheet.google.quota import Quota
from sheetsync.state.postgres import (
    PostgresState,
    connect,
    connect_pool,
    creating_schema,
    schema_lock,
    shown,
)
from sheetsync.sync.counts import cycle_line
from sheetsync.sync.cycle import SheetSync, open_sync

log = logging.getLogger("sheetsync.app.worker")

QUEUE = "sheetsync"
POLL = "sheetsync.poll"
KEEP = "sheetsync.keep"
FETCH_INTERVAL_S = 0.5  # a poll due now starts within this (jobs due later are looked for)
BUSY_RETRY_S = 5.0  # a sheet held by a worker taken for dead is tried again this soon
WARMYSENDER_DEFAULT_LIMIT = 60  # until X-RateLimit-Limit says otherwise
MAX_BLOCK_S = 5.0  # a call that would wait longer for the shared budget waits for the next poll
# Google counts a request when it arrives, and requests from several machines arrive after
# uneven delays: each slot of its quota is held this much longer than the minute (the workers'
# polls are paced for it: app.pace).
GOOGLE_MARGIN_S = 2.0
RESCUED_PRIORITY = 1  # the polls of a dead worker's sheets go before the others due
KEEPER_PRIORITY = 2  # and the keeper before everything: a backlog of polls must not delay it


def sheet_lock(sheet: str) -> str:
    return f"sheet:{sheet}"


def keeper_seconds(failover_s: float) -> int:
    """How often the keeper runs: a quarter of failover_seconds, 1 to 5 s (divides a minute)."""
    return max(1, min(5, int(failover_s // 4)))


def failover_bound_s(config: Config) -> float:
    """The longest a dead worker's sheet waits for its next cycle: silence, a keeper tick, a
    fetch (the cycle then starts at once on a live worker)."""
    w = config.workers
    return w.failover_seconds + keeper_seconds(w.failover_seconds) + FETCH_INTERVAL_S


# --- the job engine's schema --------------------------------------------------------------------


def prepare_engine(pool: ConnectionPool, url: Secret) -> None:
    """Create procrastinate's tables, or apply the migrations it ships since the version this
    database has, under the schema lock (the state's own schema is PostgresState.prepare())."""
    migrations = sorted(Path(SchemaManager.get_migrations_path()).glob("*.sql"))
    latest = migrations[-1].stem
    with creating_schema(url), pool.connection() as conn, schema_lock(conn):
        have = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        row = conn.execute("SELECT version FROM engine WHERE name = 'procrastinate'").fetchone()
        with conn.transaction():
            if have == (None,):
                conn.execute(SchemaManager.get_schema())
            elif row is not None:
                for step in migrations:
                    if step.stem > row[0]:
                        conn.execute(cast(Any, step.read_text(encoding="utf-8")))
            conn.execute(
                "INSERT INTO engine VALUES ('procrastinate', %s) "
                "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version",
                (latest,),
            )


# --- one worker process ------------------------------------------------------------------------


class Runtime:
    """What one worker process keeps: an open SheetSync per sheet it has polled (so the engine's
    row cache and the Google source's metadata last between polls, as in the daemon; a sync
    reads its items again when another worker ran the sheet since), and the limiters it shares
    with the other workers."""

    def __init__(
        self, config: Config, name: str, pool: ConnectionPool, clock: Clock | None = None
    ) -> None:
        assert config.state_url is not None
        self.config = config
        self.url: Secret = config.state_url
        self.name = name
        self.pool = pool
        self.clock = clock or SystemClock()
        self.secrets = secrets_of(config)
        self._open: dict[str, SheetSync] = {}
        self._limiters: dict[str, SharedRateLimiter] = {}
        self._quota: Quota | None = None
        self._lock = threading.Lock()
        self._quota_lock = threading.Lock()

    def state(self) -> PostgresState:
        return PostgresState(self.pool, url=self.url, clock=self.clock, worker=self.name)

    # --- shared limits -------------------------------------------------------------------------

    def limiter(self, key: str, per_minute: int, **options: Any) -> SharedRateLimiter:
        with self._lock:
            found = self._limiters.get(key)
            if found is None:
                found = SharedRateLimiter(self.pool, key, per_minute, clock=self.clock, **options)
                self._limiters[key] = found
            return found

    def google_quota(self) -> Quota:
        """The read and write budgets of the config's Google credential, shared by every worker
        signed in with it (keyed by its account, or its auth mode when it has none)."""
        with self._quota_lock:  # cycle threads open their sheets' syncs at once
            if self._quota is None:
                g = self.config.google
                who = load_credentials(g).account or g.auth
                reads, writes = (
                    self.limiter(f"google:{who}:{kind}", per_minute, margin_s=GOOGLE_MARGIN_S)
                    for kind, per_minute in (
                        ("read", g.reads_per_minute),
                        ("write", g.writes_per_minute),
                    )
                )
                self._quota = Quota(reads=reads, writes=writes)
            return self._quota

    def warmysender_limiter(self) -> SharedRateLimiter:
        """The budget of the config's API key, that is of its workspace (one config, one key),
        shared by every worker; the X-RateLimit-* headers account for anyone else spending
        the same workspace's budget."""
        ws = self.config.warmysender
        who = f"{ws.base_url} {ws.require_key().reveal()}".encode()
        digest = hashlib.sha256(who).hexdigest()[:16]
        return self.limiter(
            f"warmysender:{digest}", WARMYSENDER_DEFAULT_LIMIT, max_block_s=MAX_BLOCK_S
        )

    # --- cycles --------------------------------------------------------------------------------

    def sync_for(self, sheet: SheetConfig) -> SheetSync:
        found = self._open.get(sheet.name)
        if found is None:
            found = self._open[sheet.name] = open_sync(
                self.config,
                sheet,
                clock=self.clock,
                limiter=self.warmysender_limiter(),
                state=self.state(),
                quota=self.google_quota() if sheet.source == "google" else None,
            )
        return found

    def drop(self, name: str) -> None:
        """Close a sheet's sync (SheetSync.close closes each of its parts on its own)."""
        sync = self._open.pop(name, None)
        if sync is not None:
            sync.close()

    def cycle(self, sheet: SheetConfig) -> str:
        """One cycle of `sheet`: "ok", "busy" (held by another worker) or "failed"."""
        try:
            report = self.sync_for(sheet).cycle()
        except SheetBusy:
            log.warning("%s: held by another worker; trying again shortly", sheet.name)
            return "busy"
        except SheetsyncError as exc:
            self.failed(sheet.name, str(exc), None)
            return "failed"
        except Exception as exc:  # noqa: BLE001 - one sheet's boundary: classified as its failure
            self.failed(sheet.name, f"unexpected {type(exc).__name__}: {exc}", exc)
            return "failed"
        fields = {"event": "cycle", "worker": self.name, **report.to_json()}
        log.info(cycle_line(fields), extra={"fields": fields})
        return "ok"

    def failed(self, sheet: str, message: str, exc: Exception | None) -> None:
        """Log and record a failed cycle (for `sheetsync status`); reopen the sheet next time."""
        message = redact(message, self.secrets)
        fields = {"event": "failure", "sheet": sheet, "worker": self.name, "error": message}
        log.error("%s: cycle failed: %s", sheet, message, exc_info=exc, extra={"fields": fields})
        self.drop(sheet)
        try:
            self.state().record_failure(sheet, message)
        except (StateError, psycopg.Error) as err:
            log.error("%s: could not record the failure in the state: %s", sheet, err)

    def register(self, worker_id: int) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO workers VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
                "SET name = EXCLUDED.name, started = EXCLUDED.started",
                (worker_id, self.name, time.time()),
            )

    def unregister(self, worker_id: int) -> None:
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM workers WHERE id = %s", (worker_id,))

    def close(self) -> None:
        for name in list(self._open):
            self.drop(name)


# --- the jobs ----------------------------------------------------------------------------------


async def defer_poll(
    app: procrastinate.App, sheet: str, at: float, failures: int = 0, priority: int = 0
) -> None:
    """The next poll of `sheet`, due at `at` (epoch s); a poll already waiting is kept."""
    task = app.tasks[POLL]
    lock = sheet_lock(sheet)
    when = datetime.fromtimestamp(at, UTC)
    job = task.configure(lock=lock, queueing_lock=lock, schedule_at=when, priority=priority)
    with contextlib.suppress(engine_errors.AlreadyEnqueued):
        await job.defer_async(sheet=sheet, failures=failures)


def build_app(rt: Runtime) -> procrastinate.App:
    """The procrastinate app of one worker: the poll task and the keeper."""
    connector = procrastinate.PsycopgConnector(
        conninfo=rt.url.reveal(), min_size=1, max_size=4, kwargs={"connect_timeout": 10}
    )
    app = procrastinate.App(connector=connector)
    sheets = {s.name: s for s in rt.config.sheets}
    pace = paces(rt.config, margin_s=GOOGLE_MARGIN_S)
    failover = rt.config.workers.failover_seconds
    every = keeper_seconds(failover)

    @app.task(name=POLL, queue=QUEUE, pass_context=True)
    async def poll(context: JobContext, sheet: str, failures: int = 0) -> None:
        found = sheets.get(sheet)
        if found is None:
            log.warning("%s: not a [[sheet]] of this worker's config; its polls stop", sheet)
            return
        due = context.job.scheduled_at.timestamp() if context.job.scheduled_at else time.time()
        started = time.time()
        outcome = await asyncio.to_thread(rt.cycle, found)
        now = time.time()
        poll_s = pace[sheet].poll_s
        if outcome == "ok":
            failures, at = 0, max(due + poll_s, now)
        elif outcome == "busy":
            at = now + BUSY_RETRY_S
        else:
            failures += 1
            at = started + backoff_s(poll_s, failures)
        await defer_poll(app, sheet, at, failures)

    @app.periodic(cron=f"* * * * * */{every}", periodic_id="keeper", priority=KEEPER_PRIORITY)
    @app.task(name=KEEP, queue=QUEUE, lock="keeper", queueing_lock="keeper")
    async def keep(timestamp: int) -> None:
        await _keep(app, rt, sheets, failover)

    del poll, keep  # registered on the app
    return app


async def _keep(
    app: procrastinate.App, rt: Runtime, sheets: dict[str, SheetConfig], failover: float
) -> None:
    jobs, connector = app.job_manager, app.connector
    rescued = set()
    for job in await jobs.get_stalled_jobs(task_name=POLL, seconds_since_heartbeat=failover):
        sheet = str(job.task_kwargs.get("sheet"))
        row = await connector.execute_query_one_async(
            "SELECT COALESCE((SELECT name FROM workers WHERE id = %(id)s), 'a worker') AS name",
            id=job.worker_id,
        )
        await jobs.finish_job(job, status=Status.FAILED, delete_job=True)
        message = (
            f"{row['name']} stopped during a cycle (no heartbeat for {failover:g}s); the next "
            "cycle replays what it had started"
        )
        log.warning("%s: %s", sheet, message, extra={"fields": {"event": "failover"}})
        await asyncio.to_thread(rt.state().record_failure, sheet, message)
        rescued.add(sheet)
    rows = await connector.execute_query_all_async(
        "SELECT DISTINCT args->>'sheet' AS sheet FROM procrastinate_jobs "
        "WHERE task_name = %(task)s AND status IN ('todo', 'doing')",
        task=POLL,
    )
    waiting = {r["sheet"] for r in rows}
    now = time.time()
    for name, config in sheets.items():
        if name in rescued:
            await defer_poll(app, name, now, priority=RESCUED_PRIORITY)
        elif name not in waiting:
            await defer_poll(app, name, now + random.uniform(0, jitter_s(config.poll_seconds)))
    await connector.execute_query_async(
        "DELETE FROM workers WHERE id NOT IN (SELECT id FROM procrastinate_workers)"
    )


# --- running -----------------------------------------------------------------------------------


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(config: Config, *, name: str | None = None, concurrency: int = 4) -> None:
    """Run one worker until SIGINT or SIGTERM (creating or migrating the schemas first)."""
    if config.state_url is None:
        raise ConfigError(
            "workers share a PostgreSQL state: set [state] url (or SHEETSYNC_STATE_URL)",
            path=str(config.path),
        )
    if config.webhooks is not None:
        raise ConfigError(
            "workers do not receive webhooks yet: remove [webhooks] (Outcomes are then read "
            "from the WarmySender API every monitor_seconds), or run `sheetsync run` on a "
            "SQLite state for the webhook receiver",
            path=str(config.path),
            key="webhooks",
        )
    config.warmysender.require_key()
    name = name or worker_name()
    pool = connect_pool(config.state_url, size=2 * concurrency + 2)
    rt = Runtime(config, name, pool)
    try:
        rt.state().prepare()
        prepare_engine(pool, config.state_url)
        signalled = asyncio.run(_serve(build_app(rt), rt, concurrency))
    finally:
        rt.close()
        pool.close()
    if not signalled:  # procrastinate stops a worker whose heartbeat or listener failed
        raise ServiceError(
            f"{name}: the worker lost its connection to the job queue in PostgreSQL (see the log "
            "above) and stopped; start it again (systemd's Restart=on-failure does)"
        )
    log.info("%s: stopped", name)


async def _serve(app: procrastinate.App, rt: Runtime, concurrency: int) -> bool:
    """Run the worker until it stops; whether a signal stopped it."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(concurrency + 2, thread_name_prefix="cycle"))
    w = rt.config.workers
    async with app.open_async():
        worker = Worker(
            app,
            queues=[QUEUE],
            name=rt.name,
            concurrency=concurrency,
            fetch_job_polling_interval=FETCH_INTERVAL_S,
            delete_jobs="always",  # the history is the state's runs table
            install_signal_handlers=False,
            update_heartbeat_interval=w.heartbeat_seconds,
            stalled_worker_timeout=w.failover_seconds,
        )
        signals = _Signals(rt.name, worker)
        signals.install(loop)
        running = asyncio.create_task(worker.run())  # type: ignore[no-untyped-call]
        worker_id = None
        try:
            while worker.worker_id is None and not running.done():
                await asyncio.sleep(0.01)
            worker_id = worker.worker_id
            if worker_id is not None:
                await asyncio.to_thread(rt.register, worker_id)
                pace = paces(rt.config, margin_s=GOOGLE_MARGIN_S)
                names = ", ".join(f"{n} every {p.poll_s:.0f}s" for n, p in pace.items())
                log.info(
                    "%s: worker %d on %s, %d at a time: %s; SIGINT or SIGTERM stops",
                    rt.name,
                    worker_id,
                    shown(rt.url),
                    concurrency,
                    names,
                )
                note = stretch_note(rt.config, margin_s=GOOGLE_MARGIN_S)
                if note is not None:
                    log.warning(note)
            await running
        finally:
            signals.uninstall(loop)
            if worker_id is not None:
                with contextlib.suppress(psycopg.Error):
                    await asyncio.to_thread(rt.unregister, worker_id)
    return signals.count > 0


class _Signals:
    """The first SIGINT/SIGTERM stops fetching and lets the cycles in progress finish; a second
    one exits at once with 128 + the signal number. SIGHUP (`systemctl reload` of the unit
    `sheetsync run` uses) is only logged: a worker does not reload its config."""

    def __init__(self, name: str, worker: Worker) -> None:
        self.name = name
        self.worker = worker
        self.count = 0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.on_signal, signum)
        loop.add_signal_handler(signal.SIGHUP, self.on_hangup)

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    def on_hangup(self) -> None:
        log.warning(
            "%s: SIGHUP: a worker does not reload its config; restart it to use a changed one",
            self.name,
        )

    def on_signal(self, signum: int) -> None:
        self.count += 1
        what = signal.Signals(signum).name
        if self.count > 1:
            os.write(2, f"sheetsync: second {what}, exiting now\n".encode())
            os._exit(128 + signum)
        log.info(
            "%s: %s: finishing the cycles in progress, then exiting (send it again to exit at "
            "once)",
            self.name,
            what,
        )
        self.worker.stop()  # type: ignore[no-untyped-call]


# --- what `status` and `workers` show ----------------------------------------------------------


@dataclass(frozen=True)
class SheetView:
    """One sheet as the workers see it."""

    sheet: str
    last_worker: str | None  # the worker that ran the last cycle
    last_at: str | None
    last_ok: bool | None
    failures: int  # failed cycles since the last good one
    running_on: str | None  # the worker in a cycle of it now
    next_due: datetime | None


@dataclass(frozen=True)
class WorkerView:
    id: int
    name: str
    started: datetime | None
    heartbeat: datetime
    heartbeat_age_s: float
    running: str  # the sheets in a cycle on it now
    alive: bool  # heard from within failover_seconds


def sheet_views(config: Config) -> list[SheetView]:
    assert config.state_url is not None
    views = []
    with _reader(config.state_url) as conn:
        found = conn.execute("SELECT to_regclass('runs'), to_regclass('procrastinate_jobs')")
        state, engine = (t is not None for t in found.fetchone() or (None, None))
        for s in config.sheets:
            last = fails = job = None
            if state:
                last = conn.execute(
                    "SELECT worker, at, ok FROM runs WHERE sheet = %s ORDER BY id DESC LIMIT 1",
                    (s.name,),
                ).fetchone()
                fails = conn.execute(
                    "SELECT count(*) FROM runs WHERE sheet = %s AND ok = 0 AND id > "
                    "COALESCE((SELECT max(id) FROM runs WHERE sheet = %s AND ok = 1), 0)",
                    (s.name, s.name),
                ).fetchone()
            if engine:
                job = conn.execute(
                    "SELECT j.status, j.scheduled_at, w.name FROM procrastinate_jobs j "
                    "LEFT JOIN workers w ON w.id = j.worker_id WHERE j.task_name = %s AND "
                    "j.args->>'sheet' = %s AND j.status IN ('todo', 'doing') "
                    "ORDER BY j.status = 'doing' DESC LIMIT 1",
                    (POLL, s.name),
                ).fetchone()
            doing = job is not None and job[0] == "doing"
            views.append(
                SheetView(
                    sheet=s.name,
                    last_worker=last[0] if last else None,
                    last_at=last[1] if last else None,
                    last_ok=bool(last[2]) if last else None,
                    failures=int(fails[0]) if fails else 0,
                    running_on=(job[2] or "a worker") if job is not None and doing else None,
                    next_due=job[1] if job is not None and not doing else None,
                )
            )
    return views


def worker_views(config: Config) -> list[WorkerView]:
    assert config.state_url is not None
    with _reader(config.state_url) as conn:
        if conn.execute("SELECT to_regclass('procrastinate_workers')").fetchone() == (None,):
            return []
        rows = conn.execute(
            "SELECT p.id, w.name, w.started, p.last_heartbeat, "
            "EXTRACT(EPOCH FROM now() - p.last_heartbeat), "
            "(SELECT string_agg(j.args->>'sheet', ', ' ORDER BY j.args->>'sheet') "
            " FROM procrastinate_jobs j WHERE j.worker_id = p.id AND j.status = 'doing' "
            " AND j.task_name = %s) "
            "FROM procrastinate_workers p LEFT JOIN workers w ON w.id = p.id ORDER BY p.id",
            (POLL,),
        ).fetchall()
    failover = config.workers.failover_seconds
    return [
        WorkerView(
            id=int(r[0]),
            name=r[1] or "(starting)",
            started=datetime.fromtimestamp(r[2], UTC) if r[2] else None,
            heartbeat=r[3],
            heartbeat_age_s=float(r[4]),
            running=r[5] or "",
            alive=float(r[4]) < failover,
        )
        for r in rows
    ]


def _reader(url: Secret) -> psycopg.Connection[Any]:
    return connect(url, read_only=True)
