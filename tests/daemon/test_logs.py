"""setup_logging: the text line, the JSON format, verbosity, and redaction of secrets."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from sheetsync.app.daemon import Daemon
from sheetsync.app.logs import redact, secrets_of, setup_logging
from sheetsync.clock import FakeClock
from sheetsync.errors import SheetNotFound

from .conftest import API_KEY, GOOGLE_TOKEN, Failures, FakeEngine, make_config

pytestmark = pytest.mark.usefixtures("restore_logging")


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def daemon(tmp_path: Path, engine: FakeEngine, clock: FakeClock) -> Daemon:
    return Daemon(
        make_config(tmp_path, {"acme": 60}),
        clock=clock,
        open_sync=engine,
        identify=lambda config, sheet: "ws_1",
        on_failure=Failures(),
    )


def test_text_format_is_one_readable_line_per_cycle(
    tmp_path: Path, engine: FakeEngine, clock: FakeClock
) -> None:
    out = io.StringIO()
    setup_logging(False, "text", out)
    daemon(tmp_path, engine, clock).run_due()
    (line,) = lines(out)
    assert line.endswith(
        "INFO sheetsync.app.daemon: acme: 3 rows; no changes; 1.0s, 0 API calls, 0 sheet reads, "
        "0 sheet writes"
    )
    logging.getLogger("sheetsync.app.daemon").debug("detail")
    assert len(lines(out)) == 1  # DEBUG only with --verbose


def test_verbose_shows_sheetsync_debug_but_not_library_chatter() -> None:
    out = io.StringIO()
    setup_logging(True, "text", out)
    logging.getLogger("sheetsync.sync.cycle").debug("planning 3 actions")
    logging.getLogger("apscheduler.scheduler").info("Added job")
    logging.getLogger("apscheduler.scheduler").warning("skipped: maximum number of instances")
    assert [line.split(" ", 2)[2] for line in lines(out)] == [
        "DEBUG sheetsync.sync.cycle: planning 3 actions",
        "WARNING apscheduler.scheduler: skipped: maximum number of instances",
    ]


def test_json_format_parses_and_carries_the_cycle_fields(
    tmp_path: Path, engine: FakeEngine, clock: FakeClock
) -> None:
    out = io.StringIO()
    setup_logging(False, "json", out)
    engine.script["acme"] = [2.5, SheetNotFound("no workbook at acme.xlsx", sheet="acme")]
    d = daemon(tmp_path, engine, clock)
    d.run_due()
    clock.advance(60)
    d.run_due()
    cycle, failure = (json.loads(line) for line in lines(out))
    assert cycle["level"] == "INFO" and cycle["logger"] == "sheetsync.app.daemon"
    assert cycle["message"].startswith("acme: 3 rows; no changes; 2.5s")
    assert cycle["time"].endswith("+00:00") and "T" in cycle["time"]
    assert cycle["event"] == "cycle" and cycle["sheet"] == "acme"
    assert cycle["rows_read"] == 3 and cycle["duration_s"] == 2.5
    for key in ("prospects_created", "enrolled", "api_calls", "sheets_reads", "sheets_writes"):
        assert cycle[key] == 0
    assert failure["level"] == "ERROR" and failure["event"] == "failure"
    assert failure["error"] == "no workbook at acme.xlsx"
    assert failure["failures"] == 1 and failure["retry_in_s"] == 120


def test_json_format_puts_a_traceback_under_exception() -> None:
    out = io.StringIO()
    setup_logging(False, "json", out)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("sheetsync.app.daemon").exception("cycle failed")
    (obj,) = (json.loads(line) for line in lines(out))
    assert obj["message"] == "cycle failed"
    assert "Traceback" in obj["exception"] and "ValueError: boom" in obj["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_configured_secret_is_logged_as_stars(tmp_path: Path, fmt: str) -> None:
    config = make_config(tmp_path, {"a": 60})
    assert secrets_of(config) == [API_KEY, GOOGLE_TOKEN]
    out = io.StringIO()
    setup_logging(False, fmt, out, secrets=secrets_of(config))  # type: ignore[arg-type]
    log = logging.getLogger("sheetsync.test")
    log.info("sending Authorization: Bearer %s", API_KEY)
    log.warning(f"token {GOOGLE_TOKEN} refused", extra={"fields": {"header": [API_KEY]}})
    try:
        raise RuntimeError(f"request failed with key {API_KEY}")
    except RuntimeError:
        log.exception("unexpected")
    text = out.getvalue()
    assert API_KEY not in text and GOOGLE_TOKEN not in text
    assert "Bearer ***" in text and "token *** refused" in text
    assert "request failed with key ***" in text
    if fmt == "json":
        objs = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert objs[0]["message"] == "sending Authorization: Bearer ***"
        assert objs[1]["header"] == ["***"]


def test_setup_twice_replaces_the_handler_and_rejects_unknown_formats() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging(False, "text", first)
    setup_logging(False, "text", second)
    logging.getLogger("sheetsync").info("once")
    assert first.getvalue() == "" and second.getvalue().count("once") == 1
    with pytest.raises(ValueError, match="text, json"):
        setup_logging(False, "xml", second)  # type: ignore[arg-type]


def test_redact_skips_secrets_too_short_to_be_keys() -> None:
    assert redact("a key abcdef here", ["abcdef", "ab", ""]) == "a key *** here"
