"""bench/workers.py's code paths on tiny sizes: the overlaps it finds in the run records, and
the store comparison on both stores (the fleet and failover runs start worker processes for
minutes: they stay in the benchmark)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `bench` imports

from bench import workers  # noqa: E402
from sheetsync.testing.postgres import Server  # noqa: E402


def test_overlaps_are_cycles_of_one_sheet_running_at_once() -> None:
    def record(sheet: str, worker: str, started: float, finished: float, ok: bool = True) -> Any:
        return workers.RunRecord(sheet, worker, ok, started, finished, None, None)

    records = [
        record("a", "w0", 0.0, 1.0),
        record("a", "w1", 0.9, 2.0),  # starts before the previous one ended: one overlap
        record("a", "w0", 2.0, 3.0),  # starts as it ended: none
        record("b", "w1", 0.5, 1.5),  # another sheet at the same time: none
        record("a", "w1", 2.5, 2.6, ok=False),  # a failure has no cycle to overlap
    ]
    assert workers.overlaps(records) == [(records[0], records[1])]


def test_the_store_comparison_runs_on_both_stores(pg_server: Server) -> None:
    rows = workers.bench_store(pg_server, 200)
    assert [(r["store"], r["changed_rows"], r["api_calls"]) for r in rows] == [
        ("sqlite", 0, 0), ("sqlite", 2, 2), ("postgresql", 0, 0), ("postgresql", 2, 2),
    ]  # fmt: skip
    assert all(r["engine_cpu_s"] >= 0 and r["wall_s"] > 0 for r in rows)
