"""The emulator through the real gspread 6 client (HTTP over 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import gspread
import pytest

from sheetsync.testing import SheetsEmulator
from sheetsync.testing.transport import emulator_session

from .conftest import TOKEN


@pytest.fixture
def gc(emu: SheetsEmulator) -> Iterator[gspread.Client]:
    with emulator_session(emu, token=TOKEN) as session:
        yield gspread.Client(auth=None, session=session)  # type: ignore[arg-type]


def test_open_by_key_lists_tabs_and_grid(emu: SheetsEmulator, gc: gspread.Client) -> None:
    sid = emu.create_spreadsheet({"Prospects": [["Email"]], "Campaigns": []}, title="Outreach")
    sh = gc.open_by_key(sid)
    assert sh.title == "Outreach"
    assert [w.title for w in sh.worksheets()] == ["Prospects", "Campaigns"]
    ws = sh.worksheet("Campaigns")
    assert (ws.row_count, ws.col_count, ws.index) == (1000, 26, 1)


def test_batch_get_typed_values_in_request_order(emu: SheetsEmulator, gc: gspread.Client) -> None:
    rows: list[list[object]] = [
        ["Email", "Score", "Go", "Due"],
        ["a@x.io", 3, True, date(2026, 11, 26)],
        [],
        ["b@x.io", 2.5, False],
    ]
    sid = emu.create_spreadsheet({"Prospects": rows, "My Tab": [["x", None, "", "y"]]})
    sh = gc.open_by_key(sid)
    got = sh.values_batch_get(
        ["'My Tab'", "Prospects"], params={"valueRenderOption": "UNFORMATTED_VALUE"}
    )
    first, second = got["valueRanges"]
    assert first == {
        "range": "'My Tab'!A1:Z1000",
        "majorDimension": "ROWS",
        "values": [["x", "", "", "y"]],
    }
    assert second["range"] == "Prospects!A1:Z1000"
    serial = (date(2026, 11, 26) - date(1899, 12, 30)).days
    assert second["values"] == [
        ["Email", "Score", "Go", "Due"],
        ["a@x.io", 3, True, serial],
        [],
        ["b@x.io", 2.5, False],
    ]
    formatted = sh.worksheet("Prospects").get_all_values()
    assert formatted[1] == ["a@x.io", "3", "TRUE", "2026-11-26"]


def test_values_batch_update_raw_keeps_formulas_as_text(
    emu: SheetsEmulator, gc: gspread.Client
) -> None:
    sid = emu.create_spreadsheet({"Sheet1": [["h1", "h2"], ["a", "b"]]})
    sh = gc.open_by_key(sid)
    body = {
        "valueInputOption": "RAW",
        "data": [
            {"range": "Sheet1!B2", "values": [["=1+1"]]},
            {"range": "Sheet1!C1:C2", "values": [["Status"], ["ok"]]},
        ],
    }
    resp = sh.values_batch_update(body)
    assert resp["totalUpdatedCells"] == 3
    assert resp["totalUpdatedSheets"] == 1
    assert [r["updatedRange"] for r in resp["responses"]] == ["Sheet1!B2", "Sheet1!C1:C2"]
    assert emu.values(sid, "Sheet1") == [["h1", "h2", "Status"], ["a", "=1+1", "ok"]]
    # USER_ENTERED parses like Sheets: formulas, numbers, booleans.
    sh.values_update(
        "Sheet1!A3",
        params={"valueInputOption": "USER_ENTERED"},
        body={"values": [["=4/2", "7", "true"]]},
    )
    row3 = sh.values_get("Sheet1!A3:C3", params={"valueRenderOption": "UNFORMATTED_VALUE"})
    assert row3["values"] == [[2, 7, True]]


def test_errors_raise_gspread_api_errors(emu: SheetsEmulator, gc: gspread.Client) -> None:
    with pytest.raises(gspread.exceptions.SpreadsheetNotFound):
        gc.open_by_key("missing")
    sid = emu.create_spreadsheet({"Sheet1": []})
    emu.share(sid, allowed_tokens={"tok-2"})
    with pytest.raises(PermissionError) as denied:  # gspread's translation of 403
        gc.open_by_key(sid)
    cause = denied.value.__cause__
    assert isinstance(cause, gspread.exceptions.APIError)
    assert cause.error == {
        "code": 403,
        "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED",
    }
    emu.share(sid, allowed_tokens=None)
    with pytest.raises(gspread.exceptions.APIError) as info:
        gc.open_by_key(sid).values_get("Nope!A1")
    assert info.value.error["message"] == "Unable to parse range: Nope!A1"


def test_worksheet_ops_add_freeze_delete_rows(emu: SheetsEmulator, gc: gspread.Client) -> None:
    sid = emu.create_spreadsheet({"Sheet1": [["h"], ["r2"], ["r3"], ["r4"]]})
    sh = gc.open_by_key(sid)
    ws = sh.add_worksheet("Log", rows=5, cols=3)
    ws.freeze(rows=1)
    sh.sheet1.delete_rows(2)
    sh.sheet1.append_row(["r5"])
    meta = emu.metadata(sid)
    log = meta["sheets"][1]["properties"]
    assert log["title"] == "Log"
    assert log["gridProperties"] == {"rowCount": 5, "columnCount": 3, "frozenRowCount": 1}
    assert emu.values(sid, "Sheet1") == [["h"], ["r3"], ["r4"], ["r5"]]
    assert meta["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 999
