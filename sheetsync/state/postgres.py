"""The state on PostgreSQL (`[state] url = "postgresql://…"`): the `Store` API of the SQLite store
(store.py), with the same tables and the same guarantees, shared by any number of workers.

Connections come from a psycopg pool (autocommit). Outside a transaction each statement borrows
a connection; `transaction()` pins one for its block, so everything in it commits together (one
transaction per known outcome, as on SQLite). `exclusive(sheet)` pins one for a whole cycle and
holds the sheet's advisory lock on it: two processes never run a cycle of one sheet at once,
even when the job engine takes a slow worker for a dead one, and the lock goes with the
session if the process dies. A worker keeps one pool for all its sheets (`PostgresState` on a
shared pool); the commands open a small pool of their own (`open_postgres`).

The first process to open a database creates or migrates the schema; processes that start
together queue on an advisory lock (`schema_lock`) and find it current. A `read_only` state
(`sheetsync plan`) runs every transaction READ ONLY, so nothing it does can write; before the
first worker has created the schema it reads as empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, LiteralString, cast

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from sheetsync.clock import Clock, SystemClock, utc_iso
from sheetsync.config import Secret, url_passwords
from sheetsync.errors import SheetBusy, StateError, StateUnavailable
from sheetsync.state.migrations import MIGRATIONS, SCHEMA_VERSION
from sheetsync.state.model import (
    Intent,
    Item,
    Registration,
    Run,
    Stored,
    StoredEvent,
    Written,
    item_from_row,
    item_row,
    run_times,
)

SCHEMA_LOCK = 0x7368656574737963  # "sheetsyc": the advisory lock taken to create or migrate
CONNECT_TIMEOUT_S = 10
Params = tuple[Any, ...]


def shown(url: Secret) -> str:
    """The URL without its passwords (after `user:`, in `password=`), for messages."""
    text = url.reveal()
    for password in url_passwords(text):
        text = text.replace(f":{password}@", ":***@").replace(
            f"password={password}", "password=***"
        )
    return text


def sheet_lock_id(sheet: str) -> int:
    """The advisory lock of one sheet's cycle: 64 bits of a hash of its name."""
    digest = hashlib.blake2b(f"sheetsync:sheet:{sheet}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def schema_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Held while a process creates or migrates the schema; the others wait their turn."""
    conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


def unreachable(url: Secret, exc: Exception) -> StateUnavailable:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for password in url_passwords(url.reveal()):  # libpq quotes a malformed one
        reason = reason.replace(password, "***")
    return StateUnavailable(
        f"cannot use the PostgreSQL state at {shown(url)}: {reason}; check [state] url (or "
        "SHEETSYNC_STATE_URL), that the server is up and that the user may connect"
    )


@contextmanager
def creating_schema(url: Secret) -> Iterator[None]:
    """Around creating or migrating tables: a user that may not (no CREATE on the schema, not
    the tables' owner) is a clear StateError, not a traceback."""
    try:
        yield
    except (
        psycopg.errors.InsufficientPrivilege,  # no CREATE on the schema, not the owner
        psycopg.errors.InvalidSchemaName,  # no USAGE on any schema of the search_path
        psycopg.errors.ReadOnlySqlTransaction,  # a read-only replica
    ) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise StateError(
            f"the PostgreSQL state at {shown(url)} cannot create or migrate sheetsync's tables: "
            f"{reason}; connect as the database's owner, or GRANT USAGE, CREATE ON SCHEMA "
            "public TO the user of [state] url"
        ) from None


def _options(read_only: bool) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S}
    if read_only:
        kwargs["options"] = "-c default_transaction_read_only=on"
    return kwargs


def connect(url: Secret, *, read_only: bool = False) -> psycopg.Connection[Any]:
    """One autocommit connection (READ ONLY for `read_only`); a clear StateError if it fails."""
    try:
        return psycopg.connect(url.reveal(), **_options(read_only))
    except psycopg.Error as exc:
        raise unreachable(url, exc) from None


