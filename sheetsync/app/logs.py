"""Logging for the daemon and the CLI: one readable line per event, or one JSON object per line.

`setup_logging()` puts one handler on the root logger: sheetsync.* at INFO (DEBUG with
`verbose`), every other library at WARNING (so APScheduler's "skipped: maximum number of running
instances reached" still shows). Structured detail travels in `extra={"fields": {...}}`: the JSON
format merges those fields into the object, the text format shows only the message.

Defence in depth: a `Redact` filter on the handler replaces every configured secret (the API key,
the Google token) with "***" in the message, its arguments, the traceback and the fields, before
any formatter sees the record. Secrets shorter than `MIN_SECRET` characters are not redacted (they
would blank out ordinary words); no real key is that short.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from sheetsync.config import Config, url_passwords

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
MASK = "***"
MIN_SECRET = 6
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers of libraries that are chatty at INFO (a line per HTTP request or per job run).
_QUIET = ("apscheduler", "httpx", "httpcore", "urllib3", "google", "gspread", "procrastinate",
          "psycopg")  # fmt: skip


def secrets_of(config: Config) -> list[str]:
    """The secret values a config holds (to redact them from every log record)."""
    found = [config.warmysender.api_key, config.google.token]
    secrets = [s.reveal() for s in found if s is not None]
    return secrets + (url_passwords(config.state_url.reveal()) if config.state_url else [])


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET:
            text = text.replace(secret, MASK)
    return text


class Redact(logging.Filter):
    """Replaces secrets in a record: message and args, exception text, stack and fields."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= MIN_SECRET)
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = self._clean(fields)
        return True

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {k: self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the record's
    `fields`, then `exception` (the traceback text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        obj: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                obj.setdefault(str(key), value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            obj["exception"] = record.exc_text
        if record.stack_info:
            obj["stack"] = record.stack_info
        return json.dumps(obj, default=str, ensure_ascii=False)


class _SheetsyncHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler setup_logging installed, so calling it again replaces it."""


def setup_logging(
    verbose: bool, fmt: LogFormat, stream: TextIO, *, secrets: Iterable[str] = ()
) -> logging.Handler:
    """Send log records to `stream` in `fmt`; returns the handler (tests remove it)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _SheetsyncHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _SheetsyncHandler(stream)
    handler.addFilter(Redact(secrets))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("sheetsync").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
