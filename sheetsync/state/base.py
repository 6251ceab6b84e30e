"""The one state API, implemented by both stores: `store.State` (SQLite, the default) and
`postgres.PostgresState` (PostgreSQL, for any number of workers). The engine, the daemon and the
commands only see a `Store`; `connect.open_state` picks the one the config names.

What every store guarantees: an intent is committed before its call is sent (`add_intent`), the
outcome of a call and the resolution of its intent commit together (`transaction`), pending
intents survive any crash until resolved (`pending_intents`), and a `read_only` store changes
nothing anywhere (`sheetsync plan`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, Self

from sheetsync.clock import Clock
from sheetsync.state.model import Intent, Item, Registration, Run, StoredEvent


class Store(Protocol):
    clock: Clock
    worker: str | None  # names this process in the runs it records

    @property
    def version(self) -> int: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Everything inside commits together, or not at all (nested blocks join the outer)."""
        ...

    def exclusive(self, sheet: str) -> AbstractContextManager[None]:
        """Held for a whole cycle of `sheet`: no other process runs a cycle of it meanwhile
        (errors.SheetBusy when one does)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def items(self, sheet: str, role: str) -> dict[str, Item]: ...

    def put(self, sheet: str, item: Item) -> None: ...

    def written(self, sheet: str) -> set[tuple[str, str]]:
        """The (role, key) of the items of `sheet` this store put (or whose Outcome it stored)
        since the last call: the rows the engine's row cache must look at again."""
        ...

    def known(self, sheet: str) -> bool: ...

    def add_intent(self, sheet: str, intent: Intent) -> Intent:
        """Record a write BEFORE it is sent; the intent with the id it was stored under."""
        ...

    def update_intent(self, intent: Intent) -> None: ...

    def resolve_intent(self, intent_id: int) -> None: ...

    def pending_intents(self, sheet: str) -> list[Intent]: ...

    def record_run(self, sheet: str, report: dict[str, Any]) -> int:
        """Record a finished cycle; returns its id."""
        ...

    def last_run_id(self, sheet: str) -> int:
        """The id of the sheet's latest run or failure (0: none). A kept SheetSync compares it
        with the id of its own last run: a newer one means another process (a worker, `sheetsync
        sync`) ran the sheet since, and the sync reads its items from the store again."""
        ...

    def record_failure(self, sheet: str, message: str) -> None: ...

    def recent_runs(self, sheet: str, limit: int = 5) -> list[Run]: ...

    def last_failure(self, sheet: str) -> Run | None: ...

    def statuses(self, sheet: str, prefix: str) -> list[Item]: ...

    # outcomes: the webhook registration, stored events, Outcome per row, named marks

    def webhook(self) -> Registration | None: ...

    def begin_webhook(self, base_url: str, url: str, events: tuple[str, ...], key: str) -> None: ...

    def finish_webhook(self, remote_id: str, secret: str) -> None: ...

    def forget_webhook(self) -> None: ...

    def events_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]: ...

    def prune_events(self, before: str) -> None: ...

    def mark(self, sheet: str, name: str) -> str | None: ...

    def set_mark(self, sheet: str, name: str, value: str | None) -> None: ...

    def outcomes(self, sheet: str) -> dict[str, tuple[str, str]]: ...

    def put_outcomes(self, sheet: str, outcomes: dict[str, tuple[str, str]]) -> None: ...
