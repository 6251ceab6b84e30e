"""The naive per-row sync, built the way the common no-code recipes do it, as the baseline.

Each poll: read the Prospects tab (one values.get through gspread); compare every row with the
previous poll's copy; for each changed row make one API call (PATCH /prospects/{id} when the row
has a Prospect ID, else POST /prospects) and write that row's status cells back with one
values.update. It talks to the same emulator and sandbox as the engine, through plain gspread
and httpx.

It is a generous baseline: the Worksheet object is kept between polls (many recipes fetch the
spreadsheet metadata again every poll), and it does no settle, no retries, no batching.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gspread
import httpx

from sheetsync.clock import Clock, utc_iso
from sheetsync.testing.sheets_emulator import SheetsEmulator
from sheetsync.testing.transport import emulator_session

INPUT_HEADERS = ("Email", "First Name", "Last Name", "Company", "Role", "Industry")
STATUS_HEADERS = ("Sync Status", "Prospect ID", "Synced At")


@dataclass
class NaivePoll:
    rows: int
    changed_rows: int
    sheets_requests: int
    api_calls: int
    wall_s: float


class NaiveSync:
    """One spreadsheet's Prospects tab, synced row by row. A context manager."""

    def __init__(
        self,
        emu: SheetsEmulator,
        spreadsheet_id: str,
        *,
        token: str,
        api_base_url: str,
        api_key: str,
        clock: Clock,
    ) -> None:
        self.emu = emu
        self.clock = clock
        self.session = emulator_session(emu, token=token)
        try:
            gc = gspread.Client(auth=None, session=self.session)  # type: ignore[arg-type]
            self.ws = gc.open_by_key(spreadsheet_id).worksheet("Prospects")
        except BaseException:
            self.session.close()
            raise
        self.http = httpx.Client(
            base_url=api_base_url, headers={"Authorization": f"Bearer {api_key}"}
        )
        self.previous: dict[int, tuple[str, ...]] | None = None
        self.api_calls = 0

    def __enter__(self) -> NaiveSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()
        self.session.close()

    def poll(self) -> NaivePoll:
        """One poll; the first one only takes the copy that later polls compare with."""
        reads0, writes0 = self.emu.reads, self.emu.writes
        calls0 = self.api_calls
        t0 = time.perf_counter()
        values = self.ws.get_all_values()
        header = values[0]
        inputs = [header.index(h) for h in INPUT_HEADERS]
        status = {h: header.index(h) for h in STATUS_HEADERS}
        current = {
            n: tuple(row[i] if i < len(row) else "" for i in inputs)
            for n, row in enumerate(values[1:], start=2)
            if any(row)
        }
        changed = (
            []
            if self.previous is None
            else [n for n, cells in current.items() if self.previous.get(n) != cells]
        )
        for n in changed:
            row = values[n - 1]
            self._sync_row(n, dict(zip(INPUT_HEADERS, current[n], strict=True)), row, status)
        self.previous = current
        wall = time.perf_counter() - t0
        return NaivePoll(
            rows=len(current),
            changed_rows=len(changed),
            sheets_requests=self.emu.reads - reads0 + self.emu.writes - writes0,
            api_calls=self.api_calls - calls0,
            wall_s=round(wall, 3),
        )

    def _sync_row(
        self, n: int, cells: dict[str, str], row: list[str], status: dict[str, int]
    ) -> None:
        body: dict[str, object] = {
            "email": cells["Email"].strip().lower(),
            "firstName": cells["First Name"],
            "lastName": cells["Last Name"],
            "company": cells["Company"],
            "role": cells["Role"],
            "customFields": {"Industry": cells["Industry"]},
        }
        pid_col = status["Prospect ID"]
        pid = row[pid_col] if pid_col < len(row) else ""
        self.api_calls += 1
        if pid:
            resp = self.http.patch(f"/prospects/{pid}", json=body)
        else:
            resp = self.http.post("/prospects", json=body)
            if resp.is_success:
                pid = str(resp.json().get("id", ""))
        text = "synced" if resp.is_success else f"error: HTTP {resp.status_code}"
        first = min(status.values())
        cols = sorted(status.values())
        if cols != list(range(first, first + len(cols))):
            raise RuntimeError("the naive sync expects its status columns side by side")
        by_col = {
            status["Sync Status"]: text,
            status["Prospect ID"]: pid,
            status["Synced At"]: utc_iso(self.clock),
        }
        a1 = f"{gspread.utils.rowcol_to_a1(n, first + 1)}:"
        a1 += gspread.utils.rowcol_to_a1(n, first + len(cols))
        self.ws.update([[by_col[c] for c in cols]], a1, value_input_option="RAW")
