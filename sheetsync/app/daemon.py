"""`sheetsync run`: every sheet polled on its own schedule until SIGINT or SIGTERM.

The scheduler sits at the edge. `SheetSync.cycle()` is the unit of work; `Daemon.tick(sheet)` is
one poll of one sheet with its bookkeeping (backoff after a failure, the failure recorded for
`sheetsync status`, one log line per cycle); APScheduler only decides when ticks happen:

- one job per sheet, interval trigger of the sheet's pace (`app.pace`: its `poll_seconds`,
  stretched evenly when the Google sheets would need more reads than the credential's quota)
  with a little jitter, the first runs spread over the first interval;
- `max_instances=1`: a sheet never runs two cycles at once (a tick that finds its sheet busy is
  skipped by APScheduler, and `tick()` refuses it too); when a cycle takes longer than
  `poll_seconds`, the tick polls again at once, so a slow poll never silently drops the next;
- `coalesce=True` and `misfire_grace_time=None`: polls the scheduler missed (a suspended laptop,
  a busy machine) run once, however late.

Each sheet's sync (its state connection, API client and source with the spreadsheet's cached
metadata, and the engine's row cache) stays open from one poll to the next, so an unchanged poll
costs one Sheets read; it is opened again only after a failed cycle or when the config changes
(`reload()`, on SIGHUP). The Google sheets share one `Quota` (their credential's per-minute
read and write requests), which every request of their sources waits for.

A failing sheet (any SheetsyncError from its cycle, or an unexpected exception, whose traceback is
logged once) does not stop the others. Its ticks are skipped until `poll_seconds × 2^n` (capped
at an hour) after the failed cycle started; a success resets that. One RateLimiter per
WarmySender workspace is shared by every sheet of the workspace (the workspace comes from
GET /me); a sheet whose workspace is not known yet runs with a limiter of its own and asks again
on its next tick.

Stopping: the first SIGINT/SIGTERM lets the cycles in progress finish and exits cleanly; a cycle
still running `SHUTDOWN_GRACE_S` later is abandoned at its last commit (the process exits 0
without waiting for it); a second signal exits at once with 128 + the signal number. Both are
safe for the state: SQLite commits each change in a transaction, so an abrupt exit loses at most
the transaction in flight, and intents recorded before each API write make the next run replay
or skip it.

Tests drive a Daemon on a FakeClock with `run_due()`, which fires the ticks that are due the way
the interval trigger would; `run_forever()` uses APScheduler for real.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any, Literal, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from sheetsync.api.client import WarmySenderClient
from sheetsync.api.ratelimit import MARGIN_S, RateLimiter, limiter_for
from sheetsync.app.logs import redact, secrets_of
from sheetsync.app.pace import Pace, paces, stretch_note
from sheetsync.app.webhooks import receiving
from sheetsync.clock import Clock, SystemClock
from sheetsync.config import Config, SheetConfig, load_config
from sheetsync.errors import ConfigError, SheetsyncError, StateError
from sheetsync.retry import RetryPolicy
from sheetsync.sheet.google.quota import Quota
from sheetsync.state.connect import open_state
from sheetsync.sync.counts import cycle_line

log = logging.getLogger("sheetsync.app.daemon")

MAX_BACKOFF_S = 3600
MAX_JITTER_S = 30
YOUNG_COLLECTION_EVERY = 50_000  # allocations (the default is 700)
SHUTDOWN_GRACE_S = 30.0  # how long a stop waits for the cycles in progress (Docker waits 10 s,
# systemd 90 s, before their SIGKILL: either way the state stays sound)
Outcome = Literal["ok", "failed", "backoff", "busy", "stopped"]


class Report(Protocol):
    """What the daemon reads from a cycle's report (counts.CycleReport)."""

    @property
    def sheet(self) -> str: ...

    def to_json(self) -> dict[str, object]: ...


class Sync(Protocol):
    """One opened sheet (sync.cycle.SheetSync)."""

    def cycle(self, *, confirm_unenroll: bool = False) -> Report: ...

    def close(self) -> None: ...  # never raises: a part that fails to close is logged


