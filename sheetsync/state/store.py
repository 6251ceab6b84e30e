"""What sheetsync remembers between polls, in SQLite: per sheet the rows it knows (by key, never
by row number), the intents for writes that may have been sent, and the run history; the
webhook registration and the events the receiver stored (see inbox.py); per sheet each
enrollment row's Outcome and small named marks.

Schema is versioned: `migrations` lists the steps applied; `MIGRATIONS[n]` takes version n to
n + 1. A file written by a newer sheetsync raises StateError instead of being guessed at.
Every method that changes something commits before it returns, except inside `transaction()`,
which commits once at its end (one transaction per known outcome).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sheetsync.clock import Clock, SystemClock, utc_iso
from sheetsync.errors import StateError
from sheetsync.state.migrations import MIGRATIONS, SCHEMA_VERSION
from sheetsync.state.model import (
    Intent,
    Item,
    Registration,
    Run,
    StoredEvent,
    item_from_row,
    item_row,
)


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> StateError:
    return StateError(
        f"the state file {path} cannot be used ({exc}); move it aside and run again "
        f"(sheetsync rebuilds it from WarmySender)"
    )


def _copy_of(path: Path) -> sqlite3.Connection:
    """An in-memory copy of the state file (empty when there is none). The file is read through
    an ordinary connection that never writes (query_only): a read-only (`mode=ro`) connection
    would leave the WAL's -wal and -shm files behind, and this one, when it is the last to
    close, removes them as any sheetsync run does."""
    copy = sqlite3.connect(":memory:", isolation_level=None)
    if not path.exists():
        return copy
    try:
        uri = f"{path.absolute().as_uri()}?mode=rw"  # rw: never creates the file
        src = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error:
        copy.close()
        raise
    try:
        src.execute("PRAGMA query_only=ON")
        src.execute("PRAGMA busy_timeout=5000")
        src.backup(copy)
    except sqlite3.Error:
        copy.close()
        raise
    finally:
        src.close()
    return copy


class State:
    """The state file of every sheet. A context manager; `close()` releases the file."""

    def __init__(self, path: Path, *, clock: Clock | None = None, read_only: bool = False) -> None:
        """Open (creating when missing) and migrate the state file. `read_only`: work on a private
        in-memory copy of the file, or on an empty state when there is no file; nothing this
        State does reaches the disk, and no file or folder is created (`sheetsync plan`)."""
        self.path = path
        self.clock = clock or SystemClock()
        self._depth = 0
        self._written: set[tuple[str, str, str]] = set()  # (sheet, role, key) put, see written()
        try:
            if read_only:
                self.db = _copy_of(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # A daemon keeps a sheet's State open across polls, which run on the
                # scheduler's threads (one at a time per sheet).
                self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.OperationalError) as exc:
            verb = "read" if read_only else "create"
            raise StateError(f"cannot {verb} the state file {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise _unusable(path, exc) from None
        try:
            if not read_only:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA busy_timeout=5000")
                # WAL + NORMAL: never corrupt; a power cut may lose the last commits, which the
                # content-derived keys and intent replay make safe to redo.
                self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except StateError:
            self.db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise _unusable(path, exc) from None

    # --- schema --------------------------------------------------------------------------------

    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        row = self.db.execute("SELECT MAX(version) FROM migrations").fetchone()
        version = int(row[0] or 0)
        if version > SCHEMA_VERSION:
            raise StateError(
                f"the state file {self.path} was written by a newer sheetsync (schema "
                f"{version}, this one knows {SCHEMA_VERSION}); upgrade sheetsync"
            )
        for n in range(version, SCHEMA_VERSION):
            with self.transaction():
                for stmt in MIGRATIONS[n].split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                self.db.execute(
                    "INSERT INTO migrations VALUES (?, ?)", (n + 1, utc_iso(self.clock))
                )

    @property
    def version(self) -> int:
        return int(self.db.execute("SELECT MAX(version) FROM migrations").fetchone()[0] or 0)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together, or not at all."""
        if self._depth == 0:
            self.db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self.db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rows ----------------------------------------------------------------------------------

    def items(self, sheet: str, role: str) -> dict[str, Item]:
        """The rows sheetsync knows of one role of a sheet, read from the file (the caller may
        change them; only `put` stores a change)."""
        rows = self.db.execute(
            "SELECT key, hash, seen_hash, settle, status, synced_at, remote_id, data "
            "FROM items WHERE sheet = ? AND role = ?",
            (sheet, role),
        )
        return {r[0]: item_from_row(role, r) for r in rows}

    def put(self, sheet: str, item: Item) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (sheet, item.role, *item_row(item)),
            )
        self._written.add((sheet, item.role, item.key))

    def written(self, sheet: str) -> set[tuple[str, str]]:
        """The (role, key) of the items of `sheet` put since the last call (the engine's row
        cache forgets what it knew about those rows)."""
        mine = {w for w in self._written if w[0] == sheet}
        self._written -= mine
        return {(role, key) for _, role, key in mine}

    def known(self, sheet: str) -> bool:
        """Whether this sheet was polled before (False: first poll, nothing to settle against)."""
        q = "SELECT 1 FROM items WHERE sheet = ? UNION SELECT 1 FROM runs WHERE sheet = ? LIMIT 1"
        return self.db.execute(q, (sheet, sheet)).fetchone() is not None

    # --- intents -------------------------------------------------------------------------------

    def add_intent(self, sheet: str, op: str, body: dict[str, Any], idempotency_key: str) -> int:
        """Record a write BEFORE it is sent, so a crash leaves something to replay."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO intents (sheet, op, body, idempotency_key, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (sheet, op, json.dumps(body, sort_keys=True), idempotency_key, utc_iso(self.clock)),
            )
        return int(cur.lastrowid or 0)

    def resolve_intent(self, intent_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM intents WHERE id = ?", (intent_id,))

    def pending_intents(self, sheet: str) -> list[Intent]:
        rows = self.db.execute(
            "SELECT id, op, body, idempotency_key FROM intents WHERE sheet = ? ORDER BY id",
            (sheet,),
        )
        return [Intent(int(r[0]), r[1], json.loads(r[2]), r[3]) for r in rows]

    # --- runs ----------------------------------------------------------------------------------

    def record_run(self, sheet: str, report: dict[str, Any]) -> int:
        """Record a finished cycle; returns its id (see `last_run_id`)."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs (sheet, at, ok, report) VALUES (?, ?, 1, ?)",
                (sheet, utc_iso(self.clock), json.dumps(report)),
            )
        return int(cur.lastrowid or 0)

    def last_run_id(self, sheet: str) -> int:
        """The id of the sheet's latest run or failure (0: none): a newer one than a process
        recorded itself means another process synced the sheet meanwhile."""
        row = self.db.execute("SELECT MAX(id) FROM runs WHERE sheet = ?", (sheet,)).fetchone()
        return int(row[0] or 0)

    def record_failure(self, sheet: str, message: str) -> None:
        """A cycle that stopped on an error (the daemon and `sync` record it for `status`)."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO runs (sheet, at, ok, message) VALUES (?, ?, 0, ?)",
                (sheet, utc_iso(self.clock), message),
            )

    def recent_runs(self, sheet: str, limit: int = 5) -> list[Run]:
        rows = self.db.execute(
            "SELECT at, ok, report, message FROM runs WHERE sheet = ? ORDER BY id DESC LIMIT ?",
            (sheet, limit),
        )
        return [Run(r[0], bool(r[1]), json.loads(r[2]) if r[2] else None, r[3]) for r in rows]

    def last_failure(self, sheet: str) -> Run | None:
        r = self.db.execute(
            "SELECT at, ok, report, message FROM runs WHERE sheet = ? AND ok = 0 "
            "ORDER BY id DESC LIMIT 1",
            (sheet,),
        ).fetchone()
        return Run(r[0], False, None, r[3]) if r else None

    def statuses(self, sheet: str, prefix: str) -> list[Item]:
        """Rows whose status starts with `prefix` (`error:`, `waiting:`, `held:`)."""
        rows = self.db.execute(
            "SELECT role, key, status FROM items WHERE sheet = ? AND status LIKE ? "
            "ORDER BY role, key",
            (sheet, prefix + "%"),
        )
        return [Item(r[0], r[1], status=r[2]) for r in rows]

    # --- outcomes: the webhook registration, stored events, Outcome per row, marks ------------

    def webhook(self) -> Registration | None:
        r = self.db.execute(
            "SELECT base_url, url, events, remote_id, secret, pending_key FROM webhook"
        ).fetchone()
        if r is None:
            return None
        return Registration(r[0], r[1], tuple(json.loads(r[2])), r[3], r[4], r[5])

    def begin_webhook(self, base_url: str, url: str, events: tuple[str, ...], key: str) -> None:
        """Record a registration about to be sent (POST /webhooks with Idempotency-Key `key`):
        after a crash, the same key replays the answer, secret included."""
        with self.transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO webhook VALUES (1, ?, ?, ?, NULL, NULL, ?, ?)",
                (base_url, url, json.dumps(list(events)), key, utc_iso(self.clock)),
            )

    def finish_webhook(self, remote_id: str, secret: str) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE webhook SET remote_id = ?, secret = ?, pending_key = NULL, updated_at = ?",
                (remote_id, secret, utc_iso(self.clock)),
            )

    def forget_webhook(self) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM webhook")

    def events_after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        rows = self.db.execute(
            "SELECT seq, event_id, type, body, received_at FROM events WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [StoredEvent(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def prune_events(self, before: str) -> None:
        """Forget events received before `before` (UTC ISO): retries of them are over."""
        with self.transaction():
            self.db.execute("DELETE FROM events WHERE received_at < ?", (before,))

    def mark(self, sheet: str, name: str) -> str | None:
        r = self.db.execute(
            "SELECT value FROM marks WHERE sheet = ? AND name = ?", (sheet, name)
        ).fetchone()
        return None if r is None else str(r[0])

    def set_mark(self, sheet: str, name: str, value: str | None) -> None:
        """Set (None: remove) a named mark of the sheet; part of an open transaction if any."""
        with self.transaction():
            if value is None:
                self.db.execute("DELETE FROM marks WHERE sheet = ? AND name = ?", (sheet, name))
            else:
                self.db.execute(
                    "INSERT OR REPLACE INTO marks VALUES (?, ?, ?)", (sheet, name, value)
                )

    def outcomes(self, sheet: str) -> dict[str, tuple[str, str]]:
        """Enrollment key -> (Outcome, Last Event At)."""
        rows = self.db.execute(
            "SELECT key, outcome, event_at FROM outcomes WHERE sheet = ?", (sheet,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def put_outcomes(self, sheet: str, outcomes: dict[str, tuple[str, str]]) -> None:
        with self.transaction():
            self.db.executemany(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?)",
                [(sheet, key, o, at) for key, (o, at) in outcomes.items()],
            )
        self._written.update((sheet, "enrollments", key) for key in outcomes)  # shown by the row
