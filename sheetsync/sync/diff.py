"""Records against state, by key and content hash (never by row number). Pure functions.

A key is `new` (never acted on), `changed` (its hash differs from the one last acted on) or
`unchanged`; keys in state with no row are `removed`. Settle: a row whose content changed since
the previous poll waits `settle_polls` more polls before it is acted on; on the first poll of a
sheet (no state) everything acts at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from sheetsync.state import Item

Kind = Literal["new", "changed", "unchanged"]


class Change(NamedTuple):  # a tuple: one is made per row and poll, and a tuple is cheapest
    key: str
    kind: Kind
    ready: bool  # settled: act on it this poll
    seen_hash: str  # what to remember as seen
    settle: int  # polls still to wait after this one


@dataclass(frozen=True)
class Diff:
    changes: dict[str, Change]
    removed: tuple[str, ...]

    def todo(self, key: str) -> bool:
        """A row to act on now: new or changed, and settled."""
        c = self.changes.get(key)
        return c is not None and c.kind != "unchanged" and c.ready

    def settling(self, key: str) -> bool:
        c = self.changes.get(key)
        return c is not None and c.kind != "unchanged" and not c.ready


def settle(
    item: Item | None, new_hash: str, *, settle_polls: int, first_poll: bool
) -> tuple[bool, int]:
    """(ready, polls still to wait) for a row that differs from what was acted on."""
    if first_poll or settle_polls == 0:
        return True, 0
    if item is None or item.seen_hash != new_hash:
        return False, settle_polls  # changed since the previous poll: start waiting
    left = item.settle - 1
    return left <= 0, max(left, 0)


def diff(
    rows: Iterable[tuple[str, str]],
    items: Mapping[str, Item],
    *,
    settle_polls: int,
    first_poll: bool,
    unchanged: Collection[str] = (),
) -> Diff:
    """`rows` is (key, hash) per record, first occurrence of a key winning. `unchanged` are keys
    of `items` whose rows are left out of `rows` because they are known unchanged (the engine's
    row cache): they are not in `changes` and not removed either."""
    changes: dict[str, Change] = {}
    for key, h in rows:
        if key in changes:
            continue
        item = items.get(key)
        if item is not None and item.hash == h:
            changes[key] = Change(key, "unchanged", True, h, 0)
            continue
        kind: Kind = "new" if item is None or item.hash is None else "changed"
        ready, left = settle(item, h, settle_polls=settle_polls, first_poll=first_poll)
        changes[key] = Change(key, kind, ready, h, left)
    removed: tuple[str, ...] = ()
    if len(unchanged) + sum(1 for k in changes if k in items) < len(items):  # some are gone
        removed = tuple(k for k in items if k not in changes and k not in unchanged)
    return Diff(changes, removed)
