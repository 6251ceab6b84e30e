"""Fixtures for every test folder: a throwaway PostgreSQL server, started once per run and only
when a test asks for it (sheetsync.testing.postgres), and a fresh database per test.

Without a PostgreSQL server the tests that need one are skipped with the reason; with
SHEETSYNC_REQUIRE_POSTGRES=1 (what .ci/run sets) they fail instead, so CI never passes by
skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from sheetsync.testing.postgres import NoPostgres, TempPostgres

REQUIRE_ENV = "SHEETSYNC_REQUIRE_POSTGRES"


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


@pytest.fixture(scope="session")
def _pg_database(pg_server: TempPostgres) -> str:
    return pg_server.create_database("sheetsync_tests")


@pytest.fixture
def pg_url(_pg_database: str) -> str:
    """An empty database of the throwaway server (emptied for each test: dropping and making
    its schema again takes a few milliseconds, a new database a second)."""
    with psycopg.connect(_pg_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return _pg_database
