"""The commands on a PostgreSQL state: `plan` writes nothing, `status` shows the workers' view of
each sheet, `workers` lists them, `sync` steps aside while a worker holds the sheet; and the
config keys that choose the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.logs import secrets_of
from sheetsync.config import Secret, load_config, parse_config
from sheetsync.errors import ConfigError
from sheetsync.sandbox import DEMO_KEY, Sandbox, SandboxServer
from sheetsync.state.postgres import open_postgres
from tests.engine.conftest import XlsxBook, default_tabs, seed

TABLES = ("migrations", "items", "intents", "runs")


@pytest.fixture
def cfg(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    with SandboxServer(Sandbox(seed())) as server:
        XlsxBook(tmp_path / "book.xlsx", default_tabs())
        path = tmp_path / "sheetsync.toml"
        path.write_text(
            f'[warmysender]\nbase_url = "{server.base_url}"\n[state]\nurl = "{pg_url}"\n'
            '[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "book.xlsx"\n'
            'custom_fields = ["Industry"]\nsettle_polls = 0\n',
            encoding="utf-8",
        )
        monkeypatch.setenv("WARMYSENDER_API_KEY", DEMO_KEY)
        yield path


def dump(url: str) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('migrations')").fetchone() == (None,):
            return {}
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}


def invoke(cfg: Path, *args: str) -> Any:
    return CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["--config", str(cfg), *args])


def test_plan_writes_nothing_before_and_after_the_first_sync(cfg: Path, pg_url: str) -> None:
    plan = invoke(cfg, "plan")
    assert plan.exit_code == 0, plan.output
    assert "create campaign Q1 Launch" in " ".join(plan.output.split())
    assert dump(pg_url) == {}  # not even the schema
    assert invoke(cfg, "sync").exit_code == 0
    before = dump(pg_url)
    assert before["items"] and before["runs"]
    assert invoke(cfg, "plan").exit_code == 0
    assert dump(pg_url) == before


def test_status_shows_the_last_cycle_the_next_poll_and_failures(cfg: Path, pg_url: str) -> None:
    empty = invoke(cfg, "status")
    assert empty.exit_code == 0 and "never synced" in empty.output
    assert "when a worker starts" in empty.output
    assert invoke(cfg, "sync").exit_code == 0
    with open_postgres(Secret(pg_url), worker="box-2:41") as state:
        state.record_failure("acme", "Google said 503")
        state.record_failure("acme", "Google said 503 again")
    out = invoke(cfg, "status").output
    row = next(line for line in out.splitlines() if line.startswith("│ acme"))
    assert "failed" in row and "box-2:41" in row and row.rstrip("│ ").endswith("2")
    assert "Google said 503 again" in out


def test_status_shows_the_workers_pace(tmp_path: Path, pg_url: str) -> None:
    """100 Google sheets at 60 s on one credential: workers hold each quota slot 62 s (the
    daemon 60.5 s), so each sheet is polled every 60 x 100 / (60 x 60 / 62) = 103.3 s."""
    path = tmp_path / "sheetsync.toml"
    lines = [f'[google]\nauth = "token"\n[state]\nurl = "{pg_url}"\n']
    for i in range(100):
        lines.append(f'[[sheet]]\nname = "g{i}"\nspreadsheet = "sheet{i}"\npoll_seconds = 60\n')
    path.write_text("".join(lines), encoding="utf-8")
    result = invoke(path, "status")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("│ 103 s (poll_seconds = 60, stretched") == 100


def test_workers_lists_none_before_any_started(cfg: Path) -> None:
    result = invoke(cfg, "workers")
    assert result.exit_code == 0 and "none" in result.output


def test_sync_steps_aside_while_a_worker_is_in_a_cycle_of_the_sheet(cfg: Path, pg_url: str) -> None:
    with open_postgres(Secret(pg_url)) as worker, worker.exclusive("acme"):
        result = invoke(cfg, "sync")
    assert result.exit_code == 2
    assert "sheet 'acme' is in a cycle on another worker right now" in result.output
    assert "Traceback" not in result.output
    assert invoke(cfg, "sync").exit_code == 0


def test_workers_and_worker_need_a_postgresql_state(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[[sheet]]\nname = "a"\nsource = "xlsx"\nspreadsheet = "a.xlsx"\n', "utf-8")
    for command in ("workers", "worker"):
        result = CliRunner(env={"WARMYSENDER_API_KEY": "k"}).invoke(
            cli, ["--config", str(path), command]
        )
        assert result.exit_code == 2, result.output
        assert "set [state] url (or SHEETSYNC_STATE_URL)" in result.output


def test_workers_say_they_do_not_receive_webhooks_yet(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[state]\nurl = "postgresql://u@/db?host=/nonexistent"\n'
        '[webhooks]\nlisten = "127.0.0.1:8788"\npublic_url = "https://sync.example.com/hook"\n'
        '[[sheet]]\nname = "a"\nsource = "xlsx"\nspreadsheet = "a.xlsx"\n',
        "utf-8",
    )
    result = CliRunner(env={"WARMYSENDER_API_KEY": "k"}).invoke(
        cli, ["--config", str(path), "worker"]
    )
    assert result.exit_code == 2, result.output
    assert "workers do not receive webhooks yet: remove [webhooks]" in result.output


SHEET = {"name": "a", "source": "xlsx", "spreadsheet": "a.xlsx"}


def parse(data: dict[str, Any], env: dict[str, str] | None = None) -> Any:
    return parse_config({**data, "sheet": [SHEET]}, path=Path("/x/s.toml"), env=env or {})


def test_the_state_url_comes_from_the_file_or_the_environment() -> None:
    assert parse({}).state_url is None
    url = "postgresql://sync:pw@db.example.com/sheetsync"
    assert parse({"state": {"url": url}}).state_url == Secret(url)
    assert parse({}, {"SHEETSYNC_STATE_URL": url}).state_url == Secret(url)
    assert url not in repr(parse({}, {"SHEETSYNC_STATE_URL": url}))
    config = parse({"state": {"url": url}}, {"WARMYSENDER_API_KEY": "wsk_x123456"})
    assert secrets_of(config) == ["wsk_x123456", "pw"]  # the password is redacted from logs
    long = parse({"state": {"url": "postgresql://u:longpassword@h/db"}})
    assert "longpassword" in secrets_of(long)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"state": {"url": "mysql://u:pw@h/db"}}, "state.url: must be a postgresql:// URL"),
        ({"workers": {"heartbeat_seconds": 10}}, "at least 3 x heartbeat_seconds"),
        ({"workers": {"failover_seconds": 0.5}}, "at least 1"),
        ({"workers": {"lease": 3}}, "workers.lease: unknown key"),
    ],
)
def test_bad_state_and_workers_keys_are_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse(data)
    assert "pw" not in str(err.value)


def test_the_example_config_documents_the_url(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "config" / "sheetsync.example.toml"
    text = example.read_text(encoding="utf-8")
    assert "# url = " in text and "[workers]" in text
    assert load_config(example, env={}).state_url is None
