"""The daemon's timing and bookkeeping on a FakeClock: intervals, one instance, slow cycles,
failing sheets with backoff, the failure record, and one limiter per workspace."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from sheetsync.app.daemon import Daemon, backoff_s, collector_policy, jitter_s, record_failure
from sheetsync.clock import FakeClock, SystemClock
from sheetsync.config import Config, SheetConfig, load_config
from sheetsync.errors import AuthError, ConfigError, ServiceError, SheetNotFound
from sheetsync.state import State
from sheetsync.sync.counts import cycle_line

from .conftest import API_KEY, Failures, FakeEngine, make_config


def ws_of(mapping: dict[str, str]) -> object:
    def identify(config: Config, sheet: SheetConfig) -> str:
        return mapping[sheet.name]

    return identify


def drive(daemon: Daemon, clock: FakeClock, until: float, step: float = 10.0) -> None:
    """Call run_due() every `step` seconds of fake time until `until`."""
    while clock.monotonic() <= until:
        daemon.run_due()
        now = clock.monotonic()
        clock.advance(step - now % step)


def make(tmp_path: Path, clock: FakeClock, engine: FakeEngine, polls: dict[str, int]) -> Daemon:
    return Daemon(
        make_config(tmp_path, polls),
        clock=clock,
        open_sync=engine,
        identify=ws_of({n: "ws_1" for n in polls}),
        on_failure=Failures(),
    )


def test_each_sheet_polls_at_its_own_interval(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine
) -> None:
    d = make(tmp_path, clock, engine, {"fast": 60, "slow": 150})
    drive(d, clock, until=600)
    assert engine.starts["fast"] == [0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600]
    # "slow" waits for fast's 1 s cycle when both are due (run_due is sequential).
    assert engine.starts["slow"] == [1, 150, 301, 450, 601]
    assert engine.max_running == 1
    assert engine.confirm and not any(engine.confirm)  # the daemon never releases held unenrolls
    assert (engine.opened, engine.closed) == (2, 0)  # one sync per sheet, kept between polls
    d.close()
    assert engine.closed == 2


def test_a_slow_cycle_is_followed_at_once_not_dropped(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine
) -> None:
    engine.script["s"] = [90.0]  # the first cycle outlasts the 60 s poll
    d = make(tmp_path, clock, engine, {"s": 60})
    assert d.run_due() == [("s", "ok")]
    assert engine.starts["s"] == [0, 90]  # polled again right after, within the same tick
    drive(d, clock, until=240)
    # the poll that fell inside the slow cycle was not queued up twice: back on the grid
    assert engine.starts["s"] == [0, 90, 120, 180, 240]


def test_a_sheet_never_runs_two_cycles_at_once(tmp_path: Path, engine: FakeEngine) -> None:
    engine.clock = SystemClock()
    engine.default = 0.0
    gate = engine.gates["s"] = threading.Event()
    d = Daemon(
        make_config(tmp_path, {"s": 60}),
        clock=engine.clock,
        open_sync=engine,
        identify=ws_of({"s": "ws_1"}),
        on_failure=Failures(),
    )
    outcomes: list[str] = []
    first = threading.Thread(target=lambda: outcomes.append(d.tick("s")))
    first.start()
    assert engine.entered.wait(5)
    assert d.tick("s") == "busy"
    gate.set()
    first.join(5)
    assert outcomes == ["ok"]
    assert len(engine.starts["s"]) == 1
    assert engine.max_running == 1


def test_jobs_use_interval_one_instance_coalesce_and_no_misfire_limit(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine
) -> None:
    d = make(tmp_path, clock, engine, {"a": 60, "b": 600})
    scheduler = BackgroundScheduler(timezone=UTC)
    before = datetime.now(UTC)
    d.schedule(scheduler)
    jobs = {j.id: j for j in scheduler.get_jobs()}
    assert set(jobs) == {"a", "b"}
    for name, poll in (("a", 60), ("b", 600)):
        job = jobs[name]
        assert isinstance(job.trigger, IntervalTrigger)
        assert job.trigger.interval == timedelta(seconds=poll)
        assert job.trigger.jitter == (jitter_s(poll) or None)
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time is None  # a late poll always runs
        assert job.args == (name,)
        assert before <= job.next_run_time <= datetime.now(UTC)  # first cycle at start
    assert jitter_s(60) == 6 and jitter_s(600) == 30 and jitter_s(5) == 0


def test_backoff_grows_caps_at_an_hour_and_never_undercuts_the_poll() -> None:
    assert [backoff_s(60, n) for n in (1, 2, 3, 4, 5, 6, 7)] == [
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    assert backoff_s(7200, 1) == 7200
    assert backoff_s(60, 500) == 3600


def test_a_failing_sheet_backs_off_resets_on_success_and_the_others_keep_going(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.default = 0.0
    gone = SheetNotFound("no workbook at bad.xlsx; check [[sheet]] spreadsheet", sheet="bad")
    engine.script["bad"] = [gone, gone, gone]
    failures = Failures()
    d = Daemon(
        make_config(tmp_path, {"bad": 60, "good": 60}),
        clock=clock,
        open_sync=engine,
        identify=ws_of({"bad": "ws_1", "good": "ws_1"}),
        on_failure=failures,
    )
    caplog.set_level(logging.INFO, logger="sheetsync")
    drive(d, clock, until=1000, step=60)
    # retries 2, 4 and 8 polls after each failed start; then every poll again
    assert engine.starts["bad"] == [0, 120, 360, 840, 900, 960]
    assert len(engine.starts["good"]) == 17  # every poll from 0 to 960, never held back
    assert [m for _, m in failures.recorded] == [str(gone)] * 3
    assert {s for s, _ in failures.recorded} == {"bad"}
    assert d.runs["bad"].failures == 0 and d.runs["bad"].retry_at is None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 3
    assert all(r.exc_info is None for r in errors)  # a known error: one line, no traceback
    assert "next try in 120s" in errors[0].getMessage()
    assert "(3 in a row)" in errors[2].getMessage()
    assert "next try in 480s" in errors[2].getMessage()
    assert errors[2].fields["retry_in_s"] == 480  # type: ignore[attr-defined]
    assert any("working again after 3 failed cycles" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "exc",
    [
        AuthError("the API key was refused", status=401),
        ConfigError("the WarmySender API key is not set"),
        ServiceError("Google said: quota exceeded"),
    ],
)
def test_every_service_sheet_and_config_error_is_a_failure_of_that_sheet(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine, exc: Exception
) -> None:
    engine.script["a"] = [exc]
    failures = Failures()
    d = Daemon(
        make_config(tmp_path, {"a": 60, "b": 60}),
        clock=clock,
        open_sync=engine,
        identify=ws_of({"a": "ws", "b": "ws"}),
        on_failure=failures,
    )
    assert d.run_due() == [("a", "failed"), ("b", "ok")]
    assert failures.recorded == [("a", str(exc))]


def test_an_unexpected_exception_logs_its_traceback_once(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.script["a"] = [KeyError("row"), KeyError("row"), ValueError("other")]
    failures = Failures()
    d = Daemon(
        make_config(tmp_path, {"a": 10, "b": 10}),
        clock=clock,
        open_sync=engine,
        identify=ws_of({"a": "ws", "b": "ws"}),
        on_failure=failures,
    )
    caplog.set_level(logging.INFO, logger="sheetsync")
    drive(d, clock, until=200)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.exc_info is not None for r in errors] == [True, False, True]
    assert "unexpected KeyError: 'row'" in errors[0].getMessage()
    assert [m for _, m in failures.recorded] == [
        "unexpected KeyError: 'row'",
        "unexpected KeyError: 'row'",
        "unexpected ValueError: other",
    ]
    assert len(engine.starts["b"]) >= 20  # b was never affected


def test_the_failure_reaches_the_state_file_for_status(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine
) -> None:
    config = make_config(tmp_path, {"a": 60})
    engine.script["a"] = [SheetNotFound("no workbook at a.xlsx", sheet="a")]
    d = Daemon(
        config,
        clock=clock,
        open_sync=engine,
        identify=ws_of({"a": "ws"}),
        on_failure=record_failure,
    )
    d.run_due()
    with State(config.state_path) as state:
        last = state.last_failure("a")
    assert last is not None and last.message == "no workbook at a.xlsx"


def test_a_secret_in_an_error_never_reaches_the_log_or_the_state(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    engine.script["a"] = [RuntimeError(f"bad header Bearer {API_KEY}")]
    failures = Failures()
    d = Daemon(
        make_config(tmp_path, {"a": 60}),
        clock=clock,
        open_sync=engine,
        identify=ws_of({"a": "ws"}),
        on_failure=failures,
    )
    d.run_due()
    assert failures.recorded == [("a", "unexpected RuntimeError: bad header Bearer ***")]
    assert API_KEY not in caplog.records[-1].getMessage()


def test_one_limiter_per_workspace_and_a_sheet_without_one_asks_again(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine
) -> None:
    asked: list[str] = []
    down = [True]

    def identify(config: Config, sheet: SheetConfig) -> str:
        asked.append(sheet.name)
        if sheet.name == "d" and down[0]:
            down[0] = False
            raise ServiceError("WarmySender could not be reached")
        return {"a": "ws_1", "b": "ws_1", "c": "ws_2", "d": "ws_1"}[sheet.name]

    d = Daemon(
        make_config(tmp_path, {"a": 60, "b": 60, "c": 60, "d": 60}),
        clock=clock,
        open_sync=engine,
        identify=identify,
        on_failure=Failures(),
    )
    drive(d, clock, until=60, step=60)
    lim = engine.limiters  # one entry per opening of the sheet's sync
    assert len(lim["a"]) == len(lim["b"]) == len(lim["c"]) == 1
    assert lim["a"][0] is lim["b"][0] and lim["c"][0] is not lim["a"][0]
    assert lim["d"][0] is not lim["a"][0]  # workspace unknown: a limiter of its own meanwhile
    assert lim["d"][1] is lim["a"][0]  # found on the next tick: opened again with ws_1's
    assert sorted(asked) == ["a", "b", "c", "d", "d"]  # GET /me once per sheet once known


def test_stop_refuses_new_cycles(tmp_path: Path, clock: FakeClock, engine: FakeEngine) -> None:
    d = make(tmp_path, clock, engine, {"a": 60})
    d.stop()
    assert d.run_due() == [("a", "stopped")]
    assert "a" not in engine.starts


def test_run_forever_runs_every_sheet_at_start_with_apscheduler_and_stops(
    tmp_path: Path, engine: FakeEngine
) -> None:
    engine.clock = SystemClock()
    engine.default = 0.0
    d = Daemon(
        make_config(tmp_path, {"a": 60, "b": 60, "c": 60}),
        clock=engine.clock,
        open_sync=engine,
        identify=ws_of({"a": "ws_1", "b": "ws_1", "c": "ws_2"}),
        on_failure=Failures(),
    )
    t = threading.Thread(target=d.run_forever, kwargs={"handle_signals": False})
    t.start()
    try:
        for _ in range(500):
            with engine.lock:
                if len(engine.starts) == 3:
                    break
            threading.Event().wait(0.01)
    finally:
        d.stop()
        t.join(10)
    assert not t.is_alive()
    assert {n: len(s) for n, s in engine.starts.items()} == {"a": 1, "b": 1, "c": 1}
    assert engine.limiters["a"][0] is engine.limiters["b"][0] is not engine.limiters["c"][0]


def test_cycle_line_shows_only_non_zero_counts() -> None:
    line = cycle_line(
        {
            "sheet": "acme",
            "rows_read": 12,
            "prospects_created": 3,
            "enrolled": 5,
            "errors": 1,
            "unenrolled": 0,
            "duration_s": 2.345,
            "api_calls": 9,
            "sheets_reads": 2,
            "sheets_writes": 1,
        }
    )
    assert line == (
        "acme: 12 rows; 3 prospects created, 5 enrolled, 1 error; 2.3s, "
        "9 API calls, 2 sheet reads, 1 sheet write"
    )
    quiet = {"sheet": "acme", "rows_read": 1, "duration_s": 0.1, "api_calls": 0}
    assert cycle_line(quiet) == "acme: 1 row; no changes; 0.1s, 0 API calls, 0 sheet reads, " + (
        "0 sheet writes"
    )


def test_the_collector_policy_of_run_young_collections_every_50000_allocations() -> None:
    before = gc.get_threshold()
    try:
        collector_policy()
        assert gc.get_threshold() == (50_000, 20, 100) and gc.isenabled()
    finally:
        gc.set_threshold(*before)


def test_sighup_reloads_the_config_file_and_reopens_what_changed(
    tmp_path: Path, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARMYSENDER_API_KEY", API_KEY)
    engine.clock = SystemClock()
    engine.default = 0.0
    path = tmp_path / "sheetsync.toml"

    def write(sheets: dict[str, int]) -> None:
        text = '[warmysender]\nbase_url = "http://127.0.0.1:9/api/v1"\n'
        for name, poll in sheets.items():
            text += f'[[sheet]]\nname = "{name}"\nsource = "xlsx"\nspreadsheet = "{name}.xlsx"\n'
            text += f"poll_seconds = {poll}\n"
        path.write_text(text, encoding="utf-8")

    write({"a": 60, "b": 60})
    d = Daemon(
        load_config(path),
        clock=engine.clock,
        open_sync=engine,
        identify=ws_of({"a": "ws", "b": "ws", "c": "ws"}),
        on_failure=Failures(),
    )

    def until(check: Callable[[], bool]) -> None:
        for _ in range(500):
            with engine.lock:
                if check():
                    return
            threading.Event().wait(0.01)
        pytest.fail("the daemon did not get there")

    t = threading.Thread(target=d.run_forever, kwargs={"handle_signals": False})
    t.start()
    try:
        until(lambda: {"a", "b"} <= set(engine.starts))
        kept_a = d.runs["a"].sync
        write({"a": 60, "c": 600})  # a sheet added: refused (run locks its sheets at start)
        d._on_hangup(signal.SIGHUP, None)  # as the signal handler does
        threading.Event().wait(0.3)
        assert set(d.runs) == {"a", "b"}
        write({"a": 120})  # b removed, a's poll changed
        d._on_hangup(signal.SIGHUP, None)
        until(lambda: engine.closed == 2)  # b's sync closed, a's closed to open it again
        until(lambda: engine.opened == 3)
        assert set(d.runs) == {"a"} and d.runs["a"].sync is not kept_a
        assert d.runs["a"].pace.poll_s == 120
        path.write_text("not toml [", encoding="utf-8")
        d._on_hangup(signal.SIGHUP, None)  # a broken file: the running config stays
        threading.Event().wait(0.3)
        assert set(d.runs) == {"a"} and t.is_alive()
    finally:
        d.stop()
        t.join(10)
    assert not t.is_alive() and engine.closed == 3  # at stop: a


def test_a_tick_of_a_sheet_the_reload_removed_opens_nothing(
    tmp_path: Path, clock: FakeClock, engine: FakeEngine
) -> None:
    """Between reload() and the scheduler's new jobs, the removed sheet's job may still fire:
    no KeyError in the scheduler's thread, and no sync opened that nothing would close."""
    d = make(tmp_path, clock, engine, {"a": 60, "b": 60})
    assert d.tick("a") == "ok" and d.tick("b") == "ok"
    old_b = d.runs["b"]
    d.reload(make_config(tmp_path, {"a": 60}))
    assert engine.closed == 1 and old_b.sync is None
    assert d.tick("b") == "stopped"
    assert engine.opened == 2 and old_b.sync is None
