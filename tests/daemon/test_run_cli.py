"""`sheetsync run` refusals that happen before the daemon starts: one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.lock import SheetLock

pytestmark = pytest.mark.usefixtures("restore_logging")

CONFIG = """
[warmysender]
base_url = "http://127.0.0.1:9/api/v1"
[state]
path = "state/state.db"
[[sheet]]
name = "a"
source = "xlsx"
spreadsheet = "a.xlsx"
"""


def invoke(tmp_path: Path, *args: str, env: dict[str, str]) -> tuple[int, str]:
    (tmp_path / "sheetsync.toml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "sheetsync.toml"), "run", *args], env=env
    )
    return result.exit_code, result.output


def test_run_without_an_api_key_says_which_variable_to_set(tmp_path: Path) -> None:
    code, out = invoke(tmp_path, env={"WARMYSENDER_API_KEY": ""})
    assert code == 2
    assert "error: the WarmySender API key is not set: export WARMYSENDER_API_KEY" in out
    assert "Traceback" not in out


def test_run_while_another_run_holds_its_sheet_exits_2(tmp_path: Path) -> None:
    with SheetLock(tmp_path / "state" / "state.db", "a", command="run") as held:
        code, out = invoke(tmp_path, "--log-format", "json", env={"WARMYSENDER_API_KEY": "k" * 8})
    assert code == 2
    assert f"error: `sheetsync run` is already writing sheet 'a': {held.path}" in out


def test_run_rejects_an_unknown_log_format(tmp_path: Path) -> None:
    code, out = invoke(tmp_path, "--log-format", "xml", env={})
    assert code == 2 and "'xml' is not one of 'text', 'json'" in out
