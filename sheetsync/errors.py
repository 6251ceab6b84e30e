"""One exception root for everything sheetsync raises, split by what the caller does next.

    SheetsyncError
    ├── ConfigError            bad config file, value or missing secret (exit 2)
    ├── UsageError             a command asked for what cannot be done: a file that is no
    │                          readable lead export, a campaign not in the sheet (exit 2)
    ├── ServiceError           a service could not be reached or refused us (exit 3)
    │   ├── ApiError           WarmySender answered with an error (carries status, code, endpoint)
    │   │   ├── AuthError           401: key unknown, revoked or expired             (fatal)
    │   │   │   └── Forbidden           403 other than a missing scope                (fatal)
    │   │   ├── ScopeError          403 insufficient_scope: .missing_scope; stops the
    │   │   │                           actions that need it, the rows say which scope
    │   │   ├── RowError            refused for this row only: write `error:`, go on
    │   │   │   ├── InvalidRequest      400/422 with the server's message
    │   │   │   ├── NotFound            404
    │   │   │   ├── PaymentRequired     402: subscription inactive (start refused)
    │   │   │   └── StateConflict       409 on the resource's state (PATCH while running)
    │   │   ├── IdempotencyConflict 409: a key was reused with another body; a bug, never retried
    │   │   └── RetriableError      429, 5xx, timeouts and lost connections after retries ran out
    │   │       └── RateLimited         429 after retries ran out (.retry_after)
    │   └── SheetError         the spreadsheet side
    │       ├── SheetNotFound       404: spreadsheet id or workbook path wrong
    │       ├── SheetPermission     403: the sheet is not shared with us
    │       ├── TabNotFound         a configured tab is missing (.existing names the tabs there)
    │       ├── HeaderError         a required header is missing (.tab, .header)
    │       └── SheetUnavailable    429/5xx/timeouts on the sheet after retries ran out, or a
    │           │                       workbook open in Excel or LibreOffice (its lock file)
    │           └── SheetChanged        a workbook saved by someone else while sheetsync wrote
    └── StateError             the state file is unreadable, read-only or from a newer sheetsync
        ├── StateLocked         another sheetsync writes this sheet: its lock is held (.pid)
        └── StateUnavailable    the disk under the state file is full or failed (exit 3)

Every message says what is wrong and what to do. No exception ever carries a secret.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3


class SheetsyncError(Exception):
    """Root of every error sheetsync raises on purpose."""

    exit_code = EXIT_SERVICE


class ConfigError(SheetsyncError):
    """The config file, a value in it, or a secret it names is wrong. Fatal; exit 2."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        where = ""
        if path and key:
            where = f"{path}: {key}: "
        elif path:
            where = f"{path}: "
        elif key:
            where = f"{key}: "
        super().__init__(where + message)
        self.path = path
        self.key = key


class UsageError(SheetsyncError):
    """A command was asked for something that cannot be done as asked (exit 2): `import` of a
    file that is not a readable lead export, or of a campaign the sheet does not have."""

    exit_code = EXIT_USAGE


class StateError(SheetsyncError):
    """The state file cannot be used."""

    exit_code = EXIT_USAGE


class StateLocked(StateError):
    """Another sheetsync process holds a sheet's lock (exit 2). `pid` and `command` are None
    when unknown."""

    def __init__(
        self,
        lock_path: Path,
        pid: int | None,
        *,
        sheet: str | None = None,
        command: str | None = None,
    ) -> None:
        who = f"`sheetsync {command}`" if command else "another sheetsync"
        by = f"process {pid}" if pid else "another process"
        what = f"sheet {sheet!r}" if sheet else "this state file"
        kill = f"kill -TERM {pid or '<pid>'}"
        if command == "run":
            fix = (
                f"That service syncs it: stop it first ({kill}), or let it do the work (to "
                f"release unenrolls held by the safety brake, tick the Confirm box on the "
                f"campaign's row), or give this config its own [state] path."
            )
        else:
            fix = f"Wait for it to finish and try again, or stop it ({kill})."
        super().__init__(f"{who} is already writing {what}: {lock_path} is locked by {by}. {fix}")
        self.lock_path = lock_path
        self.pid = pid
        self.sheet = sheet
        self.command = command


