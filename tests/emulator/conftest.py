from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sheetsync.clock import FakeClock
from sheetsync.testing import SheetsEmulator

TOKEN = "tok-1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[SheetsEmulator]:
    with SheetsEmulator(clock=clock, tokens={TOKEN, "tok-2"}) as e:
        yield e


@pytest.fixture
def http(emu: SheetsEmulator) -> Iterator[requests.Session]:
    """A plain session with the bearer token; call emu.base_url + "/v4/spreadsheets/…"."""
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        yield s
