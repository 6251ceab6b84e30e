"""The emulator over plain HTTP: auth, quotas on a FakeClock, faults, the hook, render options,
ranges, writes and spreadsheets.batchUpdate requests."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests

from sheetsync.clock import FakeClock
from sheetsync.testing import SheetsEmulator

from .conftest import TOKEN


def get(s: requests.Session, emu: SheetsEmulator, path: str, **params: Any) -> requests.Response:
    return s.get(f"{emu.base_url}/v4/spreadsheets/{path}", params=params, timeout=5)


def post(s: requests.Session, emu: SheetsEmulator, path: str, body: Any, **params: Any) -> Any:
    return s.post(f"{emu.base_url}/v4/spreadsheets/{path}", json=body, params=params, timeout=5)


def batch_get(s: requests.Session, emu: SheetsEmulator, sid: str, *ranges: str, **p: Any) -> Any:
    resp = get(s, emu, f"{sid}/values:batchGet", ranges=list(ranges), **p)
    assert resp.status_code == 200, resp.text
    return resp.json()["valueRanges"]


# --- auth, sharing, missing spreadsheets ---------------------------------------------------------


def test_missing_and_unknown_tokens_are_401(emu: SheetsEmulator) -> None:
    sid = emu.create_spreadsheet({"Sheet1": [["a"]]})
    with requests.Session() as s:
        missing = get(s, emu, sid)
        s.headers["Authorization"] = "Bearer not-a-known-token"
        unknown = get(s, emu, sid)
    assert missing.status_code == unknown.status_code == 401
    assert missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "not-a-known-token" not in unknown.text
    assert unknown.json()["error"]["message"].startswith(
        "Request had invalid authentication credentials."
    )


def test_share_and_delete(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"Sheet1": []})
    emu.share(sid, allowed_tokens={"tok-2"})
    denied = get(http, emu, sid)
    assert denied.status_code == 403
    assert denied.json() == {
        "error": {
            "code": 403,
            "message": "The caller does not have permission",
            "status": "PERMISSION_DENIED",
        }
    }
    emu.share(sid, allowed_tokens={TOKEN})
    assert get(http, emu, sid).status_code == 200
    emu.delete_spreadsheet(sid)
    gone = get(http, emu, f"{sid}/values/Sheet1")
    assert gone.status_code == 404
    assert gone.json()["error"]["message"] == "Requested entity was not found."


def test_any_bearer_accepted_when_tokens_is_none() -> None:
    with SheetsEmulator() as emu, requests.Session() as s:
        sid = emu.create_spreadsheet({"Sheet1": [["a"]]})
        s.headers["Authorization"] = "Bearer whatever"
        assert get(s, emu, f"{sid}/values/Sheet1").json()["values"] == [["a"]]


# --- quotas, faults, counting --------------------------------------------------------------------


def test_read_quota_per_minute_on_the_clock(clock: FakeClock) -> None:
    with SheetsEmulator(clock=clock, read_quota_per_min=3, write_quota_per_min=1) as emu:
        sid = emu.create_spreadsheet({"Sheet1": [["a"]]})
        with requests.Session() as s:
            s.headers["Authorization"] = "Bearer t"
            codes = [get(s, emu, f"{sid}/values/Sheet1").status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            refused = get(s, emu, sid).json()["error"]
            assert refused["status"] == "RESOURCE_EXHAUSTED"
            assert refused["message"].startswith(
                "Quota exceeded for quota metric 'Read requests' and limit "
                "'Read requests per minute per user'"
            )
            # writes have their own bucket
            body = {"values": [["b"]]}
            put = s.put(
                f"{emu.base_url}/v4/spreadsheets/{sid}/values/Sheet1!A2",
                params={"valueInputOption": "RAW"},
                json=body,
                timeout=5,
            )
            assert put.status_code == 200
            again = post(s, emu, f"{sid}/values:batchClear", {"ranges": ["Sheet1!A2"]})
            assert again.status_code == 429
            assert "'Write requests per minute per user'" in again.json()["error"]["message"]
            # another user has a quota of their own
            other = s.get(
                f"{emu.base_url}/v4/spreadsheets/{sid}",
                timeout=5,
                headers={"Authorization": "Bearer t2"},
            )
            assert other.status_code == 200
            clock.advance(60.0)
            assert get(s, emu, f"{sid}/values/Sheet1").status_code == 200
        assert emu.counts["values.get"] == 5
        assert emu.reads == 7 and emu.writes == 2
        emu.reset_counts()
        assert emu.reads == emu.writes == 0


def test_fail_next_injects_google_shaped_errors(
    emu: SheetsEmulator, http: requests.Session
) -> None:
    sid = emu.create_spreadsheet({"Sheet1": [["a"]]})
    emu.fail_next("values.batchGet", 503, n=2)
    emu.fail_next("*", 500)
    first = get(http, emu, f"{sid}/values:batchGet", ranges="Sheet1")
    assert first.status_code == 503
    assert first.json()["error"]["status"] == "UNAVAILABLE"
    assert get(http, emu, f"{sid}/values:batchGet", ranges="Sheet1").status_code == 503
    assert get(http, emu, sid).status_code == 500  # the "*" fault goes to the next request
    assert batch_get(http, emu, sid, "Sheet1")[0]["values"] == [["a"]]
    assert emu.counts["values.batchGet"] == 3
    with pytest.raises(ValueError, match="unknown request kind"):
        emu.fail_next("values.bogus", 500)


def test_hook_edits_the_sheet_between_requests(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"P": [["Email", "N"], ["c@x", 3], ["a@x", 1], ["b@x", 2]]})
    seen: list[str] = []

    def person(kind: str, e: SheetsEmulator) -> None:
        seen.append(kind)
        if kind == "values.batchUpdate":  # someone sorts the tab right before our write
            e.sort_rows(sid, "P", 0)

    emu.hook = person
    assert batch_get(http, emu, sid, "P!A2:A")[0]["values"] == [["c@x"], ["a@x"], ["b@x"]]
    body = {"valueInputOption": "RAW", "data": [{"range": "P!C2", "values": [["done"]]}]}
    assert post(http, emu, f"{sid}/values:batchUpdate", body).status_code == 200
    assert seen == ["values.batchGet", "values.batchUpdate"]
    # the write landed on the row that is row 2 *after* the sort
    assert emu.values(sid, "P") == [["Email", "N"], ["a@x", 1, "done"], ["b@x", 2], ["c@x", 3]]


def test_hook_helpers(emu: SheetsEmulator) -> None:
    sid = emu.create_spreadsheet({"T": [["H"], ["b"], [""], ["a"]]})
    emu.sort_rows(sid, "T", 0, descending=True)
    assert emu.values(sid, "T") == [["H"], ["b"], ["a"]]  # empty cells sort last either way
    emu.insert_rows(sid, "T", 2, [["new1"], ["new2"]])
    assert emu.values(sid, "T") == [["H"], ["new1"], ["new2"], ["b"], ["a"]]
    emu.delete_rows(sid, "T", 3, 2)
    emu.set_cell(sid, "T", 3, 1, 42)
    assert emu.values(sid, "T") == [["H"], ["new1"], ["a", 42]]
    emu.set_values(sid, "T", [["only"]])
    assert emu.values(sid, "T") == [["only"]]
    with pytest.raises(KeyError, match="no tab 'X'"):
        emu.set_cell(sid, "X", 1, 0, "v")


# --- reading ---------------------------------------------------------------------------------


def test_render_options_dates_errors_and_formulas(
    emu: SheetsEmulator, http: requests.Session
) -> None:
    sid = emu.create_spreadsheet(
        {"S": [["=4/2", date(2020, 1, 1), "string", 53, 0.12, True, "=VLOOKUP(A1,B:C,2)"]]}
    )
    emu.set_cell(sid, "S", 1, 7, "=A1/0*Z9", error="#REF!")
    emu.set_cell(sid, "S", 1, 8, None, error="#N/A")

    def row(**params: str) -> list[Any]:
        return list(batch_get(http, emu, sid, "S!1:1", **params)[0]["values"][0])

    assert row() == ["2", "2020-01-01", "string", "53", "0.12", "TRUE", "#ERROR!", "#REF!", "#N/A"]
    assert row(valueRenderOption="UNFORMATTED_VALUE") == [
        2,
        43831,
        "string",
        53,
        0.12,
        True,
        "#ERROR!",
        "#REF!",
        "#N/A",
    ]
    assert (
        row(valueRenderOption="UNFORMATTED_VALUE", dateTimeRenderOption="FORMATTED_STRING")[1]
        == "2020-01-01"
    )
    formulas = row(valueRenderOption="FORMULA")
    assert [formulas[i] for i in (0, 1, 6, 7, 8)] == [
        "=4/2",
        43831,
        "=VLOOKUP(A1,B:C,2)",
        "=A1/0*Z9",
        "#N/A",
    ]
    emu.formula_value = "#NAME?"
    emu.set_cell(sid, "S", 2, 0, "=FOO()")
    assert batch_get(http, emu, sid, "S!A2")[0]["values"] == [["#NAME?"]]
    bad = get(http, emu, f"{sid}/values/S", valueRenderOption="PRETTY")
    assert bad.status_code == 400


@pytest.mark.parametrize(
    ("rng", "echo", "values"),
    [
        ("Data", "Data!A1:Z1000", [["a", "b", "c"], [], ["d", "", "f"]]),
        ("Data!A:B", "Data!A1:B1000", [["a", "b"], [], ["d"]]),
        ("Data!1:1", "Data!A1:Z1", [["a", "b", "c"]]),
        ("Data!A1:1", "Data!A1:Z1", [["a", "b", "c"]]),
        ("Data!B2:B", "Data!B2:B1000", None),
        ("Data!C1:C3", "Data!C1:C3", [["c"], [], ["f"]]),
        ("'Data'!C3", "Data!C3", [["f"]]),
        ("A1:B1", "Data!A1:B1", [["a", "b"]]),  # a bare range means the first sheet
        ("'Bob''s tab'!A1", "'Bob''s tab'!A1", [["x"]]),
        ("Bob's tab!A1", "'Bob''s tab'!A1", [["x"]]),
        ("'Bob''s tab'", "'Bob''s tab'!A1:Z1000", [["x"]]),
    ],
)
def test_ranges_and_echoes(
    emu: SheetsEmulator, http: requests.Session, rng: str, echo: str, values: Any
) -> None:
    sid = emu.create_spreadsheet(
        {"Data": [["a", "b", "c"], [], ["d", "", "f"]], "Bob's tab": [["x"]]}
    )
    (got,) = batch_get(http, emu, sid, rng)
    assert got["range"] == echo
    if values is None:
        assert "values" not in got
    else:
        assert got["values"] == values


@pytest.mark.parametrize("rng", ["Nope!A1", "Data!A1:", "Data!1A", "Data!A", "'Data!A1", "Data!:B"])
def test_unparsable_ranges_are_400(emu: SheetsEmulator, http: requests.Session, rng: str) -> None:
    sid = emu.create_spreadsheet({"Data": [["a"]]})
    resp = get(http, emu, f"{sid}/values:batchGet", ranges=["Data!A1", rng])
    assert resp.status_code == 400
    assert resp.json() == {
        "error": {
            "code": 400,
            "message": f"Unable to parse range: {rng}",
            "status": "INVALID_ARGUMENT",
        }
    }


def test_columns_major_dimension(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"S": [["a", "b"], ["c"]]})
    (got,) = batch_get(http, emu, sid, "S!A1:B2", majorDimension="COLUMNS")
    assert got == {"range": "S!A1:B2", "majorDimension": "COLUMNS", "values": [["a", "c"], ["b"]]}


# --- writing -------------------------------------------------------------------------------


def test_writes_past_the_grid_are_refused_but_append_grows(
    emu: SheetsEmulator, http: requests.Session
) -> None:
    sid = emu.create_spreadsheet({"S": [["h"]]})
    body = {"valueInputOption": "RAW", "data": [{"range": "S!A1001", "values": [["x"]]}]}
    resp = post(http, emu, f"{sid}/values:batchUpdate", body)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "Range ('S'!A1001) exceeds grid limits. Max rows: 1000, max columns: 26"
    )
    emu.set_values(sid, "S", [[f"r{i}"] for i in range(1000)])
    app = post(http, emu, f"{sid}/values/S:append", {"values": [["tail"]]}, valueInputOption="RAW")
    assert app.json()["updates"]["updatedRange"] == "S!A1001"
    assert emu.metadata(sid)["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 1001


def test_write_outside_requested_range_is_400(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"S": []})
    body = {"valueInputOption": "RAW", "data": [{"range": "S!A1:B1", "values": [["1", "2", "3"]]}]}
    resp = post(http, emu, f"{sid}/values:batchUpdate", body)
    assert resp.status_code == 400
    assert "tried writing to column [C]" in resp.json()["error"]["message"]


def test_raw_vs_user_entered_and_null_skips(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"S": [["keep", "old"]]})
    data = [
        {"range": "S!A1:B1", "values": [[None, ""]]},  # null leaves A1, "" clears B1
        {"range": "S!A2", "values": [["=1+1", "12", "TRUE", "'007"]]},
    ]
    post(http, emu, f"{sid}/values:batchUpdate", {"valueInputOption": "RAW", "data": data})
    data = [{"range": "S!A3", "values": [["=1+1", "12", "TRUE", "'007", "2026-11-26"]]}]
    post(http, emu, f"{sid}/values:batchUpdate", {"valueInputOption": "USER_ENTERED", "data": data})
    assert emu.values(sid, "S") == [
        ["keep"],
        ["=1+1", "12", "TRUE", "'007"],
        ["=1+1", 12, True, "007", date(2026, 11, 26)],
    ]
    (got,) = batch_get(http, emu, sid, "S!A2:B2", valueRenderOption="UNFORMATTED_VALUE")
    assert got["values"] == [["=1+1", "12"]]  # RAW text stays text


# --- spreadsheets.batchUpdate ---------------------------------------------------------------


def test_batch_update_is_all_or_nothing(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"S": []})
    body = {
        "requests": [
            {"addSheet": {"properties": {"title": "New"}}},
            {"deleteSheet": {"sheetId": 12345}},
        ]
    }
    resp = post(http, emu, f"{sid}:batchUpdate", body)
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == (
        "Invalid requests[1].deleteSheet: No grid with id: 12345"
    )
    assert [s["properties"]["title"] for s in emu.metadata(sid)["sheets"]] == ["S"]
    unknown = post(http, emu, f"{sid}:batchUpdate", {"requests": [{"frobnicate": {}}]})
    assert unknown.status_code == 400 and "frobnicate" in unknown.json()["error"]["message"]


def test_init_style_requests_show_in_metadata(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"S": [["Email", "Go"], ["a@x", ""], ["b@x", "TRUE"]]})
    requests_ = [
        {
            "updateSheetProperties": {
                "properties": {
                    "sheetId": 0,
                    "title": "Prospects",
                    "gridProperties": {"frozenRowCount": 1},
                },
                "fields": "title,gridProperties.frozenRowCount",
            }
        },
        {
            "setDataValidation": {
                "range": {
                    "sheetId": 0,
                    "startRowIndex": 1,
                    "endRowIndex": 3,
                    "startColumnIndex": 1,
                    "endColumnIndex": 2,
                },
                "rule": {"condition": {"type": "BOOLEAN"}},
            }
        },
        {
            "addProtectedRange": {
                "protectedRange": {
                    "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
                    "description": "headers",
                    "warningOnly": True,
                }
            }
        },
        {
            "repeatCell": {
                "range": {
                    "sheetId": 0,
                    "startRowIndex": 0,
                    "endRowIndex": 1,
                    "startColumnIndex": 0,
                    "endColumnIndex": 1,
                },
                "cell": {"note": "one per row"},
                "fields": "note",
            }
        },
        {
            "updateCells": {
                "start": {"sheetId": 0, "rowIndex": 0, "columnIndex": 1},
                "rows": [{"values": [{"note": "tick to start"}]}],
                "fields": "note",
            }
        },
    ]
    resp = post(http, emu, f"{sid}:batchUpdate", {"requests": requests_})
    assert resp.status_code == 200, resp.text
    replies = resp.json()["replies"]
    assert replies[0] == {} and set(replies[2]) == {"addProtectedRange"}
    pid = replies[2]["addProtectedRange"]["protectedRange"]["protectedRangeId"]
    sheet = emu.metadata(sid)["sheets"][0]
    assert sheet["properties"]["title"] == "Prospects"
    assert sheet["properties"]["gridProperties"]["frozenRowCount"] == 1
    assert sheet["dataValidations"] == {
        "B2": {"condition": {"type": "BOOLEAN"}},
        "B3": {"condition": {"type": "BOOLEAN"}},
    }
    assert sheet["protectedRanges"][0]["protectedRangeId"] == pid
    assert sheet["protectedRanges"][0]["description"] == "headers"
    assert sheet["notes"] == {"A1": "one per row", "B1": "tick to start"}
    (got,) = batch_get(http, emu, sid, "Prospects!B2:B3", valueRenderOption="UNFORMATTED_VALUE")
    assert got["values"] == [[], [True]]  # "TRUE" entered by a person is a checked box
    # validations move with their rows
    post(
        http,
        emu,
        f"{sid}:batchUpdate",
        {
            "requests": [
                {
                    "insertDimension": {
                        "range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 1, "endIndex": 2}
                    }
                }
            ]
        },
    )
    assert set(emu.metadata(sid)["sheets"][0]["dataValidations"]) == {"B3", "B4"}


def test_spreadsheets_get_fields_mask(emu: SheetsEmulator, http: requests.Session) -> None:
    sid = emu.create_spreadsheet({"A": [], "B": []}, title="T")
    got = get(http, emu, sid, fields="properties.title,sheets(properties(title,sheetId))").json()
    assert got["properties"] == {"title": "T"}
    assert [s["properties"]["title"] for s in got["sheets"]] == ["A", "B"]
    assert set(got["sheets"][0]["properties"]) == {"title", "sheetId"}


def test_values_batch_update_and_batch_clear_are_all_or_nothing(
    emu: SheetsEmulator, http: requests.Session
) -> None:
    sid = emu.create_spreadsheet({"S": [["a", "b"]]})
    data = [{"range": "S!A1", "values": [["changed"]]}, {"range": "Nope!A1", "values": [["x"]]}]
    resp = post(http, emu, f"{sid}/values:batchUpdate", {"valueInputOption": "RAW", "data": data})
    assert resp.status_code == 400
    cleared = post(http, emu, f"{sid}/values:batchClear", {"ranges": ["S!A1", "S!A2000"]})
    assert cleared.status_code == 400
    assert emu.values(sid, "S") == [["a", "b"]]
