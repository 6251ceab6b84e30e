"""State keeps the items table's rows between polls (and decodes `data` on first access): what
it hands out must always equal a fresh read of the file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sheetsync.state import Item, State

KEYS = st.sampled_from(["a@x.com", "b@x.com", "c@x.com"])
ROLES = st.sampled_from(["prospects", "campaigns"])
DATA = st.dictionaries(st.sampled_from(["body", "held", "n"]), st.integers(0, 3), max_size=2)


def fresh(path: Path, sheet: str, role: str) -> dict[str, Item]:
    with State(path) as other:  # a new connection: nothing cached
        return other.items(sheet, role)


# An op: (kind, role, key, status, data). kind: put, put+fail (rolled back), mutate (an item
# changed in memory and never put), other (a put through another connection), replace (data
# assigned without being read first, then put).
OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "fail", "mutate", "other", "replace"]),
        ROLES,
        KEYS,
        st.sampled_from(["", "synced", "error: x"]),
        DATA,
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_cached_items_equal_a_fresh_read(ops: list[tuple[str, str, str, str, dict]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.db"
        with State(path) as s:
            for kind, role, key, status, data in ops:
                cached = s.items("sh", role)
                it = cached.get(key) or Item(role, key)
                if kind == "replace":
                    it.data = dict(data)
                else:
                    it.data.update(data)
                it.status = status
                if kind == "put" or kind == "replace":
                    s.put("sh", it)
                elif kind == "fail":
                    with pytest.raises(RuntimeError), s.transaction():
                        s.put("sh", it)
                        raise RuntimeError("crash before the commit")
                elif kind == "other":
                    with State(path) as other:
                        other.put("sh", it)
                for r in ("prospects", "campaigns"):
                    assert s.items("sh", r) == fresh(path, "sh", r)


def test_a_change_by_another_process_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with State(path) as a, State(path) as b:
        a.put("sh", Item("prospects", "k", hash="h1", status="synced", data={"v": 1}))
        assert a.items("sh", "prospects")["k"].hash == "h1"  # now cached in `a`
        b.put("sh", Item("prospects", "k", hash="h2", status="synced", data={"v": 2}))
        got = a.items("sh", "prospects")["k"]
        assert (got.hash, got.data) == ("h2", {"v": 2})


def test_items_handed_out_are_copies(tmp_path: Path) -> None:
    with State(tmp_path / "s.db") as s:
        s.put("sh", Item("campaigns", "c", status="synced", data={"held": "x"}))
        first = s.items("sh", "campaigns")["c"]
        first.status = "changed in memory"
        first.data.pop("held")
        again = s.items("sh", "campaigns")["c"]
        assert (again.status, again.data) == ("synced", {"held": "x"})


def test_data_is_decoded_on_first_access_only(tmp_path: Path) -> None:
    with State(tmp_path / "s.db") as s:
        s.put("sh", Item("prospects", "k", data={"body": {"email": "k"}}))
        it = s.items("sh", "prospects")["k"]
        assert "data" not in it.__dict__  # not decoded yet
        assert it.data == {"body": {"email": "k"}}
        assert it.data is it.data  # decoded once, then an ordinary attribute
        assert it == Item("prospects", "k", data={"body": {"email": "k"}})
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            it.nope  # noqa: B018
