"""`sheetsync check` is where the OAuth browser sign-in happens: it opens the sheet with
`interactive=True`. The browser flow itself (`google_auth.sign_in`) is replaced by one that
hands back a token the Sheets emulator accepts, so the rest of the path is the real one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.oauth2.credentials import Credentials

from sheetsync.app import cli as cli_module
from sheetsync.app.cli import cli
from sheetsync.sandbox import DEMO_KEY, SandboxServer
from sheetsync.sheet.google import auth as google_auth
from sheetsync.testing.sheets_emulator import SheetsEmulator

from .conftest import GOOGLE_TOKEN


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer, emulator: SheetsEmulator) -> Path:
    sid = emulator.create_spreadsheet({"Prospects": [["Email"]]})
    client = {"installed": {"client_id": "id", "client_secret": "s", "redirect_uris": []}}
    (tmp_path / "client.json").write_text(json.dumps(client), encoding="utf-8")
    path = tmp_path / "sheetsync.toml"
    path.write_text(
        f'[warmysender]\nbase_url = "{sandbox.base_url}"\n'
        f'[google]\nauth = "oauth"\ncredentials_file = "client.json"\n'
        f'sheets_base_url = "{emulator.base_url}"\n'
        f'[[sheet]]\nname = "g"\nsource = "google"\nspreadsheet = "{sid}"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def signed_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[Path, Path]]:
    """Record each browser sign-in instead of opening a browser; no cached sign-in exists."""
    calls: list[tuple[Path, Path]] = []

    def fake_sign_in(client_secrets: Path, token_path: Path) -> Any:
        calls.append((client_secrets, token_path))
        return Credentials(token=GOOGLE_TOKEN)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(google_auth, "sign_in", fake_sign_in)
    monkeypatch.setattr(google_auth, "DEFAULT_TOKEN_PATH", tmp_path / "no-token-yet.json")
    return calls


def test_check_runs_the_browser_sign_in_when_needed(
    config: Path, signed_in: list[tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_module, "_at_terminal", lambda: True)
    env = {"WARMYSENDER_API_KEY": DEMO_KEY}
    result = CliRunner().invoke(cli, ["--config", str(config), "check"], env=env)
    assert len(signed_in) == 1, result.output
    assert signed_in[0][0].name == "client.json"
    reachable = [ln for ln in result.output.splitlines() if "reachable" in ln]
    assert len(reachable) == 1 and reachable[0].startswith("\u2713"), result.output


def test_check_without_a_terminal_never_waits_for_a_browser(
    config: Path, signed_in: list[tuple[Path, Path]]
) -> None:
    env = {"WARMYSENDER_API_KEY": DEMO_KEY}
    result = CliRunner().invoke(cli, ["--config", str(config), "check"], env=env)
    assert result.exit_code == 1 and signed_in == []
    assert "run `sheetsync check` on a terminal once to sign in" in result.output


def test_other_commands_never_sign_in(config: Path, signed_in: list[tuple[Path, Path]]) -> None:
    env = {"WARMYSENDER_API_KEY": DEMO_KEY}
    result = CliRunner().invoke(cli, ["--config", str(config), "plan"], env=env)
    assert result.exit_code == 2 and signed_in == []
    assert "run `sheetsync check` on a terminal once to sign in" in result.output


def test_init_says_that_check_does_the_sign_in(tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    result = CliRunner().invoke(cli, ["--config", "s.toml", "init", "--xlsx", str(book)])
    assert result.exit_code == 0, result.output
    assert "check also does the browser sign-in" in result.output
