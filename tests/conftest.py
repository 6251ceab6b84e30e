"""Fixtures for every test folder: a PostgreSQL server, and an empty database per test.

The server is the one at $SHEETSYNC_TEST_DATABASE_URL (.ci/run starts a throwaway one and
stops it with a trap), else a throwaway one started here, once per run and only when a test asks
for it (sheetsync.testing.postgres.TempPostgres), stopped at the end. Without either, the tests
that need one are skipped with the reason; with SHEETSYNC_REQUIRE_POSTGRES=1 (what .ci/run sets)
they fail instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import settings

from sheetsync.testing.postgres import NoPostgres, Server, TempPostgres

# Hypothesis checks properties, not speed: no per-example deadline, which a busy CI machine
# would turn into a failure (speed is bench/'s).
settings.register_profile("sheetsync", deadline=None)
settings.load_profile("sheetsync")

REQUIRE_ENV = "SHEETSYNC_REQUIRE_POSTGRES"
URL_ENV = "SHEETSYNC_TEST_DATABASE_URL"
# one database per pytest-xdist worker (they share the server)
DATABASE = "sheetsync_tests_" + os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    given = os.environ.get(URL_ENV)
    server = Server(given) if given else TempPostgres()
    try:
        if isinstance(server, TempPostgres):
            server.start()
        server.create_database(DATABASE)
    except NoPostgres as exc:
        if isinstance(server, TempPostgres):
            server.stop()
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set and no PostgreSQL could be started: {exc}")
        pytest.skip(
            f"no PostgreSQL server could be started ({exc}); install the postgresql server "
            f"package to run these tests (CI sets {REQUIRE_ENV}=1 and fails instead)"
        )
    try:
        yield server
    finally:
        if isinstance(server, TempPostgres):
            server.stop()
        else:
            server.drop_database(DATABASE)


@pytest.fixture
def pg_url(pg_server: Server) -> str:
    """An empty database (emptied for each test: dropping and making its schema again takes a
    few milliseconds, a new database a second)."""
    url = pg_server.url(DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url
