"""The spreadsheets.get and spreadsheets.batchUpdate endpoints of the emulator."""

from __future__ import annotations

import random
from typing import Any

from sheetsync.testing.sheets_book import ApiFailure, Book, bad_request
from sheetsync.testing.sheets_grid import Tab, a1, sort_key


def sheet_properties(tab: Tab, index: int) -> dict[str, Any]:
    grid: dict[str, Any] = {"rowCount": tab.row_count, "columnCount": tab.col_count}
    if tab.frozen_rows:
        grid["frozenRowCount"] = tab.frozen_rows
    if tab.frozen_cols:
        grid["frozenColumnCount"] = tab.frozen_cols
    return {
        "sheetId": tab.sheet_id,
        "title": tab.title,
        "index": index,
        "sheetType": "GRID",
        "gridProperties": grid,
    }


def _protected(pr: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in pr.items() if k != "sheetId"}
    return out


def spreadsheet(book: Book) -> dict[str, Any]:
    sheets = []
    for i, tab in enumerate(book.tabs):
        entry: dict[str, Any] = {"properties": sheet_properties(tab, i)}
        prs = [_protected(p) for p in book.protected_ranges if p["sheetId"] == tab.sheet_id]
        if prs:
            entry["protectedRanges"] = prs
        sheets.append(entry)
    return {
        "spreadsheetId": book.spreadsheet_id,
        "properties": {
            "title": book.title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Etc/GMT",
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.spreadsheet_id}/edit",
    }


# --- fields masks ("sheets.properties(title,sheetId),properties.title") ------------------------


def parse_fields(text: str) -> dict[str, Any]:
    """A fields mask as a tree: {"sheets": {"properties": {"title": {}, "sheetId": {}}}}."""
    pos = 0

    def parse_list(depth: int) -> dict[str, Any]:
        nonlocal pos
        tree: dict[str, Any] = {}
        while pos < len(text):
            start = pos
            while pos < len(text) and text[pos] not in ",()":
                pos += 1
            path = text[start:pos].strip()
            sub: dict[str, Any] = {}
            if pos < len(text) and text[pos] == "(":
                pos += 1
                sub = parse_list(depth + 1)
            if path:
                node = tree
                parts = path.split(".")
                for part in parts[:-1]:
                    node = node.setdefault(part, {})
                _merge(node.setdefault(parts[-1], {}), sub)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if pos < len(text) and text[pos] == ")":
                if depth == 0:
                    raise bad_request(f"Invalid field selection {text}")
                pos += 1
                return tree
        if depth:
            raise bad_request(f"Invalid field selection {text}")
        return tree

    return parse_list(0)


def _merge(into: dict[str, Any], sub: dict[str, Any]) -> None:
    for k, v in sub.items():
        _merge(into.setdefault(k, {}), v)


