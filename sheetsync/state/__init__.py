"""What sheetsync remembers between polls: rows by key, intents, run history."""

from sheetsync.state.store import (
    SCHEMA_VERSION,
    Intent,
    Item,
    Run,
    State,
    content_key,
    fresh_key,
)

__all__ = ["SCHEMA_VERSION", "Intent", "Item", "Run", "State", "content_key", "fresh_key"]
