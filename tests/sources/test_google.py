"""GoogleSource against the Sheets emulator: request counts, metadata cache, grid growth, error
classes and messages, retries on a FakeClock, and `init`'s tab creation."""

from __future__ import annotations

import logging
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from gspread.http_client import HTTPClient

from sheetsync.clock import FakeClock
from sheetsync.config import GoogleConfig, Secret
from sheetsync.errors import (
    SheetError,
    SheetNotFound,
    SheetPermission,
    SheetUnavailable,
    TabNotFound,
)
from sheetsync.retry import RetryPolicy
from sheetsync.sheet.base import CellWrite, TabLayout
from sheetsync.sheet.connect import open_source
from sheetsync.sheet.google.source import GoogleSource
from sheetsync.testing.sheets_emulator import SheetsEmulator
from sheetsync.testing.transport import emulator_session

from .conftest import TOKEN, google_config, sheet_config

TABS: dict[str, list[list[object]]] = {
    "Prospects": [["Email", "Name"], ["a@x.io", "Ann"], ["b@x.io", "Bob"]],
    "Campaigns": [["Campaign"], ["Q1"]],
}


class Opened:
    def __init__(self, emu: SheetsEmulator, clock: FakeClock) -> None:
        self.emu, self.clock = emu, clock
        self.sources: list[GoogleSource] = []
        self.sessions: list[Any] = []

    def source(
        self, sid: str, *, token: str = TOKEN, base_url: str | None = None, **kw: Any
    ) -> GoogleSource:
        cfg = google_config(self.emu, token)
        if base_url:
            cfg = GoogleConfig(auth="token", token=Secret(token), sheets_base_url=base_url)
        src = open_source(sheet_config("google", sid), cfg, clock=self.clock)
        assert isinstance(src, GoogleSource)
        for k, v in kw.items():
            setattr(src, k, v)
        self.sources.append(src)
        return src

    def raw(self) -> HTTPClient:
        """A plain gspread client on the emulator, to edit the sheet as another user would."""
        session = emulator_session(self.emu, token="someone-else")
        self.sessions.append(session)
        return HTTPClient(None, session=session)  # type: ignore[arg-type]


@pytest.fixture
def opened(emulator: SheetsEmulator, clock: FakeClock) -> Iterator[Opened]:
    o = Opened(emulator, clock)
    yield o
    for s in o.sources:
        s.close()
    for sess in o.sessions:
        sess.close()


def sheet_id_of(emu: SheetsEmulator, sid: str, title: str) -> int:
    for s in emu.metadata(sid)["sheets"]:
        if s["properties"]["title"] == title:
            return int(s["properties"]["sheetId"])
    raise KeyError(title)


# --- requests and the metadata cache ---------------------------------------------------------