def connect_pool(url: Secret, *, size: int = 2, read_only: bool = False) -> ConnectionPool:
    """An open pool of autocommit connections (READ ONLY ones for `read_only`). One connection
    is tried first, so a wrong URL or password is a clear StateError, not a pool timeout."""
    kwargs = _options(read_only)
    connect(url, read_only=read_only).close()
    pool = ConnectionPool(
        url.reveal(), min_size=1, max_size=size, kwargs=kwargs, open=False, name="sheetsync"
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
    except PoolTimeout as exc:
        pool.close()
        raise unreachable(url, exc) from None
    return pool


def open_postgres(
    url: Secret,
    *,
    clock: Clock | None = None,
    read_only: bool = False,
    worker: str | None = None,
) -> PostgresState:
    """A PostgresState with a pool of its own (closed with it), its schema created, migrated
    (or, `read_only`, checked)."""
    pool = connect_pool(url, read_only=read_only)
    try:
        state = PostgresState(
            pool, url=url, clock=clock, read_only=read_only, worker=worker, owns_pool=True
        )
        state.prepare()
    except BaseException:
        pool.close()
        raise
    return state


class PostgresState:
    """The state of every sheet in one PostgreSQL database. A context manager. Cheap to make:
    a worker makes one per sheet on its shared pool, after `prepare()` ran once."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        url: Secret,
        clock: Clock | None = None,
        read_only: bool = False,
        worker: str | None = None,
        owns_pool: bool = False,
    ) -> None:
        self.pool = pool
        self.url = url
        self.clock = clock or SystemClock()
        self.worker = worker
        self.read_only = read_only
        self._owns_pool = owns_pool
        self._pinned: psycopg.Connection[Any] | None = None
        self._depth = 0
        self._empty = False  # read_only before any worker created the schema
        self._written = Written()

    # --- connections ---------------------------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The pinned connection, else one from the pool; a lost server is a StateError."""
        try:
            if self._pinned is not None:
                yield self._pinned
            else:
                with self.pool.connection() as conn:
                    yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise unreachable(self.url, exc) from None

    def _all(self, query: LiteralString, params: Params = ()) -> list[tuple[Any, ...]]:
        if self._empty:
            return []
        with self._conn() as conn:
            return conn.execute(query, params).fetchall()

    def _one(self, query: LiteralString, params: Params = ()) -> tuple[Any, ...] | None:
        rows = self._all(query, params)
        return rows[0] if rows else None

    def _write(self, query: LiteralString, params: Params = ()) -> tuple[Any, ...] | None:
        with self.transaction(), self._conn() as conn:
            cur = conn.execute(query, params)
            return cur.fetchone() if cur.description else None

    # --- schema --------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Create or migrate the schema (`read_only`: only check that it is current)."""
        if self.read_only:
            self._check()
        else:
            self._migrate()

    def _migrate(self) -> None:
        with creating_schema(self.url), self._conn() as conn, schema_lock(conn):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, "
                "applied_at TEXT)"
            )
            version = self._stored_version(conn)
            for n in range(version, SCHEMA_VERSION):
                with conn.transaction():
                    conn.execute(MIGRATIONS[n].postgres)
                    conn.execute(
                        "INSERT INTO migrations VALUES (%s, %s)", (n + 1, utc_iso(self.clock))
                    )

    def _check(self) -> None:
        with self._conn() as conn:
            if conn.execute("SELECT to_regclass('migrations')").fetchone() == (None,):
                self._empty = True
                return
            version = self._stored_version(conn)
        if version < SCHEMA_VERSION:
            raise StateError(
                f"the PostgreSQL state at {shown(self.url)} has schema {version}, this "
                f"sheetsync uses {SCHEMA_VERSION}; start a worker (or `sheetsync run`) once to "
                "migrate it, then try again"
            )

    def _stored_version(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT MAX(version) FROM migrations").fetchone()
        version = int(row[0] or 0) if row else 0
        if version > SCHEMA_VERSION:
            raise StateError(
                f"the PostgreSQL state at {shown(self.url)} was written by a newer sheetsync "
                f"(schema {version}, this one knows {SCHEMA_VERSION}); upgrade sheetsync"
            )
        return version

    @property
    def version(self) -> int:
        row = self._one("SELECT MAX(version) FROM migrations")
        return int(row[0] or 0) if row else 0

    # --- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        with self._conn() as conn:
            outer, self._pinned, self._depth = self._pinned, conn, 1
            try:
                with conn.transaction():
                    yield
            finally:
                self._pinned, self._depth = outer, 0

    @contextmanager
    def exclusive(self, sheet: str) -> Iterator[None]:
        """Hold `sheet`'s cycle lock for the block (SheetBusy when another process holds it)."""
        with self._conn() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (sheet_lock_id(sheet),))
            if row.fetchone() != (True,):
                raise SheetBusy(sheet)
            outer, self._pinned = self._pinned, conn
            try:
                yield
            finally:
                self._pinned = outer
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (sheet_lock_id(sheet),))
                except psycopg.Error:
                    pass  # the session is gone, and its locks with it

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> PostgresState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rows ----------------------------------------------------------------------------------

    def items(self, sheet: str, role: str) -> dict[str, Item]:
        """Fresh Items (the caller may change them; only `put` stores a change)."""
        rows = self._all(
            "SELECT key, hash, seen_hash, settle, status, synced_at, remote_id, data "
            "FROM items WHERE sheet = %s AND role = %s",
            (sheet, role),
        )
        return {r[0]: item_from_row(role, cast(Stored, r)) for r in rows}

    def put(self, sheet: str, item: Item) -> None:
        self._write(
            "INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (sheet, role, key) DO UPDATE SET hash = EXCLUDED.hash, "
            "seen_hash = EXCLUDED.seen_hash, settle = EXCLUDED.settle, "
            "status = EXCLUDED.status, synced_at = EXCLUDED.synced_at, "
            "remote_id = EXCLUDED.remote_id, data = EXCLUDED.data",
            (sheet, item.role, *item_row(item)),
        )
        self._written.add(sheet, item.role, (item.key,))

    def written(self, sheet: str) -> set[tuple[str, str]]:
        """The (role, key) of the items of `sheet` put through this store since the last call
        (the engine's row cache forgets what it knew about those rows)."""
        return self._written.take(sheet)

    def known(self, sheet: str) -> bool:
        """Whether this sheet was polled before (False: first poll, nothing to settle against)."""
        q = "SELECT 1 FROM items WHERE sheet = %s UNION SELECT 1 FROM runs WHERE sheet = %s LIMIT 1"
        return self._one(q, (sheet, sheet)) is not None

    # --- intents -------------------------------------------------------------------------------

    def add_intent(self, sheet: str, intent: Intent) -> Intent:
        """Record a write BEFORE it is sent, so a crash leaves something to replay: the intent
        as given (its request and all), with the id it was stored under."""
        row = self._write(
            "INSERT INTO intents (sheet, op, body, idempotency_key, created_at, endpoint, path, "
            "content) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (sheet, intent.op, json.dumps(intent.body), intent.idempotency_key,
             utc_iso(self.clock), intent.endpoint, intent.path, intent.content),
        )  # fmt: skip
        assert row is not None
        return dataclasses.replace(intent, id=int(row[0]))

    def update_intent(self, intent: Intent) -> None:
        """Store an intent's new key and request (before they are sent)."""
        self._write(
            "UPDATE intents SET idempotency_key = %s, endpoint = %s, path = %s, content = %s "
            "WHERE id = %s",
            (intent.idempotency_key, intent.endpoint, intent.path, intent.content, intent.id),
        )

    def resolve_intent(self, intent_id: int) -> None:
        self._write("DELETE FROM intents WHERE id = %s", (intent_id,))

    def pending_intents(self, sheet: str) -> list[Intent]:
        rows = self._all(
            "SELECT id, op, body, idempotency_key, endpoint, path, content FROM intents "
            "WHERE sheet = %s ORDER BY id",
            (sheet,),
        )
        return [Intent(int(r[0]), r[1], json.loads(r[2]), *r[3:]) for r in rows]

    # --- runs ----------------------------------------------------------------------------------

    def record_run(self, sheet: str, report: dict[str, Any]) -> int:
        """Record a finished cycle; returns its id (see `last_run_id`)."""
        row = self._write(
            "INSERT INTO runs (sheet, at, ok, report, worker, started, finished) "
            "VALUES (%s, %s, 1, %s, %s, %s, %s) RETURNING id",
            (sheet, utc_iso(self.clock), json.dumps(report), self.worker,
             *run_times(self.clock, report)),
        )  # fmt: skip
        assert row is not None
        return int(row[0])

    def last_run_id(self, sheet: str) -> int:
        """The id of the sheet's latest run or failure (0: none): one newer than this process
        recorded means another worker ran the sheet meanwhile."""
        row = self._one("SELECT MAX(id) FROM runs WHERE sheet = %s", (sheet,))
        return int(row[0] or 0) if row else 0

    def record_failure(self, sheet: str, message: str) -> None:
        """A cycle that stopped on an error (the workers and `sync` record it for `status`)."""
        self._write(
            "INSERT INTO runs (sheet, at, ok, message, worker, finished) "
            "VALUES (%s, %s, 0, %s, %s, %s)",
            (sheet, utc_iso(self.clock), message, self.worker, self.clock.time()),
        )

    def recent_runs(self, sheet: str, limit: int = 5) -> list[Run]:
        rows = self._all(
            "SELECT at, ok, report, message FROM runs WHERE sheet = %s ORDER BY id DESC LIMIT %s",
            (sheet, limit),
        )
        return [Run(r[0], bool(r[1]), json.loads(r[2]) if r[2] else None, r[3]) for r in rows]

    def last_failure(self, sheet: str) -> Run | None:
        r = self._one(
            "SELECT at, ok, report, message FROM runs WHERE sheet = %s AND ok = 0 "
            "ORDER BY id DESC LIMIT 1",
            (sheet,),
        )
        return Run(r[0], False, None, r[3]) if r else None

    def statuses(self, sheet: str, prefix: str) -> list[Item]:
        """Rows whose status starts with `prefix` (`error:`, `waiting:`, `held:`)."""
        rows = self._all(
            "SELECT role, key, status FROM items WHERE sheet = %s AND status LIKE %s "
            'ORDER BY role COLLATE "C", key COLLATE "C"',
            (sheet, prefix + "%"),
        )
        return [Item(r[0], r[1], status=r[2]) for r in rows]

    # --- outcomes: the webhook registration, stored events, Outcome per row, marks ------------

    def webhook(self) -> Registration | None:
        r = self._one("SELECT base_url, url, events, remote_id, secret, pending_key FROM webhook")
        if r is None:
            return None
        return Registration(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4], r[5])

    def begin_webhook(self, base_url: str, url: str, events: tuple[str, ...], key: str) -> None:
        """Record a registration about to be sent (POST /webhooks with Idempotency-Key `key`)."""
        with self.transaction():
            self._write("DELETE FROM webhook")
            self._write(
                "INSERT INTO webhook VALUES (1, %s, %s, %s, NULL, NULL, %s, %s)",
                (base_url, url, json.dumps(list(events)), key, utc_iso(self.clock)),
            )

    def finish_webhook(self, remote_id: str, secret: str) -> None:
        self._write(
            "UPDATE webhook SET remote_id = %s, secret = %s, pending_key = NULL, updated_at = %s",
            (remote_id, secret, utc_iso(self.clock)),
        )

    def forget_webhook(self) -> None:
        self._write("DELETE FROM webhook")

    def events_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        rows = self._all(
            "SELECT seq, event_id, type, body, received_at FROM events WHERE seq > %s "
            "ORDER BY seq LIMIT %s",
            (seq, limit),
        )
        return [StoredEvent(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def prune_events(self, before: str) -> None:
        """Forget events received before `before` (UTC ISO): retries of them are over."""
        self._write("DELETE FROM events WHERE received_at < %s", (before,))

    def mark(self, sheet: str, name: str) -> str | None:
        r = self._one("SELECT value FROM marks WHERE sheet = %s AND name = %s", (sheet, name))
        return None if r is None else str(r[0])

    def set_mark(self, sheet: str, name: str, value: str | None) -> None:
        """Set (None: remove) a named mark of the sheet; part of an open transaction if any."""
        if value is None:
            self._write("DELETE FROM marks WHERE sheet = %s AND name = %s", (sheet, name))
        else:
            self._write(
                "INSERT INTO marks VALUES (%s, %s, %s) "
                "ON CONFLICT (sheet, name) DO UPDATE SET value = EXCLUDED.value",
                (sheet, name, value),
            )

    def outcomes(self, sheet: str) -> dict[str, tuple[str, str]]:
        """Enrollment key -> (Outcome, Last Event At)."""
        rows = self._all("SELECT key, outcome, event_at FROM outcomes WHERE sheet = %s", (sheet,))
        return {r[0]: (r[1], r[2]) for r in rows}

    def put_outcomes(self, sheet: str, outcomes: dict[str, tuple[str, str]]) -> None:
        with self.transaction(), self._conn() as conn, conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO outcomes VALUES (%s, %s, %s, %s) ON CONFLICT (sheet, key) "
                "DO UPDATE SET outcome = EXCLUDED.outcome, event_at = EXCLUDED.event_at",
                [(sheet, key, o, at) for key, (o, at) in outcomes.items()],
            )
        self._written.add(sheet, "enrollments", outcomes)  # shown by the row
