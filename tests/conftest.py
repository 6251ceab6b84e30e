"""Fixtures for every test folder: a throwaway PostgreSQL server, started once per run and only
when a test asks for it (sheetsync.testing.postgres), and a fresh database per test.

Without a PostgreSQL server the tests that need one are skipped with the reason; with
SHEETSYNC_REQUIRE_POSTGRES=1 (what .ci/run sets) they fail instead, so CI never passes by
skipping them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from sheetsync.testing.postgres import NoPostgres, TempPostgres

REQUIRE_ENV = "SHEETSYNC_REQUIRE_POSTGRES"
_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TempPostgres]:
    server = TempPostgres()
    try:
        server.start()
    except NoPostgres as exc:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set and no PostgreSQL could be started: {exc}")
        pytest.skip(
            f"no PostgreSQL server could be started ({exc}); install the postgresql server "
            f"package to run these tests (CI sets {REQUIRE_ENV}=1 and fails instead)"
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: TempPostgres) -> str:
    """A fresh, empty database of the throwaway server."""
    return pg_server.create_database(f"t{next(_databases)}")
