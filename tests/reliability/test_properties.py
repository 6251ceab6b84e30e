"""Properties of the differ and of status re-addressing (tests/test_rows_props.py covers the row
normaliser: any cell is safe, idempotent, order- and status-independent hashes)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sheetsync.sheet.base import KeyColumns
from sheetsync.state import Item
from sheetsync.sync.diff import diff
from sheetsync.sync.writeback import Projection, Target, address, norm

keys = st.text(alphabet="abcde", min_size=1, max_size=3)
hashes = st.sampled_from(["h1", "h2", "h3"])
pairs = st.lists(st.tuples(keys, hashes), max_size=12)
state = st.dictionaries(keys, st.one_of(st.none(), hashes), max_size=8)


def items_of(known: dict[str, str | None]) -> dict[str, Item]:
    return {k: Item("prospects", k, hash=h, seen_hash=h) for k, h in known.items()}


@given(pairs, state, st.integers(0, 3), st.booleans(), st.randoms())
def test_diff_depends_on_keys_not_row_order(
    rows: list[tuple[str, str]],
    known: dict[str, str | None],
    polls: int,
    first: bool,
    rnd: random.Random,
) -> None:
    unique = list(dict(reversed(rows)).items())  # first occurrence wins, as in the sheet
    shuffled = unique[:]
    rnd.shuffle(shuffled)
    a = diff(unique, items_of(known), settle_polls=polls, first_poll=first)
    b = diff(shuffled, items_of(known), settle_polls=polls, first_poll=first)
    assert a.changes == b.changes
    assert set(a.removed) == set(b.removed) == set(known) - {k for k, _ in rows}


@given(pairs, state)
def test_acting_on_everything_leaves_nothing_to_do(
    rows: list[tuple[str, str]], known: dict[str, str | None]
) -> None:
    items = items_of(known)
    d = diff(rows, items, settle_polls=0, first_poll=False)
    for key, ch in d.changes.items():
        if d.todo(key):
            items[key] = Item("prospects", key, hash=ch.seen_hash, seen_hash=ch.seen_hash)
    again = diff(rows, items, settle_polls=0, first_poll=False)
    assert not [k for k in again.changes if again.todo(k) or again.settling(k)]


@given(st.integers(1, 4), st.lists(hashes, min_size=1, max_size=12))
def test_settle_acts_only_on_content_that_stood_still(polls: int, edits: list[str]) -> None:
    """Poll by poll a row shows `edits[i]`; it is acted on only after the same content was
    seen `polls` + 1 polls in a row, and then on exactly that content."""
    item = Item("prospects", "k", hash="h0", seen_hash="h0")
    streak, last = 0, "h0"
    for h in edits:
        streak = streak + 1 if h == last else 1
        last = h
        d = diff([("k", h)], {"k": item}, settle_polls=polls, first_poll=False)
        ch = d.changes["k"]
        item.seen_hash, item.settle = ch.seen_hash, ch.settle
        if h == item.hash:
            assert not d.todo("k") and not d.settling("k")
            continue
        assert d.todo("k") == (streak >= polls + 1), (streak, polls)
        if d.todo("k"):
            item.hash = h


emails = st.sampled_from(["a@x.io", "b@x.io", "c@x.io", "d@x.io", "A@X.io ", ""])


@settings(max_examples=200)
@given(st.lists(emails, min_size=1, max_size=10), st.randoms(), st.integers(0, 3))
def test_statuses_follow_their_keys_through_any_reshuffle(
    read: list[str], rnd: random.Random, blanks: int
) -> None:
    """Rows sorted, blank rows inserted, rows deleted between the read and the write: every
    status is addressed to a row that now holds the same key (and the same occurrence of a
    duplicated key), or dropped when that row is gone. Never to another key's row."""
    proj = Projection(
        columns={"P": {"email": 0, "sync_status": 1}},
        read_header={"P": ["email", "sync status"]},
        titles={"prospects": "P"},
    )
    seen: dict[str, int] = {}
    for i, email in enumerate(read):
        ident = (norm(email),)
        occ = seen.get(ident[0], 0)
        seen[ident[0]] = occ + 1
        proj.targets.append(Target("prospects", ident, occ, {"sync_status": f"s{i}"}, i + 2))
    now: list[str | None] = [e or None for e in read]
    rnd.shuffle(now)
    for _ in range(blanks):
        now.insert(rnd.randrange(len(now) + 1), None)
    if now and rnd.random() < 0.5:
        now.pop(rnd.randrange(len(now)))
    while now and now[-1] is None:
        now.pop()
    fresh = {"P": KeyColumns(header=["Email", "Sync Status"], columns={0: now})}
    cells = address(proj, fresh)
    assert cells is not None
    by_row = {c.row: c for c in cells}
    assert len(by_row) == len(cells), "two statuses on one row"
    for c in cells:
        [t] = [t for t in proj.targets if t.values["sync_status"] == c.value]
        key_now = norm(now[c.row - 2]) if c.row - 2 < len(now) else ""
        assert key_now == t.identity[0]
