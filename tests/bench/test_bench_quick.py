"""The benchmark's code paths on tiny sizes, so CI proves `python bench/run.py` still runs (on
the real daemon) and its figures still mean what docs/PERFORMANCE.md says."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: `bench` imports

from bench import run  # noqa: E402


def test_the_daemons_polls_read_once_write_once_and_match_the_naive_calls() -> None:
    polls, naive = run.bench_polls(300, trace_memory=False)
    unchanged, changed = polls
    assert (unchanged["changed_rows"], changed["changed_rows"]) == (0, 3)
    assert (unchanged["sheets_reads"], unchanged["sheets_writes"], unchanged["api_calls"]) == (
        1,
        0,
        0,
    )
    assert changed["sheets_reads"] <= 2 and changed["sheets_writes"] == 1
    assert changed["api_calls"] == changed["prospects_updated"] == 3
    assert unchanged["engine_cpu_s"] <= unchanged["cpu_s"] + 0.01
    assert unchanged["peak_rss_mb"] > 0
    assert unchanged["floor_cpu_s"] >= 0 and unchanged["response_mb"] > 0
    assert 0 < unchanged["held_mb"] < 50  # the sheet's open sync between polls
    assert unchanged["setup_polls"] == 1
    # The naive baseline saw the same change and paid a request per row for it.
    assert [n["changed_rows"] for n in naive] == [0, 3]
    assert naive[1]["api_calls"] == 3 and naive[1]["sheets_requests"] == 1 + 3


def test_backlog_uses_the_minimum_calls_without_a_429() -> None:
    result: dict[str, Any] = run.bench_backlog(120, 6_000)
    assert result["finished"] and result["http_429"] == 0 and result["cycles"] == 1
    minimum = run.minimum_calls(120, 1, window_patch=True)
    assert result["minimum_calls"] == sum(minimum.values()) == 120 + 2 + 1 + 1 + 1 + 1
    for endpoint, n in minimum.items():
        assert result["calls_by_endpoint"].get(endpoint, 0) == n, endpoint
    # GET /me (the daemon finds the workspace) and GET /campaigns (one of that name exists?)
    assert result["extra_calls"] == 2
    assert result["calls_by_endpoint"]["GET /me"] == result["calls_by_endpoint"]["GET /campaigns"]


def test_sheets_sharing_a_credential_use_its_quota_without_a_429() -> None:
    result = run.bench_quota(sheets=6, rows=20, poll_seconds=5, minutes=2)
    assert result["google_429"] == 0 and result["failed_sheets"] == 0
    assert result["effective_poll_s"] == [6.0]  # 5 s x 72 reads a minute / 59.5 = 6.05 s
    assert result["budget_used"] >= 0.9 and result["steady_budget_used"] >= 0.9
    assert max(result["reads_per_minute"]) <= 60


def test_render_and_ratios() -> None:
    poll = {"rows": 10, "changed_rows": 1, "sheets_reads": 1, "sheets_writes": 1, "api_calls": 1}
    naive = {"rows": 10, "changed_rows": 1, "sheets_requests": 2, "api_calls": 1, "wall_s": 0.1}
    backlog = {
        "prospects": 1, "campaigns": 1, "rate_limit_per_min": 60, "api_calls": 6,
        "minimum_calls": 6, "wall_s": 1.0, "utilisation": 6.0, "http_429": 0,
        "first_sync_at_60_per_min": run.first_sync_at_real_limit(10_000, [{"extra_calls": 1}]),
    }  # fmt: skip
    text = run.render({"polls": [poll], "naive": [naive], "backlog": backlog})
    assert "the Google quota" not in text  # a result without the quota key still renders
    ratio_lines = text.split("naive / engine")[1].split("backlog")[0].splitlines()
    assert any(line.endswith("|   1.0") for line in ratio_lines), ratio_lines  # 2 / 2 requests
    first = backlog["first_sync_at_60_per_min"]
    assert first["engine_calls"] == first["minimum_calls"] + 1 == 10_000 + 100 + 4 + 1


@pytest.mark.parametrize(("size", "fraction", "n"), [(1000, 0.01, 10), (300, 0.0, 0), (7, 0.5, 4)])
def test_changed_rows_are_spread_and_distinct(size: int, fraction: float, n: int) -> None:
    rows = run.changed_rows(size, fraction)
    assert len(rows) == len(set(rows)) == n and all(0 <= r < size for r in rows)


def test_webhook_burst_is_acknowledged_and_projected() -> None:
    result = run.bench_webhooks(24, workers=4)
    assert result["acknowledged"] == result["stored"] == result["projected_rows"] == 24
    assert result["within_timeout"] and result["ack_max_ms"] < run.WEBHOOK_TIMEOUT_MS
    assert (result["poll_api_calls"], result["poll_sheets_writes"]) == (0, 1)
    assert "webhooks" in run.render({**_RESULT, "webhooks": result})


_RESULT: dict[str, Any] = {
    "polls": [{"rows": 1, "changed_rows": 0, "sheets_reads": 1, "sheets_writes": 0}],
    "naive": [{"rows": 1, "changed_rows": 0, "sheets_requests": 1}],
    "backlog": {
        "prospects": 1, "campaigns": 1, "rate_limit_per_min": 60, "api_calls": 6,
        "minimum_calls": 6, "wall_s": 1.0, "utilisation": 6.0, "http_429": 0,
        "first_sync_at_60_per_min": {"prospects": 1, "rate_limit_per_min": 60,
                                     "engine_calls": 1, "engine_hours": 0, "minimum_calls": 1,
                                     "minimum_hours": 0},
    },
}  # fmt: skip