def apply_fields(value: Any, mask: dict[str, Any]) -> Any:
    if not mask or mask.get("*") == {}:
        return value
    if isinstance(value, list):
        return [apply_fields(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: apply_fields(value[k], sub) for k, sub in mask.items() if k in value}
    return value


# --- batchUpdate --------------------------------------------------------------------------------


def _grid(book: Book, gr: dict[str, Any], where: str) -> tuple[Tab, int, int, int, int]:
    sid = int(gr.get("sheetId", 0) or 0)
    tab = book.tab_by_id(sid)
    if tab is None:
        raise bad_request(f"Invalid {where}: No grid with id: {sid}")
    r0 = int(gr.get("startRowIndex", 0) or 0)
    r1 = int(gr.get("endRowIndex", tab.row_count) or tab.row_count)
    c0 = int(gr.get("startColumnIndex", 0) or 0)
    c1 = int(gr.get("endColumnIndex", tab.col_count) or tab.col_count)
    if r1 > tab.row_count or c1 > tab.col_count or r0 > r1 or c0 > c1:
        raise bad_request(
            f"Invalid {where}: Range ('{tab.title}'!{a1(r0, c0, max(r1, r0 + 1), max(c1, c0 + 1))})"
            f" exceeds grid limits. Max rows: {tab.row_count}, max columns: {tab.col_count}"
        )
    return tab, r0, r1, c0, c1


def _range_out(gr: dict[str, Any], tab: Tab) -> dict[str, Any]:
    out = {k: v for k, v in gr.items() if k != "sheetId" and v is not None}
    if tab.sheet_id:
        out["sheetId"] = tab.sheet_id
    return out


class BatchUpdater:
    def __init__(self, book: Book, rng: random.Random) -> None:
        self.book = book
        self.rng = rng

    def run(self, requests: list[Any]) -> list[dict[str, Any]]:
        replies = []
        for i, req in enumerate(requests):
            if not isinstance(req, dict) or len(req) != 1:
                raise bad_request(f"Invalid requests[{i}]: exactly one kind of request is needed")
            ((kind, args),) = req.items()
            handler = getattr(self, "do_" + kind, None)
            if handler is None:
                raise bad_request(
                    f'Invalid JSON payload received. Unknown name "{kind}" at '
                    f"'requests[{i}]': Cannot find field."
                )
            replies.append(handler(args or {}, f"requests[{i}].{kind}"))
        return replies

    def do_addSheet(self, args: dict[str, Any], where: str) -> dict[str, Any]:  # noqa: N802
        props = args.get("properties") or {}
        title = props.get("title") or f"Sheet{len(self.book.tabs) + 1}"
        if self.book.find_tab(title) is not None:
            raise bad_request(
                f'Invalid {where}: A sheet with the name "{title}" already exists. '
                "Please enter another name."
            )
        sid = props.get("sheetId")
        if sid is None:
            sid = self.rng.randrange(1, 2**31 - 1)
        elif self.book.tab_by_id(int(sid)) is not None:
            raise bad_request(f"Invalid {where}: Sheet with id {sid} already exists.")
        grid = props.get("gridProperties") or {}
        tab = Tab(
            int(sid),
            title,
            row_count=int(grid.get("rowCount", 1000)),
            col_count=int(grid.get("columnCount", 26)),
            frozen_rows=int(grid.get("frozenRowCount", 0)),
            frozen_cols=int(grid.get("frozenColumnCount", 0)),
        )
        index = props.get("index")
        at = len(self.book.tabs) if index is None else min(int(index), len(self.book.tabs))
        self.book.tabs.insert(at, tab)
        return {"addSheet": {"properties": sheet_properties(tab, at)}}

    def do_deleteSheet(self, args: dict[str, Any], where: str) -> dict[str, Any]:  # noqa: N802
        sid = int(args.get("sheetId", 0))
        tab = self.book.tab_by_id(sid)
        if tab is None:
            raise bad_request(f"Invalid {where}: No grid with id: {sid}")
        if len(self.book.tabs) == 1:
            raise bad_request(f"Invalid {where}: You can't remove all the sheets in a document.")
        self.book.tabs.remove(tab)
        self.book.protected_ranges = [p for p in self.book.protected_ranges if p["sheetId"] != sid]
        return {}

    def do_updateSheetProperties(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        props = args.get("properties") or {}
        fields = args.get("fields")
        if not fields:
            raise bad_request(f"Invalid {where}: fields is required")
        tab = self.book.tab_by_id(int(props.get("sheetId", 0) or 0))
        if tab is None:
            raise bad_request(f"Invalid {where}: No grid with id: {props.get('sheetId', 0)}")
        grid = props.get("gridProperties") or {}
        for f in [f.strip() for f in fields.split(",")]:
            if f == "*":
                raise bad_request(f"Invalid {where}: '*' is not supported by the emulator")
            if f == "title":
                title = props.get("title") or ""
                other = self.book.find_tab(title)
                if not title or (other is not None and other is not tab):
                    raise bad_request(
                        f'Invalid {where}: A sheet with the name "{title}" already exists. '
                        "Please enter another name."
                    )
                tab.title = title
            elif f == "index":
                self.book.tabs.remove(tab)
                self.book.tabs.insert(min(int(props.get("index", 0)), len(self.book.tabs)), tab)
            elif f in ("gridProperties", "gridProperties/rowCount", "gridProperties.rowCount"):
                if "rowCount" in grid or f.endswith("rowCount"):
                    self._resize_rows(tab, int(grid.get("rowCount", 0)), where)
                if f == "gridProperties":
                    self._set_grid(tab, grid, where)
            elif f.replace(".", "/").startswith("gridProperties/"):
                self._set_grid(
                    tab,
                    {
                        f.replace(".", "/").split("/", 1)[1]: grid.get(
                            f.replace(".", "/").split("/", 1)[1], 0
                        )
                    },
                    where,
                )
            else:
                pass  # tabColor, hidden, rightToLeft: accepted and not stored
        return {}

    def _set_grid(self, tab: Tab, grid: dict[str, Any], where: str) -> None:
        for key, value in grid.items():
            n = int(value or 0)
            if key == "rowCount":
                self._resize_rows(tab, n, where)
            elif key == "columnCount":
                if n < 1:
                    raise bad_request(f"Invalid {where}: columnCount must be at least 1")
                if n < tab.col_count:
                    tab.delete_cols(n, tab.col_count - n)
                tab.col_count = n
            elif key == "frozenRowCount":
                tab.frozen_rows = n
            elif key == "frozenColumnCount":
                tab.frozen_cols = n

    def _resize_rows(self, tab: Tab, n: int, where: str) -> None:
        if n < 1:
            raise bad_request(f"Invalid {where}: rowCount must be at least 1")
        if n < tab.row_count:
            del tab.rows[n:]
        tab.row_count = n

    def do_setDataValidation(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        tab, r0, r1, c0, c1 = _grid(self.book, args.get("range") or {}, where)
        rule = args.get("rule")
        for r in range(r0, r1):
            for c in range(c0, c1):
                if rule is None and tab.cell(r, c) is None:
                    continue
                tab.ensure(r, c).validation = rule
        return {}

    def do_addProtectedRange(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        pr = dict(args.get("protectedRange") or {})
        gr = pr.get("range") or {}
        tab, *_ = _grid(self.book, gr, where)
        pid = int(pr.get("protectedRangeId") or self.rng.randrange(1, 2**31 - 1))
        stored: dict[str, Any] = {"protectedRangeId": pid, "range": _range_out(gr, tab)}
        if pr.get("description"):
            stored["description"] = pr["description"]
        stored["warningOnly"] = bool(pr.get("warningOnly", False))
        stored["requestingUserCanEdit"] = True
        stored["editors"] = pr.get("editors") or {}
        self.book.protected_ranges.append({**stored, "sheetId": tab.sheet_id})
        return {"addProtectedRange": {"protectedRange": stored}}

    def do_deleteProtectedRange(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        pid = int(args.get("protectedRangeId", 0))
        before = len(self.book.protected_ranges)
        self.book.protected_ranges = [
            p for p in self.book.protected_ranges if p["protectedRangeId"] != pid
        ]
        if len(self.book.protected_ranges) == before:
            raise bad_request(f"Invalid {where}: No protected range with id: {pid}")
        return {}

    def do_repeatCell(self, args: dict[str, Any], where: str) -> dict[str, Any]:  # noqa: N802
        tab, r0, r1, c0, c1 = _grid(self.book, args.get("range") or {}, where)
        if not args.get("fields"):
            raise bad_request(f"Invalid {where}: fields is required")
        cell = args.get("cell") or {}
        if "note" in cell or "note" in str(args["fields"]).split(","):
            for r in range(r0, r1):
                for c in range(c0, c1):
                    tab.ensure(r, c).note = cell.get("note") or None
        self.book.formats.append({**args, "sheetId": tab.sheet_id})
        return {}

    def do_updateCells(self, args: dict[str, Any], where: str) -> dict[str, Any]:  # noqa: N802
        if "range" in args:
            tab, r0, _, c0, _ = _grid(self.book, args["range"], where)
        else:
            start = args.get("start") or {}
            tab, r0, _, c0, _ = _grid(
                self.book,
                {
                    "sheetId": start.get("sheetId", 0),
                    "startRowIndex": start.get("rowIndex", 0),
                    "startColumnIndex": start.get("columnIndex", 0),
                },
                where,
            )
        fields = str(args.get("fields") or "")
        if not fields:
            raise bad_request(f"Invalid {where}: fields is required")
        for i, row in enumerate(args.get("rows") or []):
            for j, value in enumerate((row or {}).get("values") or []):
                if "note" in fields.split(",") or fields == "*":
                    tab.ensure(r0 + i, c0 + j).note = (value or {}).get("note") or None
        self.book.formats.append({"updateCells": args, "sheetId": tab.sheet_id})
        return {}

    def _dimension(self, args: dict[str, Any], where: str) -> tuple[Tab, str, int, int]:
        rng = args.get("range") or {}
        tab = self.book.tab_by_id(int(rng.get("sheetId", 0) or 0))
        if tab is None:
            raise bad_request(f"Invalid {where}: No grid with id: {rng.get('sheetId', 0)}")
        dim = rng.get("dimension", "ROWS")
        if dim not in ("ROWS", "COLUMNS"):
            raise bad_request(f"Invalid {where}: dimension must be ROWS or COLUMNS")
        start = int(rng.get("startIndex", 0) or 0)
        limit = tab.row_count if dim == "ROWS" else tab.col_count
        end = int(rng.get("endIndex", limit) or limit)
        if start < 0 or end <= start:
            raise bad_request(f"Invalid {where}: the range must have endIndex > startIndex")
        return tab, dim, start, end

    def do_insertDimension(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        tab, dim, start, end = self._dimension(args, where)
        limit = tab.row_count if dim == "ROWS" else tab.col_count
        if start > limit:
            raise bad_request(f"Invalid {where}: startIndex {start} is past the end of the grid")
        if dim == "ROWS":
            tab.insert_rows(start, end - start)
        else:
            tab.insert_cols(start, end - start)
        return {}

    def do_deleteDimension(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        tab, dim, start, end = self._dimension(args, where)
        limit = tab.row_count if dim == "ROWS" else tab.col_count
        if end > limit:
            raise bad_request(f"Invalid {where}: Range exceeds grid limits (max {limit})")
        if end - start >= limit:
            raise bad_request(
                f"Invalid {where}: You can't delete all the rows on the sheet."
                if dim == "ROWS"
                else f"Invalid {where}: You can't delete all the columns on the sheet."
            )
        if dim == "ROWS":
            tab.delete_rows(start, end - start)
        else:
            tab.delete_cols(start, end - start)
        return {}

    def do_appendDimension(  # noqa: N802
        self, args: dict[str, Any], where: str
    ) -> dict[str, Any]:
        tab = self.book.tab_by_id(int(args.get("sheetId", 0) or 0))
        if tab is None:
            raise bad_request(f"Invalid {where}: No grid with id: {args.get('sheetId', 0)}")
        n = int(args.get("length", 0) or 0)
        if n < 1:
            raise bad_request(f"Invalid {where}: length must be at least 1")
        if args.get("dimension", "ROWS") == "COLUMNS":
            tab.col_count += n
        else:
            tab.row_count += n
        return {}

    def do_sortRange(self, args: dict[str, Any], where: str) -> dict[str, Any]:  # noqa: N802
        tab, r0, r1, c0, c1 = _grid(self.book, args.get("range") or {}, where)
        specs = args.get("sortSpecs") or []
        sort_rows(
            tab,
            r0,
            r1,
            c0,
            c1,
            [(int(s.get("dimensionIndex", 0)), s.get("sortOrder") == "DESCENDING") for s in specs],
        )
        return {}


def sort_rows(tab: Tab, r0: int, r1: int, c0: int, c1: int, specs: list[tuple[int, bool]]) -> None:
    """Sort rows r0..r1 of columns c0..c1 by (column, descending) specs; empty cells last."""
    block = []
    for r in range(r0, r1):
        row = tab.rows[r] if r < len(tab.rows) else []
        block.append([row[c] if c < len(row) else None for c in range(c0, c1)])
    for col, descending in reversed(specs):
        idx = col - c0
        filled = [b for b in block if not _is_empty(b, idx)]
        empty = [b for b in block if _is_empty(b, idx)]
        filled.sort(key=lambda b: sort_key(b[idx]), reverse=descending)
        block = filled + empty
    for i, cells in enumerate(block):
        for j, cell in enumerate(cells):
            r, c = r0 + i, c0 + j
            if cell is None:
                if tab.cell(r, c) is not None:
                    tab.rows[r][c] = None
            else:
                tab.ensure(r, c)
                tab.rows[r][c] = cell


def _is_empty(cells: list[Any], idx: int) -> bool:
    cell = cells[idx] if 0 <= idx < len(cells) else None
    return cell is None or cell.empty


__all__ = ["ApiFailure", "BatchUpdater", "apply_fields", "parse_fields", "sort_rows", "spreadsheet"]
