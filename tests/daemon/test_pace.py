"""app/pace.py: the Google sheets of a daemon (or of workers) share their credential's read
quota; when they need more, every one polls evenly less often, paced for the slots its limiter
holds, and `sheetsync status` says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sheetsync.api.ratelimit import MARGIN_S
from sheetsync.app.cli import cli
from sheetsync.app.pace import QUOTA_WINDOW_S, capacity, paces, reads_per_minute, stretch_note
from sheetsync.app.worker import GOOGLE_MARGIN_S
from sheetsync.config import Config, parse_config


def config(tmp_path: Path, sheets: list[dict[str, Any]], **google: Any) -> Config:
    data = {"google": {"auth": "token", **google}, "sheet": sheets}
    return parse_config(data, path=tmp_path / "sheetsync.toml", env={})


def google(n: int, poll: int = 60) -> list[dict[str, Any]]:
    return [{"name": f"g{i}", "spreadsheet": f"sheet{i}", "poll_seconds": poll} for i in range(n)]


def test_sheets_within_the_quota_keep_their_poll_and_start_spread_out(tmp_path: Path) -> None:
    cfg = config(tmp_path, [*google(2), {"name": "x", "source": "xlsx", "spreadsheet": "x.xlsx"}])
    pace = paces(cfg, margin_s=MARGIN_S)
    assert [(p.poll_s, p.offset_s, p.stretched) for p in pace.values()] == [
        (60.0, 0.0, False),
        (60.0, 30.0, False),  # half a poll later: the two reads do not come together
        (60.0, 0.0, False),  # xlsx: not paced
    ]
    assert stretch_note(cfg, margin_s=MARGIN_S) is None


def test_a_hundred_sheets_on_one_credential_stretch_evenly_to_the_quota(tmp_path: Path) -> None:
    cfg = config(tmp_path, google(100))
    assert reads_per_minute(cfg) == 100
    pace = paces(cfg, margin_s=MARGIN_S)
    assert {round(p.poll_s, 2) for p in pace.values()} == {100.83}  # 60 s x 100 / 59.5
    assert all(p.stretched for p in pace.values())
    offsets = sorted(p.offset_s for p in pace.values())
    gaps = {round(b - a, 3) for a, b in zip(offsets, offsets[1:], strict=False)}
    assert gaps == {1.008}  # one read every 60.5 / 60 s: the quota, evenly
    used = sum(60 / p.poll_s for p in pace.values())
    assert round(used, 6) == round(capacity(cfg, margin_s=MARGIN_S), 6) and 59 < used < 60
    note = stretch_note(cfg, margin_s=MARGIN_S)
    assert note is not None and "the 100 Google sheets need 100 reads a minute" in note
    assert "g0 every 101 s instead of 60 s" in note
    more = config(tmp_path, google(100), reads_per_minute=300)  # a raised project quota
    assert stretch_note(more, margin_s=MARGIN_S) is None
    assert paces(more, margin_s=MARGIN_S)["g0"].poll_s == 60


@pytest.mark.parametrize("n", [30, 59, 60, 61, 100, 250])
def test_a_workers_pace_never_asks_for_more_reads_than_its_slots_allow(
    tmp_path: Path, n: int
) -> None:
    """Workers hold each slot of the credential's quota 60 s + GOOGLE_MARGIN_S: the reads of the
    paced polls (one each), merged, never need a slot before one is free again."""
    cfg = config(tmp_path, google(n))
    hold = QUOTA_WINDOW_S + GOOGLE_MARGIN_S
    limit = cfg.google.reads_per_minute
    pace = paces(cfg, margin_s=GOOGLE_MARGIN_S)
    assert sum(hold / p.poll_s for p in pace.values()) <= limit + 1e-9
    horizon = 20 * max(p.poll_s for p in pace.values())
    reads = sorted(
        p.offset_s + k * p.poll_s for p in pace.values() for k in range(int(horizon // p.poll_s))
    )
    # read i + limit waits for the slot read i took: it must come `hold` seconds later or more
    assert all(b - a >= hold - 1e-6 for a, b in zip(reads, reads[limit:], strict=False))
    if n > limit * QUOTA_WINDOW_S / hold:  # (the daemon's 60.5 s slots would be too few)
        assert pace["g0"].poll_s > paces(cfg, margin_s=MARGIN_S)["g0"].poll_s


def test_status_shows_each_sheets_effective_interval(tmp_path: Path) -> None:
    path = tmp_path / "sheetsync.toml"
    lines = ['[google]\nauth = "token"\n[state]\npath = "state.db"\n']
    for i in range(90):
        lines.append(f'[[sheet]]\nname = "g{i}"\nspreadsheet = "sheet{i}"\npoll_seconds = 60\n')
    path.write_text("".join(lines), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "status"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert text.count("sheetsync run polls it") == 90
    assert "91 s (poll_seconds = 60, stretched so that the Google sheets together stay" in text
