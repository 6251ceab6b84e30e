"""A Google Sheets API v4 emulator on 127.0.0.1 for tests and benchmarks.

It answers the requests gspread 6 makes (spreadsheets.get/batchUpdate, values.get/batchGet/
update/batchUpdate/append/clear/batchClear) with the bodies Google sends, checked against the
recorded traffic in tests/emulator/recordings/. It also enforces
bearer tokens, sharing, per-minute read/write quotas on an injectable clock, injected faults, and
calls a hook before each request so a test can "edit the sheet" between two requests.

Quotas are per user (token): at most `read_quota_per_min` reads and `write_quota_per_min` writes
in any 60 s, then 429 RESOURCE_EXHAUSTED as Google sends it. Google refills its per-minute
quotas every minute; a sliding 60 s window is stricter, so a client that never gets a 429 here
never gets one from Google (its per-project quota, 300 a minute, is not enforced).
`answered` counts the HTTP statuses answered (e.g. `answered[429]`); `ranges_read` lists the
ranges values reads asked for (`Prospects!1:1`, `'Q4 Leads'`), in order.

    with SheetsEmulator(clock=FakeClock()) as emu:
        sid = emu.create_spreadsheet({"Prospects": [["Email"], ["a@x.io"]]})
        # point a client at emu.base_url instead of https://sheets.googleapis.com
"""

from __future__ import annotations

import collections
import json
import random
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sheetsync.clock import Clock, SystemClock
from sheetsync.serving import ClosingHTTPServer
from sheetsync.testing import sheets_values as values_api
from sheetsync.testing.sheets_book import ApiFailure, Book
from sheetsync.testing.sheets_grid import (
    Cell,
    Tab,
    a1,
    python_cell,
    stored,
    trim,
)
from sheetsync.testing.sheets_meta import (
    BatchUpdater,
    apply_fields,
    parse_fields,
    sort_rows,
    spreadsheet,
)

