"""Send a requests session's Google Sheets traffic to a SheetsEmulator (tests only).

session = emulator_session(emu, token="t1")
client = gspread.Client(auth=None, session=session)  # gspread talks to the emulator
"""

from __future__ import annotations

import requests

from sheetsync.sheet.google.source import GOOGLE_SHEETS_URL as GOOGLE_SHEETS
from sheetsync.sheet.google.source import RebaseAdapter as RedirectAdapter
from sheetsync.testing.sheets_emulator import SheetsEmulator


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
