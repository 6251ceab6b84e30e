"""The prospect parse memo (kept by a long-lived SheetSync between polls) changes nothing: a
read parsed with the memo of earlier reads equals the same read parsed from scratch."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rows_helpers import SHEET, data, table

from sheetsync.rows.parse import ProspectMemo, parse_sheet

CELLS: list[Any] = [
    "", None, "a@x.io", " A@X.io ", "b@x.io", "not-an-email", True, False, 1, 1.0, "1", "TRUE",
    "#REF!", "https://linkedin.com/in/jane", "linkedin.com/jobs", "x" * 300, 5551234567.0,
]  # fmt: skip
HEADERS = ["Email", "First Name", "Company", "LinkedIn URL", "Industry", "Sync"]
row = st.lists(st.sampled_from(CELLS), min_size=len(HEADERS), max_size=len(HEADERS))


def read(rows: list[list[Any]], header: list[str]) -> Any:
    return data(prospects=[header, *rows])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(row, max_size=8),
    st.lists(row, max_size=8),
    st.booleans(),
    st.booleans(),
)
def test_memo_parse_equals_a_fresh_parse(
    first: list[list[Any]], second: list[list[Any]], with_sync: bool, rename: bool
) -> None:
    header = HEADERS if with_sync else HEADERS[:-1]
    memo = ProspectMemo()
    for rows, head in ((first, header), (second + first, header), (first, header[::-1])):
        rows = [r[: len(head)] for r in rows]
        if head is not header:  # the same cells under a reordered header row
            rows = [r[::-1] for r in rows]
        if rename:
            head = ["Title" if h == "Company" else h for h in head]
        fresh = parse_sheet(read(rows, head), SHEET)
        cached = parse_sheet(read(rows, head), SHEET, memo=memo)
        assert cached == fresh


def test_the_memo_keeps_only_the_latest_read_and_reuses_unchanged_rows() -> None:
    memo = ProspectMemo()
    rows = [{"Email": f"p{i}@x.io", "Company": "Acme"} for i in range(3)]
    earlier = parse_sheet(data(prospects=table(rows)), SHEET, memo=memo)
    before = dict(memo.rows)
    rows[1]["Company"] = "Globex"
    got = parse_sheet(data(prospects=table(rows)), SHEET, memo=memo)
    assert len(memo.rows) == 3 and len(set(memo.rows) & set(before)) == 2
    assert got.prospects[1].body["company"] == "Globex"
    assert got.prospects[0].body is before[next(iter(before))][1][2]  # reused, not re-parsed
    assert got.prospects[0] is earlier.prospects[0] and got.prospects[2] is earlier.prospects[2]
    rows.insert(0, {"Email": "new@x.io"})  # every row moves down: same records, new rows
    moved = parse_sheet(data(prospects=table(rows)), SHEET, memo=memo)
    assert [p.row for p in moved.prospects] == [2, 3, 4, 5]
    assert moved.prospects[1].body is earlier.prospects[0].body