OpenSync = Callable[[Config, SheetConfig, Clock, RateLimiter, Quota], Sync]
Identify = Callable[[Config, SheetConfig], str]
RecordFailure = Callable[[Config, str, str], None]


def open_engine(
    config: Config, sheet: SheetConfig, clock: Clock, limiter: RateLimiter, quota: Quota
) -> Sync:
    from sheetsync.sync.cycle import open_sync  # the engine imports every source; only load it here

    return open_sync(config, sheet, clock=clock, limiter=limiter, quota=quota)


def google_quota(config: Config, clock: Clock) -> Quota:
    """The per-minute read and write budget of the daemon's Google credential."""
    g = config.google
    return Quota(
        reads=RateLimiter(g.reads_per_minute, clock=clock, margin_s=MARGIN_S),  # as paced
        writes=RateLimiter(g.writes_per_minute, clock=clock),
    )


def collector_policy() -> None:
    """The cyclic garbage collector's settings for `sheetsync run` and `sheetsync worker`, set
    once at start (by the command, never by a library call). A poll of a long sheet allocates a
    container per row (the decoded read) that lives through the cycle, and the daemon (or a
    worker) keeps a few objects per row between polls; with the default thresholds the
    collector ran every 700 allocations and walked every live object every few polls. A young
    collection every 50,000 allocations still frees cyclic garbage (a traceback, a closed
    connection) within a poll or two."""
    gc.set_threshold(YOUNG_COLLECTION_EVERY, 20, 100)


def identify_workspace(config: Config, sheet: SheetConfig) -> str:
    """The workspace id behind the API key (GET /me), with a short retry budget."""
    ws = config.warmysender
    quick = RetryPolicy(deadline_s=10.0, max_attempts=3)
    with WarmySenderClient(ws.base_url, ws.require_key(), retry=quick, timeout_s=ws.timeout_s) as c:
        return c.me().workspace_id


def record_failure(config: Config, sheet: str, message: str) -> None:
    """Make a failed cycle visible in `sheetsync status`."""
    with open_state(config) as state:
        state.record_failure(sheet, message)


def backoff_s(poll_seconds: float, failures: int) -> int:
    """Wait after `failures` failed cycles in a row: poll × 2^failures, at most an hour (or one
    poll, when the poll is longer than that)."""
    cap = max(MAX_BACKOFF_S, poll_seconds)
    return int(min(poll_seconds * 2 ** min(failures, 32), cap))


