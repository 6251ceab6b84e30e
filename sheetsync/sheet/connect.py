"""Opens the source a [[sheet]] names: Google Sheets or an xlsx workbook (`base.SheetSource`)."""

from __future__ import annotations

from pathlib import Path

import requests
from google.auth.transport.requests import AuthorizedSession
from gspread.http_client import HTTPClient

from sheetsync.clock import Clock
from sheetsync.config import GoogleConfig, SheetConfig
from sheetsync.sheet.base import SheetSource
from sheetsync.sheet.google.auth import load_credentials
from sheetsync.sheet.google.quota import Quota
from sheetsync.sheet.google.source import GoogleSource, rebase_session
from sheetsync.sheet.xlsx import XlsxSource


def open_source(
    sheet: SheetConfig,
    google: GoogleConfig,
    *,
    session: requests.Session | None = None,
    clock: Clock | None = None,
    interactive: bool = False,
    token_path: Path | None = None,
    quota: Quota | None = None,
) -> SheetSource:
    """The source for one [[sheet]]. For Google, `session` replaces the AuthorizedSession (it
    must then add the Authorization header itself); `interactive` allows the OAuth browser
    sign-in; `sheets_base_url` reroutes requests (proxies, the test emulator); `quota` is the
    Google quota this source shares with the others of its credential."""
    if sheet.source == "xlsx":
        return XlsxSource(Path(sheet.spreadsheet))
    auth = load_credentials(google, token_path=token_path, interactive=interactive)
    if session is None:
        session = AuthorizedSession(auth.credentials)  # type: ignore[no-untyped-call]
    if google.sheets_base_url:
        rebase_session(session, google.sheets_base_url)
    client = HTTPClient(auth.credentials, session=session)
    client.set_timeout(google.timeout_s)
    return GoogleSource(
        sheet.spreadsheet,
        client,
        clock=clock,
        account=auth.account,
        fix_for_401=auth.fix_for_401(),
        quota=quota,
    )
