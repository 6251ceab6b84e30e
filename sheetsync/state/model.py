"""What the state holds, as plain data: a row sheetsync knows (`Item`), a write that may have
been sent (`Intent`), a past cycle (`Run`), the Idempotency-Keys of intents, the webhook
registration (`Registration`) and a stored webhook event (`StoredEvent`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sheetsync.clock import Clock


@dataclass
class Item:
    """One row sheetsync knows, by role and key. `hash` is the content last acted on (None: not
    yet); `seen_hash`/`settle` track settling; `status` is what the status cell shows."""

    role: str
    key: str
    hash: str | None = None
    seen_hash: str | None = None
    settle: int = 0
    status: str = ""
    synced_at: str = ""
    remote_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


# A row of the items table as stored: key, hash, seen_hash, settle, status, synced_at,
# remote_id, data (JSON text).
Stored = tuple[str, str | None, str | None, int, str, str, str | None, str]


def item_from_row(role: str, r: Stored) -> Item:
    return Item(role, r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], json.loads(r[7]))


def item_row(item: Item) -> Stored:
    data = json.dumps(item.data, sort_keys=True)
    return (
        item.key,
        item.hash,
        item.seen_hash,
        item.settle,
        item.status,
        item.synced_at,
        item.remote_id,
        data,
    )


class Written:
    """What one store wrote of each sheet until the engine takes it (`Store.written`): the
    (role, key) of the items put, and of the enrollment rows whose Outcome was stored."""

    def __init__(self) -> None:
        self._by_sheet: dict[str, set[tuple[str, str]]] = {}

    def add(self, sheet: str, role: str, keys: Iterable[str]) -> None:
        self._by_sheet.setdefault(sheet, set()).update((role, key) for key in keys)

    def take(self, sheet: str) -> set[tuple[str, str]]:
        return self._by_sheet.pop(sheet, set())


@dataclass(frozen=True)
class Intent:
    """A write that may have been sent: what it is for (`op`, `body`), its Idempotency-Key, and
    the request exactly as sent (None in an intent stored by a sheetsync before schema 3)."""

    id: int
    op: str
    body: dict[str, Any]
    idempotency_key: str
    endpoint: str | None = None  # "POST /campaigns/{id}/enrollments"
    path: str | None = None
    content: bytes | None = None


def fresh_key(prefix: str) -> str:
    """A new Idempotency-Key per intent. The intent keeps it, so a crash or a lost answer
    replays the same key and nothing happens twice; a new intent never shares one. Keys are
    never derived from the content: after a lost state file a create would replay the answer
    of a create long ago (WarmySender keeps the original result), holding what the object was
    then, and the row would say `synced` over what WarmySender holds now; enroll → unenroll →
    enroll must not replay the first."""
    return f"{prefix}:{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Run:
    at: str
    ok: bool
    report: dict[str, Any] | None
    message: str | None


@dataclass(frozen=True)
class Registration:
    """The webhook sheetsync registered (or is registering: `pending_key` set, no id yet)."""

    base_url: str  # the API it was registered with
    url: str
    events: tuple[str, ...]
    remote_id: str | None
    secret: str | None = field(default=None, repr=False)
    pending_key: str | None = None


@dataclass(frozen=True)
class StoredEvent:
    """One webhook delivery as the receiver stored it (the body as received, verified)."""

    seq: int
    event_id: str
    type: str
    body: str
    received_at: str


def run_times(clock: Clock, report: dict[str, Any]) -> tuple[float, float]:
    """When a cycle that ends now started and ended (epoch seconds): the overlap check and
    `status` read them, `at` keeps the readable stamp."""
    finished = clock.time()
    return finished - float(report.get("duration_s", 0.0)), finished
