"""The pure parts (diff/settle, write-back addressing) and the state file, with literal data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sheetsync.clock import FakeClock
from sheetsync.errors import StateError
from sheetsync.sheet.base import KeyColumns
from sheetsync.state import SCHEMA_VERSION, Intent, Item, State
from sheetsync.sync.diff import diff
from sheetsync.sync.writeback import Projection, Target, address


def test_state_is_created_migrated_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "state.db"
    with State(path, clock=FakeClock()) as s:
        assert s.version == SCHEMA_VERSION
        s.put("a", Item("prospects", "x@y.io", hash="h1", status="synced", data={"n": 1}))
    with State(path) as s:
        it = s.items("a", "prospects")["x@y.io"]
        assert (it.hash, it.status, it.data) == ("h1", "synced", {"n": 1})
        assert s.items("b", "prospects") == {}
        assert s.known("a") and not s.known("b")
        mode = s.db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_state_from_a_newer_sheetsync_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    State(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO migrations VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(StateError, match="newer sheetsync"):
        State(path)


def test_garbage_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError, match="move it aside"):
        State(path)


def test_intents_survive_until_resolved_and_runs_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with State(path, clock=FakeClock()) as s:
        first = s.add_intent("a", Intent(0, "create_prospect", {"key": "x"}, "create-prospect:1"))
        body = b'{"prospectIds":["p2","p1"]}'
        enroll = Intent(0, "enroll", {"rows": {}}, "enroll:2", "POST /x", "/x", body)
        s.add_intent("a", enroll)
    with State(path) as s:
        pending = s.pending_intents("a")
        assert [(i.op, i.idempotency_key) for i in pending] == [
            ("create_prospect", "create-prospect:1"),
            ("enroll", "enroll:2"),
        ]
        assert (pending[1].endpoint, pending[1].path, pending[1].content) == ("POST /x", "/x", body)
        s.resolve_intent(first.id)
        assert [i.op for i in s.pending_intents("a")] == ["enroll"]
        s.record_run("a", {"errors": 0})
        s.record_failure("a", "WarmySender refused the key")
        runs = s.recent_runs("a")
        assert [r.ok for r in runs] == [False, True]
        failure = s.last_failure("a")
        assert failure is not None and failure.message == "WarmySender refused the key"


def test_transaction_rolls_back_everything_on_error(tmp_path: Path) -> None:
    with State(tmp_path / "s.db") as s:
        with pytest.raises(RuntimeError), s.transaction():
            s.put("a", Item("prospects", "k1", status="synced"))
            raise RuntimeError("crash before the outcome is known")
        assert s.items("a", "prospects") == {}


def test_diff_by_key_and_hash_with_settle() -> None:
    items = {
        "a": Item("prospects", "a", hash="1", seen_hash="1"),
        "b": Item("prospects", "b", hash="1", seen_hash="1"),
        "gone": Item("prospects", "gone", hash="1"),
    }
    d = diff([("b", "2"), ("a", "1"), ("c", "9")], items, settle_polls=1, first_poll=False)
    assert d.changes["a"].kind == "unchanged"
    assert d.changes["b"].kind == "changed" and d.settling("b")
    assert d.changes["c"].kind == "new" and d.settling("c")
    assert d.removed == ("gone",)
    # the next poll with the same content: settled
    items["b"].seen_hash, items["b"].settle = "2", 1
    d2 = diff([("b", "2")], items, settle_polls=1, first_poll=False)
    assert d2.todo("b")
    # changed again while settling: waits again
    d3 = diff([("b", "3")], items, settle_polls=1, first_poll=False)
    assert d3.settling("b")
    # the first poll, or settle 0, acts at once
    assert diff([("z", "1")], {}, settle_polls=3, first_poll=True).todo("z")
    assert diff([("b", "3")], items, settle_polls=0, first_poll=False).todo("b")


def test_settle_two_polls() -> None:
    it = Item("prospects", "a", hash="1")
    d = diff([("a", "2")], {"a": it}, settle_polls=2, first_poll=False)
    assert d.settling("a") and d.changes["a"].settle == 2
    it.seen_hash, it.settle = "2", 2
    d = diff([("a", "2")], {"a": it}, settle_polls=2, first_poll=False)
    assert d.settling("a") and d.changes["a"].settle == 1
    it.settle = 1
    assert diff([("a", "2")], {"a": it}, settle_polls=2, first_poll=False).todo("a")


def _proj() -> Projection:
    p = Projection()
    p.titles = {"prospects": "Prospects"}
    p.columns = {"Prospects": {"email": 0, "sync_status": 2}}
    p.read_header = {"Prospects": ["email", "name", "sync status"]}
    p.targets = [
        Target("prospects", ("b@x.io",), 0, {"sync_status": "synced"}),
        Target("prospects", ("dup@x.io",), 1, {"sync_status": "error: duplicate of row 2"}),
        Target("prospects", ("gone@x.io",), 0, {"sync_status": "synced"}),
    ]
    return p


def test_cells_are_addressed_by_key_where_the_rows_are_now() -> None:
    fresh = {
        "Prospects": KeyColumns(
            header=["Email", "Name", "Sync Status"],
            columns={0: ["dup@x.io", "B@x.io ", None, "dup@x.io"]},
        )
    }
    cells = address(_proj(), fresh)
    assert cells is not None
    assert [(c.row, c.col, c.value) for c in cells] == [
        (3, 2, "synced"),  # b@x.io moved from wherever it was to row 3
        (5, 2, "error: duplicate of row 2"),  # the second dup@x.io
    ]  # gone@x.io was deleted between read and write: skipped


def test_a_header_changed_under_us_skips_the_write() -> None:
    fresh = {
        "Prospects": KeyColumns(header=["Name", "Email", "Sync Status"], columns={0: ["b@x.io"]})
    }
    assert address(_proj(), fresh) is None


def test_state_locked_is_a_state_error_in_the_tree(tmp_path: Path) -> None:
    from sheetsync import errors
    from sheetsync.app import lock

    assert lock.StateLocked is errors.StateLocked and issubclass(errors.StateLocked, StateError)
    assert "StateLocked" in (errors.__doc__ or "")
    exc = errors.StateLocked(tmp_path / "state.db.lock", 4242, sheet="a", command="run")
    assert exc.exit_code == 2 and exc.pid == 4242 and "kill -TERM 4242" in str(exc)