def test_polls_cost_one_batchget_and_metadata_only_once(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    for _ in range(3):
        src.read(["Prospects", "Campaigns"])
    assert emu.counts["spreadsheets.get"] == 1
    assert emu.counts["values.batchGet"] == 3
    assert emu.writes == 0
    assert src.counts.reads == 4 and src.counts.writes == 0


def test_an_unchanged_answer_is_not_decoded_again_and_a_changed_one_is(opened: Opened) -> None:
    sid = opened.emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    first = src.read(["Prospects", "Campaigns"])
    again = src.read(["Prospects", "Campaigns"])
    assert again == first and src.counts.by_kind["values.batchGet"] == 2  # still asked each time
    assert again.tabs["Prospects"][1] is first.tabs["Prospects"][1]  # the same rows, not decoded
    src.read_keys({"Prospects": [0]})  # another answer in between changes nothing
    assert src.read(["Prospects", "Campaigns"]).tabs["Prospects"][1] is first.tabs["Prospects"][1]
    opened.emu.set_cell(sid, "Prospects", 3, 1, "Bo")
    changed = src.read(["Prospects", "Campaigns"])
    assert changed.tabs["Prospects"] == [["Email", "Name"], ["a@x.io", "Ann"], ["b@x.io", "Bo"]]


def test_missing_optional_tab_does_not_refetch_metadata_every_poll(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    for _ in range(5):
        data = src.read(["Prospects", "Sync Log"])
        assert list(data.tabs) == ["Prospects"]
    assert emu.counts["spreadsheets.get"] == 1
    # someone adds the tab; after the recheck interval it is found
    opened.raw().batch_update(
        sid, {"requests": [{"addSheet": {"properties": {"title": "Sync Log"}}}]}
    )
    opened.clock.advance(601)
    assert list(src.read(["Prospects", "Sync Log"]).tabs) == ["Prospects", "Sync Log"]
    assert emu.counts["spreadsheets.get"] == 2


def test_tab_deleted_after_caching_refreshes_once_and_reads_the_rest(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    src.read(["Prospects", "Campaigns"])
    gone = sheet_id_of(emu, sid, "Campaigns")
    opened.raw().batch_update(sid, {"requests": [{"deleteSheet": {"sheetId": gone}}]})
    emu.reset_counts()
    data = src.read(["Prospects", "Campaigns"])
    assert list(data.tabs) == ["Prospects"] and data.titles == ["Prospects"]
    assert emu.counts == {"values.batchGet": 2, "spreadsheets.get": 1}
    with pytest.raises(TabNotFound) as err:
        data.require("Campaigns")
    assert err.value.existing == ["Prospects"]


def test_write_grows_the_grid_once_then_writes_only_values(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    src.read(["Prospects"])
    emu.reset_counts()
    src.write([CellWrite("Prospects", 1, 27, "Synced At"), CellWrite("Prospects", 1, 26, "X")])
    # the size is read again before growing (the cached one may be stale), then grown once
    assert emu.counts == {
        "spreadsheets.get": 1,
        "spreadsheets.batchUpdate": 1,
        "values.batchUpdate": 1,
    }
    emu.reset_counts()
    src.write([CellWrite("Prospects", 2, 27, "2026-11-26T05:00:00Z")])
    assert emu.counts == {"values.batchUpdate": 1}
    assert emu.values(sid, "Prospects")[0][26:] == ["X", "Synced At"]


def test_grid_grown_by_someone_else_is_not_grown_again(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    src.read(["Prospects"])  # the grid's size cached: 1,000 rows, 26 columns
    # a marketer pastes 1,500 rows and a column past the grid: Google grows the tab
    tab_id = sheet_id_of(emu, sid, "Prospects")
    grow = [
        {"appendDimension": {"sheetId": tab_id, "dimension": d, "length": n}}
        for d, n in (("ROWS", 500), ("COLUMNS", 1))
    ]
    opened.raw().batch_update(sid, {"requests": grow})
    emu.reset_counts()
    src.write([CellWrite("Prospects", 1500, 26, "synced")])
    assert emu.counts == {"spreadsheets.get": 1, "values.batchUpdate": 1}  # nothing appended
    grid = next(
        s["properties"]["gridProperties"]
        for s in emu.metadata(sid)["sheets"]
        if s["properties"]["sheetId"] == tab_id
    )
    assert (grid["rowCount"], grid["columnCount"]) == (1500, 27)
    assert emu.values(sid, "Prospects")[1499][26] == "synced"


def test_grid_shrunk_by_someone_else_is_noticed_and_grown_again(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    src.write([CellWrite("Prospects", 1, 29, "Far")])  # grid now 30 wide in the cache
    tab_id = sheet_id_of(emu, sid, "Prospects")
    shrink = {
        "updateSheetProperties": {
            "properties": {"sheetId": tab_id, "gridProperties": {"columnCount": 26}},
            "fields": "gridProperties.columnCount",
        }
    }
    opened.raw().batch_update(sid, {"requests": [shrink]})
    src.write([CellWrite("Prospects", 1, 28, "Again")])
    assert emu.values(sid, "Prospects")[0][28] == "Again"


def test_contiguous_cells_are_one_range_and_none_clears(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet({"T": [["a", "b", "c", "d"]]})
    src = opened.source(sid)
    src.write(
        [
            CellWrite("T", 1, 1, "B"),
            CellWrite("T", 1, 2, None),
            CellWrite("T", 1, 0, "A"),
            CellWrite("T", 3, 0, "row3"),
        ]
    )
    assert emu.values(sid, "T") == [["A", "B", "", "d"], [], ["row3"]]


def test_formulas_read_as_values_and_dates_as_serials(opened: Opened) -> None:
    from datetime import date

    emu = opened.emu
    sid = emu.create_spreadsheet({"T": [["=2+3", date(2020, 1, 1), 0.12, True]]})
    src = opened.source(sid)
    assert src.read(["T"]).tabs["T"] == [[5, 43831, 0.12, True]]  # as recorded from Google


# --- errors ----------------------------------------------------------------------------------


def test_404_spreadsheet_not_found(opened: Opened) -> None:
    src = opened.source("1NoSuchSpreadsheetIdAtAll")
    with pytest.raises(SheetNotFound) as err:
        src.read(["Prospects"])
    assert "check the spreadsheet id" in str(err.value)
    assert "1NoSuchSpreadsheetIdAtAll" in str(err.value)


def test_403_says_whom_to_share_with(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    emu.share(sid, allowed_tokens={"owner-token"})
    src = opened.source(sid, account="sheetsync@proj.iam.gserviceaccount.com")
    with pytest.raises(SheetPermission) as err:
        src.read(["Prospects"])
    msg = str(err.value)
    assert "share the sheet with sheetsync@proj.iam.gserviceaccount.com" in msg
    assert TOKEN not in msg


def test_401_names_the_token_variable_and_never_the_token(opened: Opened) -> None:
    emu = opened.emu
    emu.tokens = {"the-right-token"}
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid, token="wrong-token-secret-123")
    with pytest.raises(SheetPermission) as err:
        src.read(["Prospects"])
    assert "SHEETSYNC_GOOGLE_TOKEN" in str(err.value)
    assert "wrong-token-secret-123" not in str(err.value) + repr(err.value) + repr(src)


def test_400_is_a_sheet_error_with_googles_message(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    src.read(["Prospects"])
    emu.fail_next("values.batchGet", 400)
    with pytest.raises(SheetError) as err:
        src.read(["Prospects"])
    assert type(err.value) is SheetError
    assert "HTTP 400" in str(err.value) and "invalid argument" in str(err.value)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_errors_are_retried_with_bounded_jitter(opened: Opened, status: int) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    policy = RetryPolicy(base_s=1.0, cap_s=8.0, deadline_s=120.0)
    src = opened.source(sid, retry=policy, rng=random.Random(7))
    src.read(["Prospects"])
    emu.fail_next("values.batchGet", status, n=5)
    slept_before = opened.clock.slept
    data = src.read(["Prospects"])
    assert data.tabs["Prospects"][1] == ["a@x.io", "Ann"]
    assert len(src.waits) == 5
    for i, w in enumerate(src.waits):
        assert 0 <= w <= min(8.0, 2.0**i)
    assert opened.clock.slept - slept_before == pytest.approx(sum(src.waits))
    assert src.counts.by_kind["values.batchGet"] == 7  # 1 + 5 failures + 1 success


def test_retries_stop_at_the_deadline(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid, retry=RetryPolicy(base_s=1.0, cap_s=4.0, deadline_s=20.0))
    src.read(["Prospects"])
    emu.fail_next("values.batchGet", 503, n=1000)
    start = opened.clock.monotonic()
    with pytest.raises(SheetUnavailable) as err:
        src.read(["Prospects"])
    assert opened.clock.monotonic() - start <= 20.0
    assert len(src.waits) >= 5  # it did try for a while (waits average 2s under a 4s cap)
    assert "next poll" in str(err.value)


def test_connection_refused_is_retried_then_unavailable(opened: Opened) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = opened.source(
        "1Whatever",
        base_url=f"http://127.0.0.1:{port}",
        retry=RetryPolicy(base_s=0.5, cap_s=2.0, deadline_s=5.0),
    )
    with pytest.raises(SheetUnavailable) as err:
        src.read(["Prospects"])
    assert "connection failed" in str(err.value)
    assert src.counts.by_kind["spreadsheets.get"] >= 2


def test_quota_warning_logged_once_not_per_request(
    opened: Opened, caplog: pytest.LogCaptureFixture
) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet(TABS)
    src = opened.source(sid, retry=RetryPolicy(base_s=0.01, cap_s=0.02, deadline_s=60.0))
    src.read(["Prospects"])
    caplog.set_level(logging.DEBUG, logger="sheetsync.sheet.google.source")
    for _ in range(3):
        emu.fail_next("values.batchGet", 429, n=3)
        src.read(["Prospects"])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "quota" in warnings[0].getMessage()


def test_write_to_unknown_tab_names_the_existing_ones(opened: Opened) -> None:
    sid = opened.emu.create_spreadsheet(TABS)
    src = opened.source(sid)
    with pytest.raises(TabNotFound) as err:
        src.write([CellWrite("Nope", 2, 0, "x")])
    assert err.value.existing == ["Prospects", "Campaigns"]


# --- create_tabs -----------------------------------------------------------------------------


def test_create_tabs_builds_headers_checkboxes_frozen_row_and_protection(opened: Opened) -> None:
    emu = opened.emu
    sid = emu.create_spreadsheet({"Prospects": [["Email"], ["keep@x.io"]]})
    src = opened.source(sid)
    note = "Written by sheetsync: edits here are overwritten."
    layouts = [
        TabLayout("Prospects", ["Email", "Sync"], [1], [], note),  # exists: untouched
        TabLayout(
            "Enrollments", ["Email", "Campaign", "Enrolled", "Enrollment Status"], [2], [3], note
        ),
    ]
    emu.reset_counts()
    assert src.create_tabs(layouts) == ["Enrollments"]
    assert emu.counts == {
        "spreadsheets.get": 1,
        "spreadsheets.batchUpdate": 1,
        "values.batchUpdate": 1,
    }
    assert emu.values(sid, "Prospects") == [["Email"], ["keep@x.io"]]
    assert emu.values(sid, "Enrollments") == [
        ["Email", "Campaign", "Enrolled", "Enrollment Status"]
    ]
    meta = emu.metadata(sid)
    sheet = next(s for s in meta["sheets"] if s["properties"]["title"] == "Enrollments")
    assert sheet["properties"]["gridProperties"]["frozenRowCount"] == 1
    assert sheet["notes"] == {"D1": note}
    assert sheet["dataValidations"]["C2"]["condition"]["type"] == "BOOLEAN"
    assert "C1" not in sheet["dataValidations"] and "B2" not in sheet["dataValidations"]
    protected = sheet.get("protectedRanges", [])
    assert len(protected) == 1 and protected[0]["warningOnly"] is True
    assert protected[0]["range"]["startColumnIndex"] == 3
    # the new tab is usable right away, without another metadata request
    emu.reset_counts()
    src.write([CellWrite("Enrollments", 2, 0, "a@x.io")])
    assert src.read(["Enrollments"]).tabs["Enrollments"][1] == ["a@x.io"]
    assert "spreadsheets.get" not in emu.counts
    assert src.create_tabs(layouts) == []


def test_a_silent_server_times_out_and_is_retried(opened: Opened) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        cfg = GoogleConfig(auth="token", token=Secret(TOKEN), sheets_base_url=url, timeout_s=0.05)
        src = open_source(sheet_config("google", "1Sid"), cfg, clock=opened.clock)
        assert isinstance(src, GoogleSource)
        opened.sources.append(src)
        src.retry = RetryPolicy(base_s=1.0, cap_s=2.0, deadline_s=4.0)
        with pytest.raises(SheetUnavailable) as err:
            src.read(["Prospects"])
    assert "timed out" in str(err.value)
    assert src.counts.by_kind["spreadsheets.get"] >= 2
