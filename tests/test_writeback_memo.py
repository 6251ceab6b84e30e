"""The write-back's memo (writeback.ProjectionMemo): a projection with the memo of earlier polls
equals a projection without it, whatever changed in between (cells, statuses, their types)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sheetsync.rows.parse import parse_sheet
from sheetsync.sheet.base import Row
from sheetsync.state import Item
from sheetsync.sync.writeback import Projection, ProjectionMemo, project
from tests.rows_helpers import SHEET, data

HEADER = ["Email", "First Name", "Sync Status", "Prospect ID", "Synced At"]
EMAILS = st.sampled_from(["", "a@x.com", "b@x.com", "A@x.com "])
CELLS = st.sampled_from(["", "synced", "error: x", "p1", 1, True, None])
ROW = st.tuples(EMAILS, st.sampled_from(["", "Ann"]), CELLS, CELLS, CELLS).map(list)
ITEM = st.tuples(st.sampled_from(["", "synced", "error: y"]), st.sampled_from([None, "p1"]))
ITEMS = st.dictionaries(st.sampled_from(["a@x.com", "b@x.com"]), ITEM, max_size=2)
POLL = st.tuples(st.lists(ROW, max_size=4), ITEMS, st.sampled_from([HEADER, HEADER[:3]]))


def run(rows: list[Row], items: dict[str, Any], header: list[str], memo: ProjectionMemo | None):
    d = data(prospects=[list(header), *[r[: len(header)] for r in rows]])
    parsed = parse_sheet(d, SHEET)
    state = {r: {} for r in ("prospects", "campaigns", "steps", "enrollments")}
    for key, (status, rid) in items.items():
        state["prospects"][key] = Item("prospects", key, status=status, synced_at="t0",
                                       remote_id=rid)  # fmt: skip
    return project(d, parsed, SHEET, state, now_iso="t1", memo=memo)


def same_projection(a: Projection, b: Projection) -> None:
    assert a.targets == b.targets
    assert (a.headers, a.columns, a.read_header, a.titles) == (
        b.headers, b.columns, b.read_header, b.titles)  # fmt: skip


EDIT = st.tuples(st.integers(0, 3), st.integers(0, 4), CELLS)  # row, column, new value


@settings(max_examples=300, deadline=None)
@given(st.lists(POLL, min_size=1, max_size=5), st.lists(st.lists(EDIT, max_size=2), max_size=5))
def test_a_projection_with_the_memo_equals_one_without(
    polls: list[tuple[list[Row], dict[str, Any], list[str]]],
    edits: list[list[tuple[int, int, Any]]],
) -> None:
    memo = ProjectionMemo()
    for (rows, items, header), edit in zip(polls, [*edits, *[[]] * len(polls)], strict=False):
        same_projection(run(rows, items, header, memo), run(rows, items, header, None))
        # the same read again, but for a few cells: only those rows may be compared again
        rows = [list(r) for r in rows]
        for i, col, value in edit:
            if i < len(rows):
                rows[i][col] = value
        same_projection(run(rows, items, header, memo), run(rows, items, header, None))


def test_an_edited_status_cell_is_restored() -> None:
    memo = ProjectionMemo()
    items = {"a@x.com": ("synced", "p1")}
    good = ["a@x.com", "Ann", "synced", "p1", "t0"]
    assert run([good], items, HEADER, memo).targets == []
    assert memo.tabs["Prospects"][1]  # the row is remembered as right
    for edited, field, value in (
        (["a@x.com", "Ann", "", "p1", "t0"], "sync_status", "synced"),  # cleared
        (["a@x.com", "Ann", "synced", "p2", "t0"], "prospect_id", "p1"),  # typed over
        (["a@x.com", "Ann", "synced", "p1", True], "synced_at", "t0"),  # not even text
    ):
        targets = run([edited], items, HEADER, memo).targets
        assert [(t.row, t.values.get(field)) for t in targets] == [(2, value)]
        assert run([good], items, HEADER, memo).targets == []  # written back: right again


def test_a_number_is_not_the_same_cell_as_true() -> None:
    memo = ProjectionMemo()
    items = {"a@x.com": ("synced", "1")}
    assert run([["a@x.com", "", "synced", "1", "t0"]], items, HEADER, memo).targets == []
    assert run([["a@x.com", "", "synced", 1, "t0"]], items, HEADER, memo).targets == []
    # 1 == True in Python: only the cell types tell this row from the one before
    targets = run([["a@x.com", "", "synced", True, "t0"]], items, HEADER, memo).targets
    assert [t.values for t in targets] == [{"prospect_id": "1"}]


def test_a_changed_item_is_projected_again() -> None:
    memo = ProjectionMemo()
    row = ["a@x.com", "Ann", "synced", "p1", "t0"]
    assert run([row], {"a@x.com": ("synced", "p1")}, HEADER, memo).targets == []
    targets = run([row], {"a@x.com": ("error: y", "p1")}, HEADER, memo).targets
    assert [t.values for t in targets] == [{"sync_status": "error: y"}]
