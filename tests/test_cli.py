import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli

COMMANDS = [
    "init", "check", "plan", "sync", "run", "status", "sandbox", "demo", "worker", "workers",
    "state",
]  # fmt: skip


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0
    assert cli.commands[name].help
    assert "Usage:" in result.output


def test_state_migrate_has_help() -> None:
    result = CliRunner().invoke(cli, ["state", "migrate", "--help"])
    assert result.exit_code == 0 and "--to URL" in result.output
