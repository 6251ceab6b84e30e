"""The command line: parses, calls the library, and turns a library error into one clear line
and an exit code (0 done; 1 some rows or checks failed; 2 usage or config; 3 service)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sheetsync import __version__
from sheetsync.config import Config, SheetConfig, config_path, load_config
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


def _at_terminal() -> bool:
    """A person can answer a browser sign-in (never true in CI or under systemd)."""
    return sys.stdin.isatty()


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
@click.option(
    "--xlsx",
    "xlsx",
    metavar="PATH",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sync this local workbook (created if missing).",
)
@click.option("--spreadsheet", metavar="ID", help="Sync this Google Sheet (its id or URL).")
@click.option("--force", is_flag=True, help="Replace an existing config file.")
@pass_ctx
@_friendly
def init(ctx: Ctx, xlsx: Path | None, spreadsheet: str | None, force: bool) -> None:
    """Write a config template and create the tabs, headers and checkboxes.

    With --xlsx or --spreadsheet, writes the config (never over an existing one without
    --force) and creates the tabs. Without them, creates the missing tabs of the existing
    config. Existing tabs and data are never touched.
    """
    from sheetsync.app import init as initcmd

    path = ctx.config_path
    if xlsx is not None or spreadsheet is not None:
        config = initcmd.write_config(path, xlsx=xlsx, spreadsheet=spreadsheet, force=force)
        click.echo(f"Wrote {path} (every key is explained in its comments).")
    elif not path.exists():
        click.echo(
            f"error: {path}: no config yet; run `sheetsync init --xlsx PATH` for a local "
            "workbook or `sheetsync init --spreadsheet ID` for a Google Sheet",
            err=True,
        )
        sys.exit(EXIT_USAGE)
    else:
        config = load_config(path)
    _writing(config, config.sheets, "init")
    for sheet in config.sheets:
        try:
            done = initcmd.create_sheet_tabs(config, sheet)
        except SheetsyncError:
            click.echo(
                f"Could not create the tabs of sheet {sheet.name!r}; fix the problem below, "
                "then run `sheetsync init` again (it keeps the config and any tabs already "
                "there).",
                err=True,
            )
            raise
        click.echo(f"Sheet {sheet.name!r} ({done.label}):")
        for layout in done.layouts:
            if layout.title in done.created:
                click.echo(f"  created tab {layout.title!r}: {initcmd.describe(layout)}")
            else:
                click.echo(f"  kept tab {layout.title!r} as it is (it already exists)")
    env = config.warmysender.api_key_env
    click.echo(
        "Next steps:\n"
        f"  1. export {env}=<your key> (Settings > API Keys in WarmySender)\n"
        f"  2. sheetsync check        # config, key, scopes, sheet, headers, mailboxes\n"
        '     (with a Google Sheet and auth = "oauth", check also does the browser sign-in)\n'
        f"  3. fill in the tabs, then: sheetsync plan, sheetsync sync (or sheetsync run)"
    )


@cli.command()
@pass_ctx
def check(ctx: Ctx) -> None:
    """Check config, credentials, key scopes, sheet access, headers and mailboxes.

    One line per check; exit 0 when every check passes, 1 when any failed.
    """
    from sheetsync.app.check import run_checks

    failed = warned = 0
    for result in run_checks(ctx.config_path, interactive=_at_terminal()):
        mark = "!" if result.warning else "\u2713" if result.ok else "\u2717"
        line = f"{mark} {result.name}" + (f": {result.detail}" if result.detail else "")
        if result.fix:
            line += f" \u2192 fix: {result.fix}"
        click.echo(line)
        failed += not result.ok
        warned += result.warning
    if failed:
        click.echo(f"{failed} check{'s' if failed != 1 else ''} failed.")
        sys.exit(1)
    click.echo(
        f"All checks passed ({warned} warning{'s' if warned != 1 else ''})."
        if warned
        else "All checks passed."
    )


@cli.command()
@pass_ctx
@_friendly
def plan(ctx: Ctx) -> None:
    """Dry run: show what the next sync would do. Writes nothing anywhere."""
    from rich.console import Console

    from sheetsync.app.report import plan_table
    from sheetsync.sync.cycle import open_sync

    config = ctx.load()
    console = Console(highlight=False)
    errors = 0
    for sheet in config.sheets:
        with open_sync(config, sheet, read_only=True) as ss:
            dry = ss.plan()
        console.print(plan_table(dry))
        errors += len(dry.issues)
    sys.exit(1 if errors else 0)


@cli.command()
@click.option("--sheet", "sheet", metavar="NAME", help="Only this [[sheet]].")
@click.option("--json", "as_json", is_flag=True, help="One JSON summary object per sheet.")
@click.option("--confirm-unenroll", is_flag=True, help="Release unenrolls held by the brake.")
@pass_ctx
@_friendly
def sync(ctx: Ctx, sheet: str | None, as_json: bool, confirm_unenroll: bool) -> None:
    """Run one sync cycle per sheet."""
    import json

    from rich.console import Console

    from sheetsync.app.report import progress_bar
    from sheetsync.errors import EXIT_ROWS_FAILED, ConfigError, StateError
    from sheetsync.sync.counts import summary
    from sheetsync.sync.cycle import open_sync

    config = ctx.load()
    sheets = [config.sheet(sheet)] if sheet else list(config.sheets)
    console = Console(stderr=True)
    code = 0
    _writing(config, sheets, "sync")
    for s in sheets:
        with open_sync(config, s) as ss:
            try:
                bar = not as_json and console.is_terminal
                with progress_bar(console, s.name, enabled=bar) as progress:
                    report = ss.cycle(confirm_unenroll=confirm_unenroll, progress=progress)
            except (ConfigError, StateError):
                raise
            except SheetsyncError as exc:
                ss.state.record_failure(s.name, str(exc))
                click.echo(f"error: {s.name}: {exc}", err=True)
                code = max(code, exc.exit_code)
                continue
        if as_json:
            click.echo(json.dumps(report.to_json()))
        else:
            click.echo(summary(report))
        if report.errors:
            code = max(code, EXIT_ROWS_FAILED)
    sys.exit(code)


@cli.command("import")
@click.argument("file", metavar="FILE.csv", type=click.Path(path_type=Path))
@click.option("--sheet", "sheet", metavar="NAME", help="The [[sheet]] to import into.")
@click.option(
    "--campaign",
    metavar="NAME",
    help="Also tick an Enrollments row in this campaign (from the Campaigns tab) for each email.",
)
@pass_ctx
@_friendly
def import_(ctx: Ctx, file: Path, sheet: str | None, campaign: str | None) -> None:
    """Append a lead export (CSV) to the Prospects tab: new emails only.

    The headers of Apollo, HubSpot, Salesforce, ZoomInfo, Lusha, Hunter, Seamless.AI, Clay,
    Sales Navigator scrapers, LinkedIn and WarmySender exports are recognised. Emails already in
    the tab are reported, not added again. Exit 1 when some lines had no usable email.
    """
    from rich.console import Console

    from sheetsync.app.importer import import_csv, summary
    from sheetsync.app.report import progress_bar
    from sheetsync.errors import EXIT_ROWS_FAILED, UsageError
    from sheetsync.sheet.connect import open_source

    config = ctx.load()
    if sheet is None and len(config.sheets) > 1:
        names = ", ".join(s.name for s in config.sheets)
        raise UsageError(f"the config has several sheets ({names}); choose one with --sheet NAME")
    target = config.sheet(sheet) if sheet else config.sheets[0]
    console = Console(stderr=True)
    _writing(config, [target], "import")  # a running daemon writes this sheet too
    source = open_source(target, config.google, interactive=_at_terminal())
    try:
        with progress_bar(console, file.name, enabled=console.is_terminal) as progress:
            report = import_csv(source, target, file, campaign=campaign, progress=progress)
    finally:
        source.close()
    for line in summary(report, file, campaign):
        click.echo(line)
    sys.exit(EXIT_ROWS_FAILED if report.invalid else 0)


def _log_options(fn: F) -> F:
    fn = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="text: one readable line per event; json: one JSON object per line.",
    )(fn)
    return click.option(
        "--verbose", "-v", is_flag=True, help="Detailed logs (DEBUG for sheetsync)."
    )(fn)


def _setup_logging(config: Config, verbose: bool, log_format: str) -> None:
    from sheetsync.app.logs import secrets_of, setup_logging

    setup_logging(
        verbose, "json" if log_format == "json" else "text", sys.stderr, secrets=secrets_of(config)
    )


@cli.command()
@_log_options
@pass_ctx
@_friendly
def run(ctx: Ctx, verbose: bool, log_format: str) -> None:
    """The hands-off daemon: poll every sheet on its schedule until SIGINT or SIGTERM.

    On a PostgreSQL state ([state] url) it is one worker, as `sheetsync worker`.
    """
    from sheetsync.app.daemon import Daemon, collector_policy

    config = ctx.load()
    _setup_logging(config, verbose, log_format)
    config.warmysender.require_key()
    collector_policy()
    if config.state_url is not None:  # one worker of many: PostgreSQL keeps them apart
        from sheetsync.app.worker import run_worker

        run_worker(config)
        return
    _writing(config, config.sheets, "run")
    Daemon(config).run_forever()


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Sheets this worker runs a cycle of at once.",
)
@click.option("--name", help="This worker's name in `status` and `workers` (default host:pid).")
@_log_options
@pass_ctx
@_friendly
def worker(ctx: Ctx, concurrency: int, name: str | None, verbose: bool, log_format: str) -> None:
    """One worker of many on a PostgreSQL state: the workers share the config's sheets.

    Start as many as you like, on any machines, with the same config; each sheet is in one
    cycle at a time, polled on its poll_seconds, and a dead worker's sheets move to the others
    within a minute. SIGINT or SIGTERM finishes the cycles in progress, then exits.
    """
    from sheetsync.app.daemon import collector_policy
    from sheetsync.app.worker import run_worker

    config = ctx.load()
    _setup_logging(config, verbose, log_format)
    collector_policy()  # a worker keeps its sheets' syncs between polls, as the daemon does
    run_worker(config, name=name, concurrency=concurrency)


@cli.command()
@pass_ctx
@_friendly
def workers(ctx: Ctx) -> None:
    """The workers of a PostgreSQL state: name, heartbeat, the sheets they run now."""
    from rich.console import Console

    from sheetsync.app.report import workers_table
    from sheetsync.app.worker import worker_views

    config = _postgres(ctx.load())
    Console(highlight=False).print(workers_table(worker_views(config)))


@cli.group()
def state() -> None:
    """Manage the state (what sheetsync remembers between polls)."""


@state.command("migrate")
@click.option("--to", "to", metavar="URL", required=True, help="postgresql://user@host/db")
@pass_ctx
@_friendly
def state_migrate(ctx: Ctx, to: str) -> None:
    """Copy the SQLite state into a PostgreSQL one (pending intents first).

    Refused while a `sheetsync run` holds the config's sheets (a `sync` is waited for). The
    SQLite file is left as it is.
    """
    from sheetsync.config import Secret
    from sheetsync.errors import ConfigError, StateError
    from sheetsync.state.copy import TABLES, copy_state
    from sheetsync.state.postgres import open_postgres, shown
    from sheetsync.state.store import State
    from sheetsync.sync.outcomes import EVENTS_MARK

    config = ctx.load()
    if not to.startswith(("postgresql://", "postgres://")):
        raise ConfigError("--to must be a postgresql:// URL")
    url = Secret(to)
    if not config.state_path.exists():
        raise StateError(f"no SQLite state at {config.state_path} to copy ([state] path)")
    _writing(config, config.sheets, "migrate")
    with State(config.state_path) as src, open_postgres(url) as dst:
        copied = copy_state(src, dst, skip_marks=frozenset({EVENTS_MARK}))
    what = {"intents": "pending intents", "items": "rows", "runs": "runs", "outcomes": "Outcomes",
            "marks": "marks"}  # fmt: skip
    counts = ", ".join(f"{copied.rows[t]:,} {what[t]}" for t in TABLES)
    click.echo(
        f"Copied {config.state_path} to {shown(url)}: {counts} "
        f"(sheets: {', '.join(copied.sheets) or 'none'}).\n"
        "Next: set [state] url in the config (or SHEETSYNC_STATE_URL) and start the workers; "
        "the SQLite file is left as it was."
    )


def _postgres(config: Config) -> Config:
    from sheetsync.errors import ConfigError

    if config.state_url is None:
        raise ConfigError(
            "there are workers only on a PostgreSQL state: set [state] url (or "
            "SHEETSYNC_STATE_URL)",
            path=str(config.path),
        )
    return config


@cli.command()
@pass_ctx
@_friendly
def status(ctx: Ctx) -> None:
    """Per sheet: how often it is polled, recent runs, deferred work and rows in error.

    On a PostgreSQL state, also per sheet the worker of the last cycle, the next due time and
    the failures in a row.
    """
    from rich.console import Console

    from sheetsync.api.ratelimit import MARGIN_S
    from sheetsync.app.pace import paces
    from sheetsync.app.report import status_tables
    from sheetsync.state.connect import open_state

    config = ctx.load()
    console = Console(highlight=False)
    margin = MARGIN_S
    if config.state_url is not None:  # polled by workers, which pace for their own margin
        from sheetsync.app.worker import GOOGLE_MARGIN_S

        margin = GOOGLE_MARGIN_S
    pace = paces(config, margin_s=margin)
    with open_state(config, read_only=True) as state:
        for sheet in config.sheets:
            for table in status_tables(state, sheet.name, pace[sheet.name]):
                console.print(table)
    if config.state_url is not None:
        from sheetsync.app.report import sheets_table
        from sheetsync.app.worker import sheet_views

        console.print(sheets_table(sheet_views(config)))


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
@_friendly
def demo() -> None:
    """The whole loop on a sample workbook against the sandbox, offline.

    Copies the sample workbook to ./sheetsync-demo.xlsx (replacing an earlier demo copy), runs
    two sync cycles against an in-process sandbox, and prints what happened.
    """
    from sheetsync.app.demo import run_demo

    run_demo(Path.cwd())


def _writing(config: Config, sheets: Iterable[SheetConfig], command: str) -> None:
    """Hold the lock of each sheet a writing command touches until the command ends (see
    app/lock.py): StateLocked, naming the holder, when another process writes one of them."""
    from sheetsync.app.lock import sheets_locked

    names = [s.name for s in sheets]
    click.get_current_context().with_resource(
        sheets_locked(config.state_path, names, command=command)
    )


def main() -> None:
    cli(prog_name="sheetsync")
