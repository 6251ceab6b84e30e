"""Opens the state a config names: PostgreSQL when `[state] url` (or SHEETSYNC_STATE_URL) is set,
else the SQLite file at `[state] path`."""

from __future__ import annotations

from sheetsync.clock import Clock
from sheetsync.config import Config
from sheetsync.state.base import Store
from sheetsync.state.store import State


def open_state(
    config: Config,
    *,
    clock: Clock | None = None,
    read_only: bool = False,
    worker: str | None = None,
) -> Store:
    """The config's state, created and migrated when missing (unless `read_only`)."""
    if config.state_url is None:
        return State(config.state_path, clock=clock, read_only=read_only, worker=worker)
    from sheetsync.state.postgres import open_postgres  # psycopg is loaded only when used

    return open_postgres(config.state_url, clock=clock, read_only=read_only, worker=worker)
