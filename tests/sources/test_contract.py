"""The SheetSource contract, run on both backends: google-on-emulator and xlsx."""

from __future__ import annotations

from datetime import date

import pytest

from sheetsync.errors import TabNotFound
from sheetsync.sheet.base import CellWrite, KeyColumns

from .conftest import Backend

HEADER = ["Email", "First Name", "Phone", "Sync", "Start Date"]


def people() -> dict[str, list[list[object]]]:
    return {
        "Prospects": [
            HEADER,
            ["ann@x.io", "Ann", 5551234567, True, date(2026, 1, 2)],
            ["bob@x.io", "Bob"],  # ragged: shorter than the header
            [],  # a blank row in the middle
            ["cy@x.io", "", "", False],
        ],
        "Campaigns": [["Campaign", "State"], ["Q1", "Running"]],
    }


def test_read_every_tab_typed_and_trimmed(backend: Backend) -> None:
    src = backend.make(people())
    data = src.read(["Prospects", "Campaigns", "Sync Log"])
    assert list(data.tabs) == ["Prospects", "Campaigns"]  # the missing optional tab is left out
    assert set(data.titles) == {"Prospects", "Campaigns"}
    rows = data.tabs["Prospects"]
    assert rows[0] == HEADER
    assert rows[1] == ["ann@x.io", "Ann", 5551234567, True, backend.date_cell(date(2026, 1, 2))]
    assert isinstance(rows[1][2], int)  # the phone keeps its digits, not 5.55E+09
    assert rows[2] == ["bob@x.io", "Bob"]
    assert rows[3] == []
    assert [None if v == "" else v for v in rows[4]] == ["cy@x.io", None, None, False]
    assert len(rows) == 5  # no trailing empty rows
    assert data.tabs["Campaigns"] == [["Campaign", "State"], ["Q1", "Running"]]


def test_require_names_the_tabs_that_exist(backend: Backend) -> None:
    src = backend.make(people())
    data = src.read(["Prospects", "Enrollments"])
    assert data.require("Prospects")[0] == HEADER
    with pytest.raises(TabNotFound) as err:
        data.require("Enrollments", sheet=src.label)
    assert err.value.existing == data.titles
    assert "'Prospects'" in str(err.value) and "'Campaigns'" in str(err.value)


def test_renamed_and_reordered_headers_read_as_typed(backend: Backend) -> None:
    src = backend.make({"Prospects": [["  e-mail ", "Job Title", "EMAIL"], ["a@x.io", "CEO"]]})
    assert src.read(["Prospects"]).tabs["Prospects"][0] == ["  e-mail ", "Job Title", "EMAIL"]


@pytest.mark.parametrize(
    "text",
    [
        "Zoë Ñúñez",
        "📧 launch 🚀",
        "שלום עולם",  # right-to-left
        "مرحبا",
        "line one\nline two",
        "=SUM(A1)",
        "+1",
        "@x",
        "-5",
        "'quoted",
        "TRUE",
        "00123",
    ],
)
def test_strings_written_raw_read_back_as_the_same_text(backend: Backend, text: str) -> None:
    src = backend.make({"Prospects": [["Email", "Note"], ["a@x.io"]]})
    src.write([CellWrite("Prospects", 2, 1, text)])
    assert src.read(["Prospects"]).tabs["Prospects"][1] == ["a@x.io", text]
    stored = backend.stored("Prospects")[1][1]
    assert stored == text and isinstance(stored, str)  # stored as text, never a formula


def test_typed_values_write_and_read_back(backend: Backend) -> None:
    src = backend.make({"Prospects": [["A", "B", "C", "D"], ["x", "y", "z", "w"]]})
    src.write(
        [
            CellWrite("Prospects", 2, 0, True),
            CellWrite("Prospects", 2, 1, 42),
            CellWrite("Prospects", 2, 2, 2.5),
            CellWrite("Prospects", 2, 3, None),  # clears the cell
        ]
    )
    assert src.read(["Prospects"]).tabs["Prospects"][1] == [True, 42, 2.5]


def test_long_cells(backend: Backend) -> None:
    big = "x" * 50_000
    src = backend.make({"Prospects": [["Email", "Body"], ["a@x.io", big]]})
    # Google holds 50,000 characters a cell; xlsx 32,767 (openpyxl cuts longer cells on load)
    assert src.read(["Prospects"]).tabs["Prospects"][1][1] == big[: backend.max_cell_chars]
    src.write([CellWrite("Prospects", 2, 1, "y" * 60_000)])
    back = src.read(["Prospects"]).tabs["Prospects"][1][1]
    assert back == "y" * backend.max_cell_chars  # cut to what the format can hold


