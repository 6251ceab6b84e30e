"""Google Sheets as a sheet source, through gspread's HTTP client and google-auth.

Requests (Sheets API v4):

    read       ONE values:batchGet of every configured tab that exists
    read_keys  ONE values:batchGet of each tab's row 1 and the key columns ('Tab'!A2:A)
    write      ONE values:batchUpdate, valueInputOption=RAW: text stays text, never a formula
    metadata   spreadsheets.get, once; cached (tab titles, sheet ids, grid sizes) and refreshed
               only when a tab is missing or a range falls outside the cached grid

Render options, chosen on purpose (checked against the recorded traffic in
google-sheets-recordings/, test_get_all_values_date_time_render_options):

    valueRenderOption=UNFORMATTED_VALUE   checkboxes read as true/false, numbers as numbers: a
                                          phone typed as a number keeps its digits (5551234567,
                                          never "5.55E+09"); text stays text; formulas read as
                                          their computed value
    dateTimeRenderOption=SERIAL_NUMBER    dates read as serial day numbers (days since
                                          1899-12-30); the row normaliser turns them into dates
                                          in date columns only

Writes beyond the grid (a new status column, a row past the last one) first grow the tab with
appendDimension in one spreadsheets.batchUpdate, so they work whether or not values writes
auto-grow; the grid's size is read again first when the cached one says a write needs more
(people grow tabs too), so a pasted block never earns blank rows. With a `Quota` (the daemon
shares one among every source of a credential), each request first takes a slot of Google's
per-user quota (60 reads and 60 writes a minute), so a healthy daemon never causes a 429.
429, 5xx, timeouts and lost connections are retried with full-jitter backoff until a deadline
on the injected Clock (gspread's BackOffHTTPClient is not used: it never stops and ignores the
status code); then SheetUnavailable. Other errors become the sheetsync.errors class that says
what to do.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import requests
from gspread.http_client import HTTPClient
from gspread.urls import SPREADSHEET_VALUES_BATCH_URL
from requests.adapters import HTTPAdapter

from sheetsync.clock import Clock, SystemClock
from sheetsync.errors import (
    SheetUnavailable,
    TabNotFound,
)
from sheetsync.retry import RetryPolicy
from sheetsync.sheet.base import (
    CellValue,
    CellWrite,
    KeyColumns,
    RequestCounts,
    Row,
    SheetData,
    TabLayout,
    column_letter,
    match_titles,
    trim_row,
    trim_rows,
)
from sheetsync.sheet.google.build import (
    layout_requests,
    new_sheet_id,
    quote_title,
    write_ranges,
)
from sheetsync.sheet.google.errors import (
    ErrorContext,
    GridError,
    RangeError,
    Transient,
    call_once,
)
from sheetsync.sheet.google.quota import Quota

log = logging.getLogger(__name__)

GOOGLE_SHEETS_URL = "https://sheets.googleapis.com"
READ_PARAMS = {
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "majorDimension": "ROWS",
}
META_PARAMS = {"includeGridData": "false", "fields": "sheets.properties"}  # titles, ids, grids
NEW_TAB_ROWS = 1000
MISSING_TAB_RECHECK_S = 600.0  # a tab known to be absent is looked for again at most this often
QUOTA_LOG_INTERVAL_S = 60.0  # quota (429) warnings are logged at most once a minute

T = TypeVar("T")
_EMPTY = ("", None)  # Google leaves trailing empty cells out; a row ending in one is trimmed


@dataclass
class TabMeta:
    sheet_id: int
    rows: int
    cols: int


class RebaseAdapter(HTTPAdapter):
    """Sends requests for https://sheets.googleapis.com to `base_url` instead (proxies,
    emulators). gspread hard-codes its URLs, so the rewrite happens at the transport."""

    def __init__(self, base_url: str, prefix: str = GOOGLE_SHEETS_URL) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.prefix = prefix

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        url = request.url or ""
        if url.startswith(self.prefix):
            request.url = self.base_url + url[len(self.prefix) :]
        return super().send(request, *args, **kwargs)


def rebase_session(session: requests.Session, base_url: str) -> None:
    session.mount(GOOGLE_SHEETS_URL + "/", RebaseAdapter(base_url))


class GoogleSource:
    """One Google spreadsheet. `client` is gspread's HTTPClient over an AuthorizedSession."""

    def __init__(
        self,
        spreadsheet_id: str,
        client: HTTPClient,
        *,
        clock: Clock | None = None,
        account: str | None = None,
        fix_for_401: str = "check the Google credentials",
        retry: RetryPolicy | None = None,
        rng: random.Random | None = None,
        quota: Quota | None = None,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.quota = quota
        self.client = client
        self.clock = clock or SystemClock()
        self.account = account
        self.fix_for_401 = fix_for_401
        self.retry = retry or RetryPolicy(base_s=1.0, cap_s=32.0)
        self.rng = rng or random.Random()
        self.counts = RequestCounts()
        self.waits: list[float] = []  # backoff waits taken, for tests and the run report
        self._meta: dict[str, TabMeta] | None = None
        self._titles: list[str] = []
        self._absent_checked: dict[str, float] = {}  # tab -> monotonic time it was last looked for
        self._quota_logged_at: float | None = None
        # The latest read's answer (the response body and its values) and its rows, trimmed:
        # a poll of an unchanged sheet gets the same answer, and neither is made again.
        self._answer: tuple[bytes, list[list[list[Any]]]] | None = None
        self._read: tuple[object, dict[str, list[Row]]] | None = None

    @property
    def label(self) -> str:
        return self.spreadsheet_id

    def __repr__(self) -> str:
        return f"GoogleSource({self.spreadsheet_id!r})"

    def close(self) -> None:
        self.client.session.close()

    # --- the contract ----------------------------------------------------------------------

    def read(self, tabs: Sequence[str]) -> SheetData:
        meta = self._meta_with(tabs)
        present = [t for t in match_titles(tabs, list(meta)) if t in meta]
        values = self._batch_get(present, [quote_title(t) for t in present], remember=True)
        if self._read is not None and self._read[0] is values:
            out = self._read[1]  # Google answered as to the previous read: the same rows
        else:
            out = {
                t: trim_rows([r if not r or r[-1] not in _EMPTY else trim_row(r) for r in vr])
                for t, vr in zip(present, values, strict=True)
                if vr is not None
            }
            self._read = (values, out)
        return SheetData(tabs=dict(out), titles=list(self._titles))

    def read_keys(self, columns: Mapping[str, Sequence[int]]) -> dict[str, KeyColumns]:
        meta = self._meta_with(list(columns))
        ranges: list[str] = []
        plan: list[tuple[str, int | None]] = []  # (tab, column or None for the header)
        for tab, cols in columns.items():
            if tab not in meta:
                continue
            q = quote_title(tab)
            ranges.append(f"{q}!1:1")
            plan.append((tab, None))
            for c in cols:
                if c < meta[tab].cols:  # beyond the grid there is nothing, and Google says 400
                    letter = column_letter(c)
                    ranges.append(f"{q}!{letter}2:{letter}")
                    plan.append((tab, c))
        values = self._batch_get([t for t, _ in plan], ranges)
        out: dict[str, KeyColumns] = {}
        for (tab, col), rows in zip(plan, values, strict=True):
            if rows is None:
                continue  # the tab vanished since the metadata was cached
            if col is None:
                out[tab] = KeyColumns(header=trim_row(list(rows[0])) if rows else [], columns={})
            else:
                cells: list[CellValue] = [r[0] if r and r[0] != "" else None for r in rows]
                while cells and cells[-1] is None:
                    cells.pop()
                out[tab].columns[col] = cells
        for tab, cols in columns.items():
            if tab in out:
                for c in cols:
                    out[tab].columns.setdefault(c, [])
        return out

    def check_writable(self) -> None:
        """Google takes concurrent edits cell by cell: nothing to check before a write."""

    def write(self, cells: Sequence[CellWrite]) -> None:
        if not cells:
            return
        cached = self._meta
        meta = self._meta_with(sorted({c.tab for c in cells}))
        for c in cells:
            if c.tab not in meta:
                raise TabNotFound(c.tab, list(self._titles), sheet=self.label)
        self._grow(cells, fresh=meta is not cached)
        body = {"valueInputOption": "RAW", "data": write_ranges(cells)}
        try:
            self._call(
                "values.batchUpdate",
                True,
                lambda: self.client.values_batch_update(self.spreadsheet_id, body),
            )
        except GridError:
            self._fresh_meta()  # the tab shrank under us: look again, grow, write once more
            self._grow(cells, fresh=True)
            self._call(
                "values.batchUpdate",
                True,
                lambda: self.client.values_batch_update(self.spreadsheet_id, body),
            )

    def create_tabs(self, layouts: Sequence[TabLayout]) -> list[str]:
        meta = self._fresh_meta()
        todo = [lay for lay in layouts if lay.title not in meta]
        if not todo:
            return []
        used = {m.sheet_id for m in meta.values()}
        requests_: list[dict[str, Any]] = []
        for lay in todo:
            sheet_id = new_sheet_id(self.rng, used)
            used.add(sheet_id)
            cols = max(26, len(lay.headers))
            requests_.extend(layout_requests(lay, sheet_id, NEW_TAB_ROWS, cols))
            meta[lay.title] = TabMeta(sheet_id, NEW_TAB_ROWS, cols)
        body = {"requests": requests_}
        self._call(
            "spreadsheets.batchUpdate",
            True,
            lambda: self.client.batch_update(self.spreadsheet_id, body),
        )
        self._titles.extend(lay.title for lay in todo)
        data = [
            {"range": f"{quote_title(lay.title)}!A1", "values": [list(lay.headers)]}
            for lay in todo
            if lay.headers
        ]
        if data:
            hbody = {"valueInputOption": "RAW", "data": data}
            self._call(
                "values.batchUpdate",
                True,
                lambda: self.client.values_batch_update(self.spreadsheet_id, hbody),
            )
        return [lay.title for lay in todo]

    # --- metadata --------------------------------------------------------------------------

    def _meta_with(self, tabs: Sequence[str]) -> dict[str, TabMeta]:
        """The cached metadata, fetched the first time and refreshed once when a wanted tab is
        not in it (a tab still absent is looked for again only every few minutes)."""
        now = self.clock.monotonic()
        if self._meta is not None:
            missing = [t for t in tabs if t not in self._meta]
            stale = [
                t
                for t in missing
                if now - self._absent_checked.get(t, -MISSING_TAB_RECHECK_S)
                >= MISSING_TAB_RECHECK_S
            ]
            if not stale:
                return self._meta
        data = self._call(
            "spreadsheets.get",
            False,
            lambda: self.client.fetch_sheet_metadata(self.spreadsheet_id, dict(META_PARAMS)),
        )
        meta: dict[str, TabMeta] = {}
        titles: list[str] = []
        for sheet in data.get("sheets", []):
            p = sheet.get("properties", {})
            grid = p.get("gridProperties", {})
            title = str(p.get("title", ""))
            titles.append(title)
            meta[title] = TabMeta(
                int(p.get("sheetId", 0)),
                int(grid.get("rowCount", 0)),
                int(grid.get("columnCount", 0)),
            )
        self._meta, self._titles = meta, titles
        for t in tabs:
            if t in meta:
                self._absent_checked.pop(t, None)
            else:
                self._absent_checked[t] = now
        return meta

    def _fresh_meta(self) -> dict[str, TabMeta]:
        """The metadata read again now, whatever is cached."""
        self._meta = None
        return self._meta_with([])

    def _grow(self, cells: Sequence[CellWrite], *, fresh: bool) -> None:
        """Append the rows and columns `cells` need beyond the grid. The grid's size is taken
        from metadata read for this write (`fresh`), else read again first: people and other
        writers grow a tab too (a paste past the last row), and growing from a stale size
        would add that many blank rows."""
        meta = self._meta
        assert meta is not None
        need: dict[str, tuple[int, int]] = {}
        for c in cells:
            r, k = need.get(c.tab, (0, 0))
            need[c.tab] = (max(r, c.row), max(k, c.col + 1))
        if not fresh and any(
            rows > meta[tab].rows or cols > meta[tab].cols for tab, (rows, cols) in need.items()
        ):
            meta = self._fresh_meta()
        reqs: list[dict[str, Any]] = []
        for tab, (rows, cols) in need.items():
            if tab not in meta:  # deleted since
                raise TabNotFound(tab, list(self._titles), sheet=self.label)
            m = meta[tab]
            for dim, have, want in (("ROWS", m.rows, rows), ("COLUMNS", m.cols, cols)):
                if want > have:
                    reqs.append(
                        {
                            "appendDimension": {
                                "sheetId": m.sheet_id,
                                "dimension": dim,
                                "length": want - have,
                            }
                        }
                    )
        if not reqs:
            return
        body = {"requests": reqs}
        self._call(
            "spreadsheets.batchUpdate",
            True,
            lambda: self.client.batch_update(self.spreadsheet_id, body),
        )
        for tab, (rows, cols) in need.items():
            m = meta[tab]
            m.rows, m.cols = max(m.rows, rows), max(m.cols, cols)

    def _batch_get(
        self, tabs: list[str], ranges: list[str], *, remember: bool = False
    ) -> list[list[list[Any]] | None]:
        """ONE values:batchGet; when a tab vanished since the metadata was cached (Google then
        fails the whole batch), refresh the metadata and try once more without it. A range of a
        tab that is gone comes back as None. `remember`: see `_get`."""
        if not ranges:
            return []
        try:
            return cast(list[list[list[Any]] | None], self._get(ranges, remember=remember))
        except (RangeError, GridError):
            meta = self._fresh_meta()
            keep = [i for i, t in enumerate(tabs) if t in meta]
            got = self._get([ranges[i] for i in keep]) if keep else []
            by_index = dict(zip(keep, got, strict=True))
            return [by_index.get(i) for i in range(len(ranges))]

    def _get(self, ranges: list[str], *, remember: bool = False) -> list[list[list[Any]]]:
        """The values of `ranges` (values:batchGet, as gspread's values_batch_get asks). An
        answer byte for byte the same as the remembered one (the previous `remember` read: an
        unchanged sheet) is not decoded again: its values are those decoded then."""
        url = SPREADSHEET_VALUES_BATCH_URL % self.spreadsheet_id
        params: dict[str, str | int | bool | float | list[str] | None] = dict(READ_PARAMS)
        params["ranges"] = list(ranges)
        body = self._call(
            "values.batchGet",
            False,
            lambda: self.client.request("get", url, params=params).content,
        )
        if self._answer is not None and self._answer[0] == body:
            return self._answer[1]
        value_ranges = json.loads(body).get("valueRanges", [])
        values = [list(vr.get("values", [])) for vr in value_ranges] + [
            [] for _ in range(len(ranges) - len(value_ranges))
        ]
        if remember:
            self._answer = (body, values)
        return values

    # --- requests, retries and errors ------------------------------------------------------

    def _call(self, kind: str, write: bool, fn: Callable[[], T]) -> T:
        start = self.clock.monotonic()
        attempt = 0
        while True:
            if self.quota is not None:
                (self.quota.writes if write else self.quota.reads).acquire()
            self.counts.count(kind, write=write)
            try:
                return call_once(
                    fn, ErrorContext(self.spreadsheet_id, self.account, self.fix_for_401)
                )
            except Transient as exc:
                wait = self.retry.backoff(attempt, self.rng)
                elapsed = self.clock.monotonic() - start
                if elapsed + wait > self.retry.deadline_s:
                    raise SheetUnavailable(
                        f"Google Sheets kept failing for {elapsed:.0f}s ({exc.reason}) on "
                        f"{kind} of spreadsheet {self.spreadsheet_id}; sheetsync tries again on "
                        f"the next poll. If it lasts, check https://www.google.com/appsstatus "
                        f"and the Sheets API quota of the Google Cloud project.",
                        sheet=self.label,
                    ) from None
                self._log_transient(kind, exc, wait)
                self.waits.append(wait)
                self.clock.sleep(wait)
                attempt += 1

    def _log_transient(self, kind: str, exc: Transient, wait: float) -> None:
        if exc.quota:
            now = self.clock.monotonic()
            if self._quota_logged_at is None or now - self._quota_logged_at >= QUOTA_LOG_INTERVAL_S:
                self._quota_logged_at = now
                log.warning(
                    "Google Sheets quota exceeded (429) on %s; backing off (quota warnings are "
                    "shown at most once a minute)",
                    kind,
                )
                return
        log.debug("Google Sheets %s failed (%s); retrying in %.1fs", kind, exc.reason, wait)
