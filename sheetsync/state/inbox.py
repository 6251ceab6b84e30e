"""The webhook receiver's own connection to the state file: it stores each event once, keyed by
its event id, and commits (synced to disk) before the receiver answers, so an acknowledged
event survives a kill of the process and a power cut.

It runs on the receiver's threads while polls run on theirs: one connection, shared under a
lock (check_same_thread off), with a short busy timeout so that a long write of a poll makes
the receiver answer 503 (WarmySender retries) instead of outlasting WarmySender's 5 s.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sheetsync.errors import StateError

BUSY_TIMEOUT_S = 2.0


class Inbox:
    def __init__(self, path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S) -> None:
        """Open the state file, which `State` has created and migrated."""
        try:
            self._db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_s
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state file {path}: {exc}") from None
        self._lock = threading.Lock()
        # FULL: an event is on disk before it is acknowledged, through a power cut too
        # (WarmySender does not send an acknowledged event again). The polls' connection keeps
        # NORMAL, where replaying intents makes a lost commit safe (docs/PERFORMANCE.md).
        self._db.execute("PRAGMA synchronous=FULL")

    def add(self, event_id: str, event_type: str, body: str, received_at: str) -> bool:
        """Store the event; False when its id was stored before (a repeated delivery). Raises
        sqlite3.Error when the file stays busy (the caller answers 503)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO events (event_id, type, body, received_at) "
                "VALUES (?, ?, ?, ?)",
                (event_id, event_type, body, received_at),
            )
            return cur.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()