def jitter_s(poll_seconds: float) -> int:
    """Up to a tenth of the poll, at most 30 s: sheets started together drift apart."""
    return int(min(poll_seconds // 10, MAX_JITTER_S))


@dataclass
class SheetRun:
    """The daemon's bookkeeping for one sheet."""

    sheet: SheetConfig
    pace: Pace
    sync: Sync | None = None  # open between polls; None until the next poll opens it
    limiter: RateLimiter | None = None  # the one `sync` was opened with
    reopen: bool = False  # the config changed: the next poll opens the sync again
    opened: int = 0  # syncs opened so far
    failures: int = 0  # failed cycles in a row
    retry_at: float | None = None  # monotonic; ticks before it (give or take half a poll) skip
    last_error: str | None = None
    cycles: int = 0
    next_fire: float = 0.0  # run_due's interval grid (monotonic)
    busy: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Daemon:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        open_sync: OpenSync = open_engine,
        identify: Identify = identify_workspace,
        on_failure: RecordFailure = record_failure,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._open = open_sync
        self._identify = identify
        self._on_failure = on_failure
        self._secrets = secrets_of(config)
        self.quota = google_quota(config, self.clock)
        start = self.clock.monotonic()
        pace = paces(config, margin_s=MARGIN_S)
        self.runs = {
            s.name: SheetRun(s, pace[s.name], next_fire=start + pace[s.name].offset_s)
            for s in config.sheets
        }
        self._note_pace(None)
        self._workspace: dict[str, str] = {}  # sheet name -> workspace id
        self._own: dict[str, RateLimiter] = {}  # limiters of sheets with no known workspace
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._signals = 0
        self._signal_name = ""
        self._hangups = 0

    # --- one poll of one sheet -----------------------------------------------------------------

    def tick(self, name: str) -> Outcome:
        """Poll sheet `name` once (again at once if the cycle outlasted its poll), unless it is
        backing off after a failure, already running, or the daemon is stopping (or no longer
        has the sheet: a job that fires between `reload()` and its removal)."""
        run = self.runs.get(name)
        if run is None or self._stopping.is_set():
            return "stopped"
        if not run.busy.acquire(blocking=False):
            log.warning("%s: the previous cycle is still running; skipping this poll", name)
            return "busy"
        try:
            if self.runs.get(name) is not run:  # removed meanwhile (and closed): open nothing
                return "stopped"
            while True:
                poll = run.pace.poll_s
                now = self.clock.monotonic()
                if run.retry_at is not None and now < run.retry_at - poll / 2:
                    log.debug("%s: backing off, next try in %.0fs", name, run.retry_at - now)
                    return "backoff"
                if not self._cycle(run):
                    return "failed"
                took = self.clock.monotonic() - now
                if took < poll or self._stopping.is_set():
                    return "ok"
                log.info(
                    "%s: the cycle took %.1fs, more than its %.0fs between polls; polling again "
                    "now",
                    name,
                    took,
                    poll,
                )
        finally:
            run.busy.release()

    def _cycle(self, run: SheetRun) -> bool:
        sheet = run.sheet
        started = self.clock.monotonic()
        run.cycles += 1
        try:
            report = self._sync(run, self.limiter(sheet)).cycle(confirm_unenroll=False)
        except SheetsyncError as exc:
            self._close(run)
            self._failed(run, started, str(exc), None)
            return False
        except Exception as exc:  # noqa: BLE001 - one sheet's boundary: classified as its failure
            self._close(run)
            self._failed(run, started, f"unexpected {type(exc).__name__}: {exc}", exc)
            return False
        if run.failures:
            log.info("%s: working again after %d failed cycles", sheet.name, run.failures)
        run.failures, run.retry_at, run.last_error = 0, None, None
        fields = {"event": "cycle", **report.to_json()}
        log.info(cycle_line(fields), extra={"fields": fields})
        return True

    def _sync(self, run: SheetRun, limiter: RateLimiter) -> Sync:
        """The sheet's open sync; opened now when there is none, or again when the config
        changed or the sheet's workspace (and so its limiter) became known."""
        with self._lock:
            reopen, run.reopen = run.reopen, False
            config, quota = self.config, self.quota
        if run.sync is not None and (reopen or run.limiter is not limiter):
            self._close(run)
        if run.sync is None:
            run.sync = self._open(config, run.sheet, self.clock, limiter, quota)
            run.limiter = limiter
            run.opened += 1
        return run.sync

    def _close(self, run: SheetRun) -> None:
        sync, run.sync = run.sync, None
        if sync is not None:
            sync.close()  # SheetSync.close logs a part that fails to close, and closes the rest

    def close(self, leave: Collection[str] = ()) -> None:
        """Close every sheet's sync (each after its cycle in progress, if any) but those of the
        sheets named in `leave` (abandoned mid-cycle at a stop)."""
        for run in [r for name, r in self.runs.items() if name not in leave]:
            with run.busy:
                self._close(run)

    def reload(self, config: Config) -> None:
        """Use a new config: sheets added start polling, sheets removed are closed, and the
        sync of a sheet whose settings changed (or of every sheet, when [warmysender],
        [google] or [state] changed) is opened again at its next poll."""
        now = self.clock.monotonic()
        pace = paces(config, margin_s=MARGIN_S)
        with self._lock:
            old = self.config
            shared = (config.warmysender, config.google, config.state_path) != (
                old.warmysender,
                old.google,
                old.state_path,
            )
            runs: dict[str, SheetRun] = {}
            for s in config.sheets:
                run = self.runs.get(s.name)
                if run is None:
                    run = SheetRun(s, pace[s.name], next_fire=now + pace[s.name].offset_s)
                else:
                    run.reopen = run.reopen or shared or run.sheet != s
                    run.sheet, run.pace = s, pace[s.name]
                runs[s.name] = run
            removed = [r for name, r in self.runs.items() if name not in runs]
            self.runs, self.config = runs, config
            self._secrets = secrets_of(config)
            if shared:
                self.quota = google_quota(config, self.clock)
                self._workspace.clear()
        for run in removed:
            with run.busy:
                self._close(run)
        log.info("config reloaded from %s", config.path)
        self._note_pace(old)

    def _note_pace(self, old: Config | None) -> None:
        """Say once that the Google sheets are polled less often than configured."""
        note = stretch_note(self.config, margin_s=MARGIN_S)
        if note is not None and (old is None or note != stretch_note(old, margin_s=MARGIN_S)):
            log.warning(note)

    def _failed(self, run: SheetRun, started: float, message: str, exc: Exception | None) -> None:
        name = run.sheet.name
        message = redact(message, self._secrets)
        repeat = message == run.last_error
        run.failures += 1
        wait = backoff_s(run.pace.poll_s, run.failures)
        run.retry_at = started + wait
        run.last_error = message
        fields = {
            "event": "failure",
            "sheet": name,
            "error": message,
            "failures": run.failures,
            "retry_in_s": wait,
        }
        again = f" ({run.failures} in a row)" if run.failures > 1 else ""
        log.error(
            "%s: cycle failed%s: %s; next try in %ss",
            name,
            again,
            message,
            wait,
            exc_info=exc if exc is not None and not repeat else None,
            extra={"fields": fields},
        )
        try:
            self._on_failure(self.config, name, message)
        except (StateError, sqlite3.Error) as err:
            log.error("%s: could not record the failure in the state file: %s", name, err)

    # --- rate limits ---------------------------------------------------------------------------

    def limiter(self, sheet: SheetConfig) -> RateLimiter:
        """The shared limiter of the sheet's workspace; the sheet's own while that is unknown."""
        with self._lock:
            workspace = self._workspace.get(sheet.name)
        if workspace is None:
            try:
                workspace = self._identify(self.config, sheet)
            except SheetsyncError as exc:
                log.warning(
                    "%s: could not find the WarmySender workspace (GET /me: %s); this cycle "
                    "uses a rate limiter of its own",
                    sheet.name,
                    redact(str(exc), self._secrets),
                )
                with self._lock:
                    own = self._own.get(sheet.name)
                    if own is None:
                        own = self._own[sheet.name] = RateLimiter(clock=self.clock)
                    return own
            with self._lock:
                self._workspace[sheet.name] = workspace
            log.debug("%s: workspace %s", sheet.name, workspace)
        return limiter_for(workspace, clock=self.clock)

    # --- timing --------------------------------------------------------------------------------

    def run_due(self) -> list[tuple[str, Outcome]]:
        """Tick every sheet whose interval has come (on `clock`), as the interval trigger with
        coalescing would: polls that fell while its own cycle ran are not queued up."""
        done: list[tuple[str, Outcome]] = []
        for name, run in self.runs.items():
            if self.clock.monotonic() < run.next_fire:
                continue
            done.append((name, self.tick(name)))
            now = self.clock.monotonic()
            while run.next_fire <= now:
                run.next_fire += run.pace.poll_s
        return done

    def schedule(self, scheduler: BaseScheduler) -> None:
        """One interval job per sheet at its pace, the first runs spread from now on."""
        now = datetime.now(UTC)
        for name, run in self.runs.items():
            poll = run.pace.poll_s
            scheduler.add_job(
                self.tick,
                "interval",
                args=[name],
                id=name,
                name=f"poll {name}",
                seconds=poll,
                jitter=jitter_s(poll) or None,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                next_run_time=now + timedelta(seconds=run.pace.offset_s),
            )

    def run_forever(
        self, *, handle_signals: bool = True, grace_s: float = SHUTDOWN_GRACE_S
    ) -> None:
        """Poll until stop() or a signal, then let the cycles in progress finish, for up to
        `grace_s`. A cycle still running then is abandoned at its last commit: with
        `handle_signals` (the process is ours) the process exits at once; otherwise this
        returns and the cycle's thread ends in its own time. With [webhooks], the receiver
        listens alongside (app/webhooks.py), from before the first poll until after the last."""
        self.config.warmysender.require_key()
        with receiving(self.config, self.clock):
            self._poll_forever(handle_signals, grace_s)

    def _poll_forever(self, handle_signals: bool, grace_s: float) -> None:
        scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(max_workers=max(len(self.runs), 1))},
        )
        self.schedule(scheduler)
        previous = self._install_signals() if handle_signals else {}
        names = ", ".join(f"{n} every {r.pace.poll_s:.0f}s" for n, r in self.runs.items())
        log.info("sheetsync run: polling %s; SIGINT or SIGTERM stops", names)
        scheduler.start()
        try:
            while not self._stopping.is_set():
                if self._hangups:
                    self._hangups = 0
                    self._reload_file(scheduler)
                if self._signals:
                    self._stopping.set()
                    log.info(
                        "%s: finishing the cycle in progress, then exiting (send it again to "
                        "exit at once)",
                        self._signal_name,
                    )
                    break
                time.sleep(0.1)
            log.info("stopping: waiting for the cycles in progress")
            scheduler.shutdown(wait=False)
            busy = self._wait_idle(grace_s)
            self.close(leave=busy)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if busy:
            log.warning(
                "%s: the cycle in progress did not end within %gs of the stop; abandoned at its "
                "last saved step (the next start replays what it left open)",
                ", ".join(busy),
                grace_s,
            )
        log.info("stopped; state saved in %s", self.config.state_path)
        if busy and handle_signals:
            logging.shutdown()  # flush the log; the abandoned cycle's thread is not waited for
            os._exit(0)

    def _wait_idle(self, grace_s: float) -> list[str]:
        """Wait until no sheet runs a cycle, at most `grace_s`; the sheets still running."""
        until = time.monotonic() + grace_s
        busy = []
        for name, run in self.runs.items():
            if run.busy.acquire(timeout=max(0.0, until - time.monotonic())):
                run.busy.release()
            else:
                busy.append(name)
        return busy

    def _reload_file(self, scheduler: BaseScheduler) -> None:
        """SIGHUP: read the config file again; keep the running config if it is wrong, or if it
        adds sheets, moves the state file or changes [webhooks] (`run` locks its sheets and
        starts the receiver when it starts)."""
        try:
            config = load_config(self.config.path)
        except ConfigError as exc:
            log.error("SIGHUP: the config was not reloaded: %s", redact(str(exc), self._secrets))
            return
        added = sorted({s.name for s in config.sheets} - set(self.runs))
        moved = config.state_path != self.config.state_path
        if added or moved or config.webhooks != self.config.webhooks:
            what = (
                f"adds the sheets {', '.join(added)}"
                if added
                else "moves the state file"
                if moved
                else "changes [webhooks]"
            )
            log.error(
                "SIGHUP: the config was not reloaded: it %s; restart sheetsync run for that",
                what,
            )
            return
        self.reload(config)
        scheduler.remove_all_jobs()
        self.schedule(scheduler)

    def stop(self) -> None:
        """Ask run_forever() to stop after the cycles in progress (any thread)."""
        self._stopping.set()

    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, self._on_signal)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_hangup)
        return previous

    def _on_hangup(self, signum: int, frame: FrameType | None) -> None:
        self._hangups += 1  # the main loop reloads the config

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # No locks and no logging here (the interrupted main thread may hold a lock): count,
        # and let the main loop act on the first; exit at once on the second.
        self._signals += 1
        self._signal_name = signal.Signals(signum).name
        if self._signals > 1:
            os.write(2, f"sheetsync: second {self._signal_name}, exiting now\n".encode())
            os._exit(128 + signum)
