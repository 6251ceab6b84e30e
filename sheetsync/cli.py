"""The command line: parses, calls the library, and turns a library error into one clear line
and an exit code (0 done; 1 some rows or checks failed; 2 usage or config; 3 service)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sheetsync import __version__
from sheetsync.config import Config, config_path, load_config
from sheetsync.errors import EXIT_USAGE, SheetsyncError

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Turn a SheetsyncError into `error: …` on stderr and its exit code; no traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SheetsyncError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


class Ctx:
    def __init__(self, config: str | None) -> None:
        self.config_arg = config

    @property
    def config_path(self) -> Path:
        return config_path(self.config_arg)

    def load(self) -> Config:
        return load_config(self.config_path)


pass_ctx = click.make_pass_decorator(Ctx)


def _not_yet(command: str, issue: int) -> None:
    click.echo(
        f"`sheetsync {command}` is not built yet (tracked in issue {issue}); nothing was done.",
        err=True,
    )
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sheetsync")
@click.option(
    "--config",
    "config",
    metavar="PATH",
    default=None,
    help="Config file (default: $SHEETSYNC_CONFIG or config/sheetsync.toml).",
)
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Keep a WarmySender workspace in step with a spreadsheet that marketers edit."""
    ctx.obj = Ctx(config)


@cli.command()
@pass_ctx
def init(ctx: Ctx) -> None:
    """Write a config template and create the tabs, headers and checkboxes."""
    _not_yet("init", 5)


@cli.command()
@pass_ctx
def check(ctx: Ctx) -> None:
    """Check config, credentials, key scopes, sheet access, headers and mailboxes."""
    _not_yet("check", 5)


@cli.command()
@pass_ctx
def plan(ctx: Ctx) -> None:
    """Dry run: show what the next sync would do. Writes nothing anywhere."""
    _not_yet("plan", 4)


@cli.command()
@click.option("--sheet", "sheet", metavar="NAME", help="Only this [[sheet]].")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary object per sheet.")
@click.option("--confirm-unenroll", is_flag=True, help="Release unenrolls held by the brake.")
@pass_ctx
def sync(ctx: Ctx, sheet: str | None, as_json: bool, confirm_unenroll: bool) -> None:
    """Run one sync cycle per sheet."""
    _not_yet("sync", 4)


@cli.command()
@pass_ctx
def run(ctx: Ctx) -> None:
    """The hands-off daemon: poll every sheet on its schedule until SIGINT or SIGTERM."""
    _not_yet("run", 5)


@cli.command()
@pass_ctx
def status(ctx: Ctx) -> None:
    """Recent runs, deferred work and rows in error, per sheet."""
    _not_yet("status", 4)


@cli.command()
@click.option("--port", default=8787, show_default=True, help="Port on 127.0.0.1.")
@click.option("--seed", "seed", type=click.Path(dir_okay=False), help="Seed workspaces (JSON).")
@click.option("--rate-limit", type=int, default=None, help="Requests per minute per workspace.")
@click.option("--latency-ms", type=int, default=0, show_default=True, help="Delay every answer.")
@click.option(
    "--error-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of requests answered 500/503 before any work.",
)
@click.option(
    "--drop-rate",
    type=float,
    default=0.0,
    show_default=True,
    help="Share of requests whose answer is dropped after the work is done.",
)
@_friendly
def sandbox(
    port: int,
    seed: str | None,
    rate_limit: int | None,
    latency_ms: int,
    error_rate: float,
    drop_rate: float,
) -> None:
    """A local WarmySender-compatible API to try a sheet safely."""
    from sheetsync.sandbox import serve

    serve(port, seed, rate_limit, latency_ms, error_rate, drop_rate)


@cli.command()
def demo() -> None:
    """The whole loop on a sample workbook against the sandbox, offline."""
    _not_yet("demo", 5)


def main() -> None:
    cli(prog_name="sheetsync")
