"""Google errors, translated at the boundary into sheetsync.errors classes that say what to do.

429, 408, 5xx, timeouts, lost connections   Transient (retried by the source, then
                                            SheetUnavailable)
400 Unable to parse range                   RangeError (a tab vanished: refresh metadata)
400 exceeds grid limits                     GridError (the cached grid size is stale)
404                                         SheetNotFound: check the spreadsheet id
403                                         SheetPermission: share the sheet with <account>
401, a token that cannot be refreshed       SheetPermission: the fix for the auth mode
other 4xx                                   SheetError with Google's message
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError

from sheetsync.errors import SheetError, SheetNotFound, SheetPermission

T = TypeVar("T")


@dataclass(frozen=True)
class ErrorContext:
    spreadsheet_id: str
    account: str | None  # the service account's email, for "share the sheet with ..."
    fix_for_401: str


class Transient(Exception):
    """Worth retrying: quota (429), server errors, timeouts, lost connections."""

    def __init__(self, reason: str, quota: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.quota = quota


def call_once(fn: Callable[[], T], ctx: ErrorContext) -> T:
    """Run one request; raise a sheetsync error, or Transient for what is worth retrying."""
    try:
        return fn()
    except APIError as exc:
        raise translate(exc, ctx) from None
    except RefreshError:
        raise SheetPermission(
            f"Google rejected the credentials and they cannot be refreshed; {ctx.fix_for_401}",
            sheet=ctx.spreadsheet_id,
        ) from None
    except TransportError as exc:
        raise Transient(f"cannot reach Google's sign-in server: {type(exc).__name__}") from None
    except requests.Timeout:
        raise Transient("timed out") from None
    except requests.ConnectionError:
        raise Transient("connection failed") from None
    except requests.RequestException as exc:
        raise SheetError(
            f"request to Google Sheets failed: {type(exc).__name__}", sheet=ctx.spreadsheet_id
        ) from None


def translate(exc: APIError, ctx: ErrorContext) -> Exception:
    """The sheetsync error (or Transient) for a Google error answer."""
    status = exc.response.status_code if exc.response is not None else exc.code
    message = str(exc.error.get("message", "")) if isinstance(exc.error, dict) else ""
    short = message.strip().splitlines()[0][:300] if message.strip() else f"HTTP {status}"
    sid = ctx.spreadsheet_id
    if status == 429:
        return Transient("HTTP 429 quota exceeded", quota=True)
    if status in (408,) or status >= 500:
        return Transient(f"HTTP {status}")
    if status == 400 and "Unable to parse range" in message:
        return RangeError(short)
    if status == 400 and "exceeds grid limits" in message:
        return GridError(short)
    if status == 404:
        return SheetNotFound(
            f"spreadsheet {sid} not found (Google: {short}); check the spreadsheet id in "
            f"the config: it is the part of the sheet's URL between /d/ and /edit",
            sheet=sid,
        )
    if status == 403:
        if "has not been used" in message or "is disabled" in message:
            fix = "enable the Google Sheets API in the Google Cloud project of the credentials"
        elif ctx.account:
            fix = f"share the sheet with {ctx.account} as Editor (Share button in the sheet)"
        else:
            fix = "share the sheet, as Editor, with the Google account sheetsync signs in as"
        return SheetPermission(
            f"no access to spreadsheet {sid} (Google: {short}); {fix}", sheet=sid
        )
    if status == 401:
        return SheetPermission(
            f"Google rejected the credentials (HTTP 401); {ctx.fix_for_401}", sheet=sid
        )
    return SheetError(f"Google Sheets refused the request (HTTP {status}: {short})", sheet=sid)


class RangeError(SheetError):
    """400 Unable to parse range: a tab in the request does not exist (any more)."""


class GridError(SheetError):
    """400 exceeds grid limits: the cached grid size is out of date."""
