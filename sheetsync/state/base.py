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
from sheetsync.state.model import Intent, Item, Run


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

    def known(self, sheet: str) -> bool: ...

    def add_intent(
        self, sheet: str, op: str, body: dict[str, Any], idempotency_key: str
    ) -> int: ...

    def resolve_intent(self, intent_id: int) -> None: ...

    def pending_intents(self, sheet: str) -> list[Intent]: ...

    def record_run(self, sheet: str, report: dict[str, Any]) -> None: ...

    def record_failure(self, sheet: str, message: str) -> None: ...

    def recent_runs(self, sheet: str, limit: int = 5) -> list[Run]: ...

    def last_failure(self, sheet: str) -> Run | None: ...

    def statuses(self, sheet: str, prefix: str) -> list[Item]: ...
