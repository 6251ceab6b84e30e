"""What sheetsync remembers between polls, in SQLite: per sheet the rows it knows (by key, never
by row number), the intents for writes that may have been sent, and the run history; the
webhook registration and the events the receiver stored (see inbox.py); per sheet each
enrollment row's Outcome and small named marks.

Schema is versioned: `migrations` lists the steps applied; `MIGRATIONS[n]` takes version n to
n + 1. A file written by a newer sheetsync raises StateError instead of being guessed at.
Every method that changes something commits before it returns, except inside `transaction()`,
which commits once at its end (one transaction per known outcome).

The file holds every prospect's name, email and phone: it and its -wal/-shm companions are
created 0600 in a folder created 0700, and tightened when found looser (the folder only when it
holds nothing but the state files). What goes wrong with the file becomes a StateError named
after the cause (`fault`): a full disk, a read-only file or folder, an I/O error, a busy lock;
only a damaged file is called unusable.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sheetsync.clock import Clock, SystemClock, utc_iso
from sheetsync.errors import StateError, StateUnavailable
from sheetsync.state.migrations import MIGRATIONS, SCHEMA_VERSION
from sheetsync.state.model import (
    Intent,
    Item,
    Registration,
    Run,
    StoredEvent,
    Written,
    item_from_row,
    item_row,
    run_times,
)

COMPANIONS = ("-wal", "-shm", "-journal")  # files SQLite keeps beside the state file


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> StateError:
    return StateError(
        f"the state file {path} cannot be used ({exc}); move it aside and run again "
        f"(sheetsync rebuilds it from WarmySender)"
    )


_OS_ERRORS = {errno.ENOSPC: sqlite3.SQLITE_FULL, errno.EDQUOT: sqlite3.SQLITE_FULL,
              errno.EROFS: sqlite3.SQLITE_READONLY, errno.EACCES: sqlite3.SQLITE_READONLY,
              errno.EPERM: sqlite3.SQLITE_READONLY, errno.EIO: sqlite3.SQLITE_IOERR}  # fmt: skip

# SQLite's primary error code → (the error to raise, its message: what is wrong, what to do)
_FAULTS: dict[int, tuple[type[StateError], str]] = {
    sqlite3.SQLITE_FULL: (StateUnavailable, (
        "the disk holding the state file {path} is full ({detail}): free some space there (or "
        "set [state] path to another disk), then run again; nothing is lost, the next run "
        "carries on from the last saved step")),
    sqlite3.SQLITE_READONLY: (StateError, (
        "the state file {path} cannot be written: it or its folder is read-only ({detail}); "
        "make both writable for this user, or set [state] path in the config to a writable "
        "folder")),
    sqlite3.SQLITE_IOERR: (StateUnavailable, (
        "the disk reported an I/O error on the state file {path} ({detail}): check the disk and "
        "its free space, then run again; the file itself is not the problem")),
    sqlite3.SQLITE_BUSY: (StateUnavailable, (
        "the state file {path} is busy: another sheetsync process kept it locked for more than "
        "5 seconds ({detail}); try again when that one is done")),
    sqlite3.SQLITE_CANTOPEN: (StateError, (
        "cannot open the state file {path} ({detail}): check that its folder exists and is "
        "writable, or set [state] path in the config")),
}  # fmt: skip
_FAULTS[sqlite3.SQLITE_PERM] = _FAULTS[sqlite3.SQLITE_READONLY]
_FAULTS[sqlite3.SQLITE_LOCKED] = _FAULTS[sqlite3.SQLITE_BUSY]


def fault(path: Path, exc: sqlite3.Error | OSError) -> StateError:
    """The StateError for `exc` on the state file `path`, named after its cause: only a damaged
    file is called unusable."""
    if isinstance(exc, OSError):
        code = _OS_ERRORS.get(exc.errno or 0)
        detail = exc.strerror or str(exc)
    else:
        extended = getattr(exc, "sqlite_errorcode", None)
        code = extended & 0xFF if isinstance(extended, int) else None
        detail = str(exc)
    if code in _FAULTS:
        error, message = _FAULTS[code]
        return error(message.format(path=path, detail=detail))
    if isinstance(exc, sqlite3.DatabaseError) and code in (
        sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB,
    ):  # fmt: skip
        return _unusable(path, exc)
    return StateError(f"the state file {path} cannot be used ({detail})")


def _private(path: Path) -> None:
    """Create the state file's folder 0700 and the file 0600, or tighten them if looser (the
    folder only when it holds nothing but the state files: it may be someone's project)."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _loose(folder) and all(p.name.startswith(path.name) for p in folder.iterdir()):
        os.chmod(folder, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for p in (path, *(path.with_name(path.name + c) for c in COMPANIONS)):
        mode = _loose(p)
        if mode is not None:
            os.chmod(p, mode & 0o700)


def _loose(path: Path) -> int | None:
    """The permission bits of `path` when group or others have any; None otherwise (or when
    there is no such file)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & 0o077 else None


class _Connection(sqlite3.Connection):
    """A connection whose failures are StateErrors named after their cause (`fault`)."""

    path = Path()

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise fault(self.path, exc) from exc


def _connect(target: str, path: Path, **kw: Any) -> _Connection:
    db = sqlite3.connect(target, isolation_level=None, factory=_Connection, **kw)
    assert isinstance(db, _Connection)
    db.path = path
    return db


def _copy_of(path: Path) -> sqlite3.Connection:
    """An in-memory copy of the state file (empty when there is none). The file is read through
    an ordinary connection that never writes (query_only): a read-only (`mode=ro`) connection
    would leave the WAL's -wal and -shm files behind, and this one, when it is the last to
    close, removes them as any sheetsync run does."""
    copy = _connect(":memory:", path)
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

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        read_only: bool = False,
        worker: str | None = None,
    ) -> None:
        """Open (creating when missing) and migrate the state file. `read_only`: work on a private
        in-memory copy of the file, or on an empty state when there is no file; nothing this
        State does reaches the disk, and no file or folder is created (`sheetsync plan`).
        `worker` names this process in the runs it records."""
        self.path = path
        self.clock = clock or SystemClock()
        self.worker = worker
        self._depth = 0
        self._written = Written()
        try:
            if read_only:
                self.db = _copy_of(path)
            else:
                _private(path)
                # A daemon keeps a sheet's State open across polls, which run on the
                # scheduler's threads (one at a time per sheet).
                self.db = _connect(str(path), path, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise fault(path, exc) from None
        try:
            if not read_only:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA busy_timeout=5000")
                # WAL + NORMAL: never corrupt; a power cut may lose the last commits. Their work
                # is planned again: a create finds what it made (a prospect by email, a campaign
                # by name), the other writes leave WarmySender as they found it when repeated.
                self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except StateError:
            self.db.close()
            raise
        except sqlite3.Error as exc:
            self.db.close()
            raise fault(path, exc) from None

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
                for stmt in MIGRATIONS[n].sqlite.split(";"):
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
            if self._depth == 1:
                self.db.execute("COMMIT")
        except BaseException:
            if self._depth == 1:
                if self.db.in_transaction:  # SQLite may have rolled back already (disk full)
                    try:
                        self.db.execute("ROLLBACK")
                    except StateError:
                        pass  # the error being raised says what is wrong
            raise
        finally:
            self._depth -= 1

    def exclusive(self, sheet: str) -> AbstractContextManager[None]:
        """A cycle of `sheet` (on SQLite the commands' sheet locks keep writers apart:
        app/lock.py)."""
        return nullcontext()

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
        self._written.add(sheet, item.role, (item.key,))

    def written(self, sheet: str) -> set[tuple[str, str]]:
        """The (role, key) of the items of `sheet` put since the last call (the engine's row
        cache forgets what it knew about those rows)."""
        return self._written.take(sheet)

    def known(self, sheet: str) -> bool:
        """Whether this sheet was polled before (False: first poll, nothing to settle against)."""
        q = "SELECT 1 FROM items WHERE sheet = ? UNION SELECT 1 FROM runs WHERE sheet = ? LIMIT 1"
        return self.db.execute(q, (sheet, sheet)).fetchone() is not None

    # --- intents -------------------------------------------------------------------------------

    def add_intent(self, sheet: str, intent: Intent) -> Intent:
        """Record a write BEFORE it is sent, so a crash leaves something to replay: the intent
        as given (its request and all), with the id it was stored under."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO intents (sheet, op, body, idempotency_key, created_at, endpoint, "
                "path, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sheet, intent.op, json.dumps(intent.body), intent.idempotency_key,
                 utc_iso(self.clock), intent.endpoint, intent.path, intent.content),
            )  # fmt: skip
        return dataclasses.replace(intent, id=int(cur.lastrowid or 0))

    def update_intent(self, intent: Intent) -> None:
        """Store an intent's new key and request (before they are sent)."""
        with self.transaction():
            self.db.execute(
                "UPDATE intents SET idempotency_key = ?, endpoint = ?, path = ?, content = ? "
                "WHERE id = ?",
                (intent.idempotency_key, intent.endpoint, intent.path, intent.content, intent.id),
            )

    def resolve_intent(self, intent_id: int) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM intents WHERE id = ?", (intent_id,))

    def pending_intents(self, sheet: str) -> list[Intent]:
        rows = self.db.execute(
            "SELECT id, op, body, idempotency_key, endpoint, path, content FROM intents "
            "WHERE sheet = ? ORDER BY id",
            (sheet,),
        )
        return [Intent(int(r[0]), r[1], json.loads(r[2]), *r[3:]) for r in rows]

    # --- runs ----------------------------------------------------------------------------------

    def record_run(self, sheet: str, report: dict[str, Any]) -> int:
        """Record a finished cycle; returns its id (see `last_run_id`)."""
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO runs (sheet, at, ok, report, worker, started, finished) "
                "VALUES (?, ?, 1, ?, ?, ?, ?)",
                (sheet, utc_iso(self.clock), json.dumps(report), self.worker,
                 *run_times(self.clock, report)),
            )  # fmt: skip
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
                "INSERT INTO runs (sheet, at, ok, message, worker, finished) "
                "VALUES (?, ?, 0, ?, ?, ?)",
                (sheet, utc_iso(self.clock), message, self.worker, self.clock.time()),
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
        self._written.add(sheet, "enrollments", outcomes)  # shown by the row