class StateUnavailable(StateError):
    """The disk under the state file is full or reported an I/O error, or another process kept
    the file locked: nothing is wrong with the file or the setup, so try again (exit 3)."""

    exit_code = EXIT_SERVICE


class ServiceError(SheetsyncError):
    """A service could not be reached or refused the request. Exit 3 when fatal."""

    exit_code = EXIT_SERVICE


# --- WarmySender -------------------------------------------------------------------------------


class ApiError(ServiceError):
    """WarmySender answered with an error.

    `endpoint` is the method and route template (``"POST /campaigns/{id}/start"``), never a URL
    with a query string and never a header, so the key cannot leak through it.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        endpoint: str | None = None,
        request_id: str | None = None,
        fix: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.endpoint = endpoint
        self.request_id = request_id
        self.fix = fix

    def __str__(self) -> str:
        parts = [self.message]
        if self.fix:
            parts.append(self.fix)
        tail = ", ".join(
            p
            for p in (
                self.endpoint,
                f"HTTP {self.status}" if self.status else None,
                self.code,
            )
            if p
        )
        return " ".join(parts) + (f" ({tail})" if tail else "")


class AuthError(ApiError):
    """401: the API key is unknown, revoked or expired. Fatal."""


class Forbidden(AuthError):
    """403 for a reason other than a missing scope: the key or account may not do this. Fatal."""


class ScopeError(ApiError):
    """403 insufficient_scope: the key lacks `missing_scope`. Retrying does not help; the sync
    stops the actions that need the scope and marks their rows (the rest of the cycle runs)."""

    def __init__(self, message: str, *, missing_scope: str | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.missing_scope = missing_scope


class RowError(ApiError):
    """The API refused this one request; the row gets `error: …` and the sync goes on."""


class InvalidRequest(RowError):
    """400 or 422: the server's message says what is wrong with the data."""


class NotFound(RowError):
    """404: the resource does not exist (deleted in WarmySender, or a wrong id)."""


class PaymentRequired(RowError):
    """402: the WarmySender subscription is not active, so the server refused (e.g. a start)."""


class StateConflict(RowError):
    """409 about the resource's state, e.g. PATCH on a running campaign."""


class IdempotencyConflict(ApiError):
    """409: an Idempotency-Key was reused with a different body. A logic error; never retried."""


class RetriableError(ApiError):
    """429, 5xx, timeouts or a lost connection, still failing when the retry deadline ran out."""


class RateLimited(RetriableError):
    """429 still answered after waiting; `retry_after` is the server's last hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


# --- Spreadsheets ------------------------------------------------------------------------------


class SheetError(ServiceError):
    """A spreadsheet could not be read or written."""

    def __init__(self, message: str, *, sheet: str | None = None) -> None:
        super().__init__(message)
        self.sheet = sheet


class SheetNotFound(SheetError):
    """404 or no such workbook: check the spreadsheet id, URL or path."""


class SheetPermission(SheetError):
    """403: share the sheet with the account sheetsync uses."""


class TabNotFound(SheetError):
    """A configured tab does not exist; `existing` lists the tabs that do. The sheet's layout is
    part of the setup, so this is a usage error (exit 2), not a service failure."""

    exit_code = EXIT_USAGE

    def __init__(self, tab: str, existing: list[str], *, sheet: str | None = None) -> None:
        shown = ", ".join(repr(t) for t in existing) or "none"
        super().__init__(
            f"tab {tab!r} not found; the tabs there are: {shown}. "
            f"Rename the tab or set [sheet.tabs] in the config.",
            sheet=sheet,
        )
        self.tab = tab
        self.existing = existing


class HeaderError(SheetError):
    """A required header is missing from a tab. A usage error (exit 2), like TabNotFound."""

    exit_code = EXIT_USAGE

    def __init__(self, tab: str, header: str, *, sheet: str | None = None) -> None:
        super().__init__(
            f"tab {tab!r} has no {header!r} column; add it to the header row (row 1) "
            f"or map it with [sheet.columns] in the config.",
            sheet=sheet,
        )
        self.tab = tab
        self.header = header


class SheetUnavailable(SheetError):
    """Quota (429), server errors or timeouts on the sheet, still failing after retries."""


class SheetChanged(SheetUnavailable):
    """The workbook was saved by someone else between sheetsync's read and its save: their work
    was kept and sheetsync's write skipped (its statuses are written on the next poll)."""
