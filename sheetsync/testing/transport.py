"""Send a requests session's Google Sheets traffic to a SheetsEmulator (tests only).

session = emulator_session(emu, token="t1")
client = gspread.Client(auth=None, session=session)  # gspread talks to the emulator
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from sheetsync.testing.sheets_emulator import SheetsEmulator

GOOGLE_SHEETS = "https://sheets.googleapis.com"


class RedirectAdapter(HTTPAdapter):
    """Rewrites `https://sheets.googleapis.com/...` to `base_url/...` before sending."""

    def __init__(self, base_url: str, prefix: str = GOOGLE_SHEETS) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        if url.startswith(self.prefix):
            request.url = self.base_url + url[len(self.prefix) :]
        return super().send(request, *args, **kwargs)


def emulator_session(
    emulator: SheetsEmulator, token: str | None = "test-token"
) -> requests.Session:
    """A requests session whose Sheets calls reach `emulator`, with a bearer token set.
    Close it (or use it as a context manager) when done."""
    session = requests.Session()
    session.mount(GOOGLE_SHEETS, RedirectAdapter(emulator.base_url))
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token}"
    return session
