"""The state schema, one step per version: `MIGRATIONS[n]` takes version n to n + 1. A store
applies the steps it lacks in one transaction each and records them in its `migrations` table."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: rows, intents, runs
    """
    CREATE TABLE items (
        sheet TEXT NOT NULL, role TEXT NOT NULL, key TEXT NOT NULL,
        hash TEXT, seen_hash TEXT, settle INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT '', synced_at TEXT NOT NULL DEFAULT '',
        remote_id TEXT, data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (sheet, role, key)
    );
    CREATE TABLE intents (
        id INTEGER PRIMARY KEY AUTOINCREMENT, sheet TEXT NOT NULL, op TEXT NOT NULL,
        body TEXT NOT NULL, idempotency_key TEXT NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, sheet TEXT NOT NULL, at TEXT NOT NULL,
        ok INTEGER NOT NULL, report TEXT, message TEXT
    );
    CREATE INDEX runs_sheet ON runs (sheet, id);
    """,
    # 1 -> 2: outcomes. The one webhook registration (its signing secret included), the events
    # the receiver stored (each once, by its X-Warmy-Event-Id), each enrollment row's Outcome,
    # and per sheet small named marks (how far it projected the events, its REST reads).
    """
    CREATE TABLE webhook (
        id INTEGER PRIMARY KEY CHECK (id = 1), base_url TEXT NOT NULL, url TEXT NOT NULL,
        events TEXT NOT NULL, remote_id TEXT, secret TEXT, pending_key TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL, body TEXT NOT NULL, received_at TEXT NOT NULL
    );
    CREATE TABLE outcomes (
        sheet TEXT NOT NULL, key TEXT NOT NULL, outcome TEXT NOT NULL, event_at TEXT NOT NULL,
        PRIMARY KEY (sheet, key)
    );
    CREATE TABLE marks (
        sheet TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (sheet, name)
    );
    """,
    # 2 -> 3: an intent keeps its request as sent (endpoint, path, body bytes), so a replay
    # resends exactly those bytes. A campaign left in error by a start or pause refusal forgets
    # the state it wanted: its next poll tries once more and reads the campaign back (a start
    # refused as already running used to stay in error for good).
    """
    ALTER TABLE intents ADD COLUMN endpoint TEXT;
    ALTER TABLE intents ADD COLUMN path TEXT;
    ALTER TABLE intents ADD COLUMN content BLOB;
    UPDATE items SET data = json_remove(data, '$.wanted')
        WHERE role = 'campaigns' AND status LIKE 'error:%';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
