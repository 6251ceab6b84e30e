"""What sheetsync remembers between polls: rows by key, intents, run history."""

from sheetsync.state.migrations import SCHEMA_VERSION
from sheetsync.state.model import (
    Intent,
    Item,
    Registration,
    Run,
    StoredEvent,
    fresh_key,
)
from sheetsync.state.store import State

__all__ = [
    "SCHEMA_VERSION",
    "Intent",
    "Item",
    "Registration",
    "Run",
    "State",
    "StoredEvent",
    "fresh_key",
]
