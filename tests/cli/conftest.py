"""Fixtures for the init/check/demo command tests: a sandbox on 127.0.0.1 with the demo
workspace (plus a revoked key), a Sheets API emulator, and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sheetsync.clock import FakeClock
from sheetsync.sandbox import Sandbox, SandboxServer, demo_seed
from sheetsync.testing.sheets_emulator import SheetsEmulator

REVOKED_KEY = "wsk_test_revoked_key_0003"
GOOGLE_TOKEN = "ya29.test-token-for-the-emulator"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No credentials from the machine running the tests, and the temp dir as cwd."""
    for name in (
        "WARMYSENDER_API_KEY",
        "SHEETSYNC_CONFIG",
        "SHEETSYNC_GOOGLE_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    seed = demo_seed()
    seed["workspaces"][0]["apiKeys"].append(
        {"key": REVOKED_KEY, "name": "Old key", "scopes": ["mailboxes:read"], "revoked": True}
    )
    with SandboxServer(Sandbox(seed, clock=FakeClock())) as server:
        yield server


@pytest.fixture
def emulator() -> Iterator[SheetsEmulator]:
    with SheetsEmulator(tokens={GOOGLE_TOKEN}) as emu:
        yield emu