def test_write_grows_the_header_row_with_new_status_columns(backend: Backend) -> None:
    width = 26  # a new Google tab is 26 columns wide: write past it
    header = [f"H{i}" for i in range(width)]
    src = backend.make({"Prospects": [header, ["a@x.io"]]})
    src.write(
        [
            CellWrite("Prospects", 1, width, "Sync Status"),
            CellWrite("Prospects", 1, width + 1, "Prospect ID"),
            CellWrite("Prospects", 2, width, "synced"),
        ]
    )
    rows = src.read(["Prospects"]).tabs["Prospects"]
    assert rows[0] == [*header, "Sync Status", "Prospect ID"]
    assert rows[1][0] == "a@x.io" and rows[1][width] == "synced"
    keys = src.read_keys({"Prospects": [0, width]})["Prospects"]
    assert keys.columns == {0: ["a@x.io"], width: ["synced"]}


def test_write_far_below_the_last_row(backend: Backend) -> None:
    src = backend.make({"Prospects": [["Email"], ["a@x.io"]]})
    src.write([CellWrite("Prospects", 1500, 0, "far@x.io")])
    rows = src.read(["Prospects"]).tabs["Prospects"]
    assert len(rows) == 1500 and rows[-1] == ["far@x.io"] and rows[700] == []


def test_extra_columns_and_other_tabs_are_kept(backend: Backend) -> None:
    src = backend.make(
        {
            "Prospects": [["Email", "Notes", "Sync Status"], ["a@x.io", "keep me", "old"]],
            "Other": [["untouched", 7]],
        }
    )
    src.write([CellWrite("Prospects", 2, 2, "synced")])
    assert backend.stored("Prospects") == [
        ["Email", "Notes", "Sync Status"],
        ["a@x.io", "keep me", "synced"],
    ]
    assert backend.stored("Other") == [["untouched", 7]]


def test_read_keys_returns_header_and_columns(backend: Backend) -> None:
    src = backend.make(people())
    keys = src.read_keys({"Prospects": [0, 3], "Campaigns": [0], "Nope": [0]})
    assert set(keys) == {"Prospects", "Campaigns"}
    assert keys["Prospects"] == KeyColumns(
        header=HEADER,
        columns={0: ["ann@x.io", "bob@x.io", None, "cy@x.io"], 3: [True, None, None, False]},
    )
    assert keys["Campaigns"].columns == {0: ["Q1"]}


@pytest.mark.parametrize("edit", ["sort", "insert", "delete"])
def test_read_keys_sees_rows_moved_mid_cycle(backend: Backend, edit: str) -> None:
    src = backend.make(
        {"Prospects": [["Email", "Name"], ["cy@x.io", "C"], ["ann@x.io", "A"], ["bob@x.io", "B"]]}
    )
    first = src.read(["Prospects"]).tabs["Prospects"]
    assert [r[0] for r in first[1:]] == ["cy@x.io", "ann@x.io", "bob@x.io"]
    actions = {
        "sort": lambda: backend.sort_rows("Prospects", 0),
        "insert": lambda: backend.insert_rows("Prospects", 2, [["new@x.io", "N"]]),
        "delete": lambda: backend.delete_rows("Prospects", 2),
    }
    expected = {
        "sort": ["ann@x.io", "bob@x.io", "cy@x.io"],
        "insert": ["new@x.io", "cy@x.io", "ann@x.io", "bob@x.io"],
        "delete": ["ann@x.io", "bob@x.io"],
    }
    backend.edit(actions[edit])  # a person edits right before the pre-write re-read
    keys = src.read_keys({"Prospects": [0]})["Prospects"]
    assert keys.columns[0] == expected[edit]
    # the engine re-addresses by key: bob's status lands on bob's row whatever happened
    bob_row = keys.columns[0].index("bob@x.io") + 2
    src.write([CellWrite("Prospects", bob_row, 2, "synced")])
    rows = src.read(["Prospects"]).tabs["Prospects"]
    assert [r for r in rows if len(r) > 2] == [["bob@x.io", "B", "synced"]]


def test_empty_write_does_nothing(backend: Backend) -> None:
    src = backend.make(people())
    before = src.counts.writes
    src.write([])
    assert src.counts.writes == before


def test_counts_one_request_per_call(backend: Backend) -> None:
    src = backend.make(people())
    src.read(["Prospects", "Campaigns"])
    src.read(["Prospects", "Campaigns"])
    src.read_keys({"Prospects": [0], "Campaigns": [0]})
    src.write([CellWrite("Prospects", 2, 5, "ok"), CellWrite("Campaigns", 2, 2, "ok")])
    kinds = src.counts.by_kind
    if backend.name == "google":
        # metadata once, then one batchGet per read and read_keys, one batchUpdate per write
        assert kinds == {"spreadsheets.get": 1, "values.batchGet": 3, "values.batchUpdate": 1}
    else:
        assert kinds == {"xlsx.read": 2, "xlsx.read_keys": 1, "xlsx.write": 1}
    assert src.counts.writes == 1