READ_KINDS = frozenset({"spreadsheets.get", "values.get", "values.batchGet"})
WRITE_KINDS = frozenset(
    {
        "spreadsheets.batchUpdate",
        "values.update",
        "values.batchUpdate",
        "values.append",
        "values.clear",
        "values.batchClear",
    }
)
_QUOTA_MESSAGE = (
    "Quota exceeded for quota metric '{kind} requests' and limit '{kind} requests per minute per "
    "user' of service 'sheets.googleapis.com' for consumer 'project_number:1234567890'."
)
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class SheetsEmulator:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        read_quota_per_min: int = 60,
        write_quota_per_min: int = 60,
        tokens: set[str] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.read_quota_per_min = read_quota_per_min
        self.write_quota_per_min = write_quota_per_min
        self.tokens = tokens
        self.counts: collections.Counter[str] = collections.Counter()
        self.answered: collections.Counter[int] = collections.Counter()
        self.ranges_read: list[str] = []
        self.hook: Callable[[str, SheetsEmulator], None] | None = None
        self.formula_value = "#ERROR!"  # what an opaque (non-arithmetic) formula reads as
        self._books: dict[str, Book] = {}
        self._lock = threading.RLock()
        self._rng = random.Random(20260101)
        self._faults: dict[str, list[int]] = {}
        self._quota_log: dict[tuple[str, str], collections.deque[float]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.drop_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SheetsEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SheetsEmulator is not started: call start() or use `with`")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # --- spreadsheets ----------------------------------------------------------------------

    def create_spreadsheet(
        self,
        tabs: dict[str, list[list[object]]],
        *,
        title: str = "Test",
        spreadsheet_id: str | None = None,
    ) -> str:
        """Add a spreadsheet whose tabs hold `tabs` (row lists); returns its id. Tabs are at
        least 1000 x 26 like a new Google sheet, larger when the data is."""
        with self._lock:
            sid = spreadsheet_id or "1" + "".join(self._rng.choice(_ID_CHARS) for _ in range(43))
            if sid in self._books:
                raise ValueError(f"spreadsheet {sid!r} already exists")
            book = Book(sid, title, [])
            for i, (name, rows) in enumerate((tabs or {"Sheet1": []}).items()):
                sheet_id = 0 if i == 0 else self._rng.randrange(1, 2**31 - 1)
                tab = Tab(sheet_id, name)
                book.tabs.append(tab)
                self._fill(tab, rows)
            self._books[sid] = book
            return sid

    def delete_spreadsheet(self, spreadsheet_id: str) -> None:
        with self._lock:
            self._books.pop(spreadsheet_id)

    def spreadsheet_ids(self) -> list[str]:
        with self._lock:
            return list(self._books)

    def share(self, spreadsheet_id: str, *, allowed_tokens: set[str] | None) -> None:
        """Only these bearer tokens may use the spreadsheet (others get 403); None = all."""
        with self._lock:
            self._book(spreadsheet_id).allowed_tokens = allowed_tokens

    def metadata(self, spreadsheet_id: str) -> dict[str, Any]:
        """spreadsheets.get's body plus what it leaves out, for assertions: per sheet
        `dataValidations` {"A2": rule}, `notes` {"A1": text} and the `formats` (repeatCell and
        updateCells requests) applied."""
        with self._lock:
            book = self._book(spreadsheet_id)
            body = spreadsheet(book)
            for entry, tab in zip(body["sheets"], book.tabs, strict=True):
                rules: dict[str, Any] = {}
                notes: dict[str, str] = {}
                for r, row in enumerate(tab.rows):
                    for c, cell in enumerate(row):
                        if cell is None:
                            continue
                        if cell.validation is not None:
                            rules[a1(r, c, r + 1, c + 1)] = cell.validation
                        if cell.note:
                            notes[a1(r, c, r + 1, c + 1)] = cell.note
                entry["dataValidations"] = rules
                entry["notes"] = notes
                entry["formats"] = [
                    {k: v for k, v in f.items() if k != "sheetId"}
                    for f in book.formats
                    if f["sheetId"] == tab.sheet_id
                ]
            return body

    # --- cells -----------------------------------------------------------------------------

    def values(self, spreadsheet_id: str, tab: str) -> list[list[object]]:
        """The tab's cells as entered (formulas as "=…", date cells as date/datetime, "" for an
        empty cell inside a row), trimmed like the API trims."""
        with self._lock:
            t = self._tab(spreadsheet_id, tab)
            return trim([[stored(c) for c in row] for row in t.rows])

    def set_values(self, spreadsheet_id: str, tab: str, rows: list[list[object]]) -> None:
        """Replace every value of the tab (notes and validation rules stay)."""
        with self._lock:
            t = self._tab(spreadsheet_id, tab)
            t.clear_values(0, len(t.rows), 0, max((len(r) for r in t.rows), default=0))
            self._fill(t, rows)

    def set_cell(
        self,
        spreadsheet_id: str,
        tab: str,
        row: int,
        col: int,
        value: object,
        *,
        error: str | None = None,
    ) -> None:
        """Set one cell (row 1-based, col 0-based). With `error` ("#REF!", "#N/A"…) the cell
        reads as that error; `value` may then be the formula that produced it."""
        with self._lock:
            t = self._tab(spreadsheet_id, tab)
            if row < 1 or col < 0:
                raise ValueError(f"row is 1-based and col 0-based, got row={row} col={col}")
            self._grow(t, row, col + 1)
            if error is not None:
                formula = value if isinstance(value, str) and value.startswith("=") else None
                cell = Cell(error, formula=formula, error=True)
            else:
                cell = python_cell(value, formula_value=self.formula_value)
            t.put(row - 1, col, cell)

    def sort_rows(
        self, spreadsheet_id: str, tab: str, column: int, *, descending: bool = False
    ) -> None:
        """Sort rows 2..n by a 0-based column, as a person using Data > Sort range would."""
        with self._lock:
            t = self._tab(spreadsheet_id, tab)
            width = max((len(r) for r in t.rows), default=0)
            sort_rows(t, 1, len(t.rows), 0, width, [(column, descending)])

    def insert_rows(
        self, spreadsheet_id: str, tab: str, at_row: int, rows: list[list[object]]
    ) -> None:
        """Insert `rows` so the first lands at 1-based `at_row` (rows below move down)."""
        with self._lock:
            t = self._tab(spreadsheet_id, tab)
            if at_row < 1:
                raise ValueError(f"at_row is 1-based, got {at_row}")
            while len(t.rows) < at_row - 1:
                t.rows.append([])
            t.insert_rows(at_row - 1, len(rows))
            self._fill(t, rows, first_row=at_row - 1)

    def delete_rows(self, spreadsheet_id: str, tab: str, start_row: int, count: int = 1) -> None:
        with self._lock:
            t = self._tab(spreadsheet_id, tab)
            if start_row < 1 or count < 1:
                raise ValueError(f"start_row is 1-based and count >= 1, got {start_row}, {count}")
            t.delete_rows(start_row - 1, count)

    # --- counting, faults ------------------------------------------------------------------

    @property
    def reads(self) -> int:
        with self._lock:
            return sum(n for k, n in self.counts.items() if k in READ_KINDS)

    @property
    def writes(self) -> int:
        with self._lock:
            return sum(n for k, n in self.counts.items() if k in WRITE_KINDS)

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.answered.clear()
            self.ranges_read.clear()

    def fail_next(self, kind: str, status: int, n: int = 1) -> None:
        """Answer the next `n` requests of `kind` ("values.batchGet", or "*" for any) with a
        Google-shaped error of HTTP `status` (e.g. 500, 503, 429)."""
        if kind != "*" and kind not in READ_KINDS | WRITE_KINDS:
            raise ValueError(f"unknown request kind {kind!r}")
        with self._lock:
            self._faults.setdefault(kind, []).extend([status] * n)

    # --- internals ------------------------------------------------------------------------

    def _book(self, spreadsheet_id: str) -> Book:
        try:
            return self._books[spreadsheet_id]
        except KeyError:
            raise KeyError(f"no spreadsheet {spreadsheet_id!r} in the emulator") from None

    def _tab(self, spreadsheet_id: str, title: str) -> Tab:
        book = self._book(spreadsheet_id)
        tab = book.find_tab(title)
        if tab is None:
            names = ", ".join(t.title for t in book.tabs)
            raise KeyError(f"no tab {title!r} in {spreadsheet_id!r}; tabs: {names}")
        return tab

    def _grow(self, tab: Tab, rows: int, cols: int) -> None:
        tab.row_count = max(tab.row_count, rows)
        tab.col_count = max(tab.col_count, cols)

    def _fill(self, tab: Tab, rows: list[list[object]], first_row: int = 0) -> None:
        self._grow(tab, first_row + len(rows), max((len(r) for r in rows), default=0))
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                cell = python_cell(value, formula_value=self.formula_value)
                if not cell.empty or tab.cell(first_row + i, j) is not None:
                    tab.put(first_row + i, j, cell)

    def _take_fault(self, kind: str) -> int | None:
        for key in (kind, "*"):
            queue = self._faults.get(key)
            if queue:
                return queue.pop(0)
        return None

    def _check_quota(self, kind: str, token: str) -> None:
        is_read = kind in READ_KINDS
        limit = self.read_quota_per_min if is_read else self.write_quota_per_min
        name = "Read" if is_read else "Write"
        log = self._quota_log.setdefault((name, token), collections.deque())
        now = self.clock.monotonic()
        while log and log[0] <= now - 60.0:
            log.popleft()
        if len(log) >= limit:
            raise ApiFailure(
                429,
                _QUOTA_MESSAGE.format(kind=name),
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "RATE_LIMIT_EXCEEDED",
                        "domain": "googleapis.com",
                        "metadata": {
                            "quota_limit": f"{name}RequestsPerMinutePerUser",
                            "quota_metric": f"sheets.googleapis.com/{name.lower()}_requests",
                            "service": "sheets.googleapis.com",
                            "consumer": "projects/1234567890",
                            "quota_limit_value": str(limit),
                        },
                    }
                ],
            )
        log.append(now)

    def _authorize(self, token: str | None) -> str:
        if not token:
            raise ApiFailure(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project.",
            )
        if self.tokens is not None and token not in self.tokens:
            raise ApiFailure(401)
        return token

    def handle(
        self, method: str, raw_path: str, query: str, body: bytes, token: str | None
    ) -> tuple[int, dict[str, Any]]:
        """Serve one request; returns (HTTP status, JSON body). Used by the HTTP handler."""
        route = _route(method, raw_path)
        if route is None:
            return 404, ApiFailure(404).body()
        kind, sid, rng = route
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        ranges = parse_qs(query, keep_blank_values=True).get("ranges", [])
        with self._lock:
            self.counts[kind] += 1
            if kind in ("values.get", "values.batchGet"):
                self.ranges_read.extend(ranges if kind == "values.batchGet" else [rng])
        hook = self.hook
        if hook is not None:
            hook(kind, self)
        with self._lock:
            try:
                fault = self._take_fault(kind)
                if fault is not None:
                    raise ApiFailure(fault)
                who = self._authorize(token)
                book = self._books.get(sid)
                if book is None:
                    raise ApiFailure(404)
                if book.allowed_tokens is not None and who not in book.allowed_tokens:
                    raise ApiFailure(403)
                self._check_quota(kind, who)
                payload = _json(body) if method in ("POST", "PUT") else {}
                served = self._serve(kind, book, rng, params, ranges, payload)
                self.answered[200] += 1
                return 200, served
            except ApiFailure as failure:
                self.answered[failure.code] += 1
                return failure.code, failure.body()

    def _serve(
        self,
        kind: str,
        book: Book,
        rng: str,
        params: dict[str, str],
        ranges: list[str],
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        fv = self.formula_value
        if kind == "spreadsheets.get":
            body = spreadsheet(book)
            if params.get("fields"):
                return dict(apply_fields(body, parse_fields(params["fields"])))
            return body
        if kind == "values.get":
            return values_api.read_range(book, rng, params)
        if kind == "values.batchGet":
            if not ranges:
                return {"spreadsheetId": book.spreadsheet_id}
            return values_api.batch_get(book, ranges, params)
        # Values writes check everything before changing a cell, so they need no undo.
        if kind == "values.clear":
            cleared = values_api.clear(book, rng)
            return {"spreadsheetId": book.spreadsheet_id, "clearedRange": cleared}
        if kind == "values.batchClear":
            return values_api.batch_clear(book, payload)
        if kind == "values.update":
            option = params.get("valueInputOption")
            return values_api.write_range(book, rng, payload, option, fv)
        if kind == "values.batchUpdate":
            return values_api.batch_update(book, payload, fv)
        if kind == "values.append":
            return values_api.append(book, rng, payload, params, fv)
        # spreadsheets.batchUpdate
        requests = payload.get("requests")
        if not isinstance(requests, list):
            raise ApiFailure(400, "Invalid JSON payload: 'requests' must be a list")
        replies = _atomic(book, lambda: BatchUpdater(book, self._rng).run(requests))
        return {"spreadsheetId": book.spreadsheet_id, "replies": replies}


def _atomic(book: Book, action: Callable[[], Any]) -> Any:
    """Run `action`; if it fails, undo everything it did (the API applies all or nothing)."""
    before = book.snapshot()
    try:
        return action()
    except Exception:
        book.restore(before)
        raise


def _json(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiFailure(
            400, "Invalid JSON payload received. Unexpected token in the request body."
        ) from None
    if not isinstance(data, dict):
        raise ApiFailure(400, "Invalid JSON payload received. Expected an object.")
    return data


def _route(method: str, raw_path: str) -> tuple[str, str, str] | None:
    """(kind, spreadsheet id, range) for a path under /v4/spreadsheets/, or None."""
    prefix = "/v4/spreadsheets/"
    if not raw_path.startswith(prefix):
        return None
    rest = raw_path[len(prefix) :]
    if "/values" in rest:
        sid, _, tail = rest.partition("/values")
        sid = unquote(sid)
        if method == "GET" and tail == ":batchGet":
            return "values.batchGet", sid, ""
        if method == "POST" and tail == ":batchUpdate":
            return "values.batchUpdate", sid, ""
        if method == "POST" and tail == ":batchClear":
            return "values.batchClear", sid, ""
        if not tail.startswith("/") or len(tail) < 2:
            return None
        tail = tail[1:]
        for suffix, kind, verb in (
            (":append", "values.append", "POST"),
            (":clear", "values.clear", "POST"),
        ):
            if tail.endswith(suffix) and method == verb:
                return kind, sid, unquote(tail[: -len(suffix)])
        if method == "GET":
            return "values.get", sid, unquote(tail)
        if method == "PUT":
            return "values.update", sid, unquote(tail)
        return None
    if method == "POST" and rest.endswith(":batchUpdate"):
        return "spreadsheets.batchUpdate", unquote(rest[: -len(":batchUpdate")]), ""
    if method == "GET" and "/" not in rest and ":" not in rest:
        return "spreadsheets.get", unquote(rest), ""
    return None


class _Server(ClosingHTTPServer):
    daemon_threads = True
    block_on_close = False
    emulator: SheetsEmulator


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # quiet: tokens must never reach logs, and tests read their own output

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        status, payload = self.server.emulator.handle(
            self.command, split.path, split.query, body, token
        )
        data = json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815


__all__ = ["READ_KINDS", "WRITE_KINDS", "SheetsEmulator"]
