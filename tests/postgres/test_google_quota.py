"""Google's per-credential quota, shared by the workers: two workers reading sheets of the same
credential keep to one read budget between them, so Google (the emulator, which enforces the
per-user quota) never answers 429."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sheetsync.app.worker import Runtime
from sheetsync.clock import FakeClock
from sheetsync.config import Secret, parse_config
from sheetsync.sheet.connect import open_source
from sheetsync.state.postgres import connect_pool, open_postgres
from sheetsync.testing.sheets_emulator import SheetsEmulator
from tests.engine.conftest import TOKEN, default_tabs

QUOTA = 5  # reads a minute


@pytest.fixture
def emu() -> Iterator[tuple[SheetsEmulator, FakeClock]]:
    clock = FakeClock()
    emulator = SheetsEmulator(clock=clock, tokens={TOKEN}, read_quota_per_min=QUOTA)
    emulator.start()
    yield emulator, clock
    emulator.close()


def test_two_workers_keep_to_one_read_quota_per_credential(
    tmp_path: Path, pg_url: str, emu: tuple[SheetsEmulator, FakeClock]
) -> None:
    emulator, clock = emu
    sheets = [
        {"name": f"s{i}", "source": "google", "spreadsheet": emulator.create_spreadsheet(tabs)}
        for i, tabs in enumerate([default_tabs(), default_tabs()])
    ]
    config = parse_config(
        {
            "google": {"auth": "token", "sheets_base_url": emulator.base_url,
                       "reads_per_minute": QUOTA},
            "state": {"url": pg_url},
            "sheet": sheets,
        },
        path=tmp_path / "s.toml",
        env={"SHEETSYNC_GOOGLE_TOKEN": TOKEN},
    )  # fmt: skip
    open_postgres(Secret(pg_url)).close()
    pools = [connect_pool(Secret(pg_url)) for _ in range(2)]
    sources = []
    try:
        workers = [Runtime(config, f"w{i}", pool, clock=clock) for i, pool in enumerate(pools)]
        for worker, sheet in zip(workers, config.sheets, strict=True):
            sources.append(
                open_source(sheet, config.google, clock=clock, quota=worker.google_quota())
            )
        for _ in range(6):
            for source in sources:
                source.read(["Prospects"])
    finally:
        for source in sources:
            source.close()
        for pool in pools:
            pool.close()
    # 2 x (metadata once + 6 reads) = 14 reads at 5 a minute: every one answered the first time
    assert emulator.reads == 14
    assert [s.waits for s in sources] == [[], []]  # no backoff after a 429
    assert clock.slept >= 2 * 60
