"""The state API on both stores (SQLite and PostgreSQL), then what only PostgreSQL has: several
processes creating the schema at once, the per-sheet cycle lock, READ ONLY for `plan`, and the
copy of a SQLite state (`sheetsync state migrate`)."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from sheetsync.app.cli import cli
from sheetsync.app.lock import SheetLock
from sheetsync.app.logs import secrets_of
from sheetsync.clock import FakeClock
from sheetsync.config import Secret, parse_config
from sheetsync.errors import SheetBusy, StateError
from sheetsync.state import SCHEMA_VERSION, Intent, Item, State
from sheetsync.state.base import Store
from sheetsync.state.migrations import MIGRATIONS
from sheetsync.state.postgres import PostgresState, open_postgres
from sheetsync.testing.postgres import Server
from tests.postgres.fleet import wait_until

Opener = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Opens the same state again and again (each call is a new process's view of it)."""
    if request.param == "sqlite":
        return lambda **kw: State(tmp_path / "state.db", **kw)
    url = Secret(request.getfixturevalue("pg_url"))
    return lambda **kw: open_postgres(url, **kw)


def sql(store: Store, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """A raw query on either store (`?` placeholders)."""
    if isinstance(store, State):
        return store.db.execute(query, params).fetchall()
    with store.pool.connection() as conn:  # type: ignore[attr-defined]
        cur = conn.execute(query.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []  # type: ignore[no-any-return]


def test_created_migrated_and_reopened(store: Opener) -> None:
    with store(clock=FakeClock()) as s:
        assert s.version == SCHEMA_VERSION
        s.put("a", Item("prospects", "x@y.io", hash="h1", status="synced", data={"n": 1}))
        s.put("a", Item("prospects", "x@y.io", hash="h2", status="synced", data={"n": 2}))
    with store() as s:
        it = s.items("a", "prospects")["x@y.io"]
        assert (it.hash, it.status, it.data, it.settle) == ("h2", "synced", {"n": 2}, 0)
        assert s.items("b", "prospects") == {}
        assert s.known("a") and not s.known("b")


def test_a_newer_schema_is_refused(store: Opener) -> None:
    with store() as s:
        sql(s, "INSERT INTO migrations VALUES (?, 'later')", SCHEMA_VERSION + 1)
    with pytest.raises(StateError, match="newer sheetsync"):
        store()


def test_intents_survive_until_resolved_and_runs_are_kept(store: Opener) -> None:
    with store(clock=FakeClock(), worker="host-a:7") as s:
        first = s.add_intent(
            "a",
            Intent(
                0,
                "create_prospect",
                {"key": "x"},
                "create-prospect:1",
                "POST /prospects",
                "/prospects",
                b'{"email":"x"}',
            ),
        )
        s.add_intent("a", Intent(0, "enroll", {"rows": {}}, "enroll:2"))
        s.add_intent("b", Intent(0, "enroll", {"rows": {}}, "enroll:3"))
    with store(clock=FakeClock(), worker="host-a:7") as s:
        pending = s.pending_intents("a")
        assert [(i.op, i.body, i.idempotency_key, i.content) for i in pending] == [
            ("create_prospect", {"key": "x"}, "create-prospect:1", b'{"email":"x"}'),
            ("enroll", {"rows": {}}, "enroll:2", None),
        ]
        assert pending[0] == first
        s.update_intent(dataclasses.replace(pending[1], idempotency_key="enroll:2b"))
        assert s.pending_intents("a")[1].idempotency_key == "enroll:2b"
        s.resolve_intent(first.id)
        assert [i.op for i in s.pending_intents("a")] == ["enroll"]
        s.record_run("a", {"errors": 0, "duration_s": 2.5})
        s.record_failure("a", "WarmySender refused the key")
        assert [r.ok for r in s.recent_runs("a")] == [False, True]
        assert s.recent_runs("a", 1)[0].message == "WarmySender refused the key"
        failure = s.last_failure("a")
        assert failure is not None and failure.message == "WarmySender refused the key"
        assert s.last_failure("b") is None
        rows = sql(s, "SELECT worker, started, finished FROM runs ORDER BY id")
        start = FakeClock().time()
        assert rows == [("host-a:7", start - 2.5, start), ("host-a:7", None, start)]


def test_run_ids_tell_a_process_that_another_ran_the_sheet(store: Opener) -> None:
    """What a kept SheetSync relies on: record_run returns the id that last_run_id reports
    until another run or failure of the sheet is recorded, by any process."""
    with store() as mine, store() as other:
        assert mine.last_run_id("a") == 0
        ran = mine.record_run("a", {"errors": 0})
        assert ran > 0 and mine.last_run_id("a") == other.last_run_id("a") == ran
        other.record_run("b", {"errors": 0})  # another sheet: no news for "a"
        assert mine.last_run_id("a") == ran
        later = other.record_run("a", {"errors": 0})
        assert later > ran and mine.last_run_id("a") == later
        other.record_failure("a", "the sheet was not found")
        assert mine.last_run_id("a") > later


def test_written_names_the_rows_this_store_put_once(store: Opener) -> None:
    with store() as s, store() as other:
        s.put("a", Item("prospects", "x@y.io"))
        s.put("a", Item("campaigns", "q1"))
        s.put("b", Item("prospects", "x@y.io"))
        s.put_outcomes("a", {"x@y.io|q1": ("opened", "2026-11-29T10:00:00Z")})
        other.put("a", Item("prospects", "z@y.io"))  # another process's: not this store's news
        assert s.written("a") == {
            ("prospects", "x@y.io"), ("campaigns", "q1"), ("enrollments", "x@y.io|q1"),
        }  # fmt: skip
        assert s.written("a") == set()  # said once
        assert s.written("b") == {("prospects", "x@y.io")}


def test_one_transaction_commits_all_or_nothing(store: Opener) -> None:
    with store() as s:
        intent = s.add_intent("a", Intent(0, "create_prospect", {"key": "k1"}, "key:1")).id
        with pytest.raises(KeyboardInterrupt), s.transaction():
            s.put("a", Item("prospects", "k1", status="synced"))
            with s.transaction():  # nested: joins the outer one
                s.resolve_intent(intent)
            raise KeyboardInterrupt("killed before the outcome was stored")
        assert s.items("a", "prospects") == {}
        assert [i.id for i in s.pending_intents("a")] == [intent]
        with s.transaction():
            s.put("a", Item("prospects", "k1", status="synced"))
            s.resolve_intent(intent)
    with store() as s:
        assert s.items("a", "prospects")["k1"].status == "synced"
        assert s.pending_intents("a") == []


def test_statuses_by_prefix_in_the_same_order(store: Opener) -> None:
    with store() as s:
        for role, key, status in [
            ("prospects", "b@x.io", "error: bad"),
            ("prospects", "B@x.io", "error: worse"),
            ("campaigns", "sheet:Q1", "held: 12 unenrolls"),
            ("prospects", "a@x.io", "synced"),
            ("enrollments", "a@x.io|Q1", "error: no campaign"),
        ]:
            s.put("a", Item(role, key, status=status))
        found = [(i.role, i.key) for i in s.statuses("a", "error:")]
        assert found == [
            ("enrollments", "a@x.io|Q1"),
            ("prospects", "B@x.io"),
            ("prospects", "b@x.io"),
        ]
        assert [i.key for i in s.statuses("a", "held:")] == ["sheet:Q1"]


def test_outcomes_marks_events_and_the_webhook_registration(store: Opener) -> None:
    with store(clock=FakeClock()) as s:
        assert s.webhook() is None and s.events_after(0) == []
        s.begin_webhook("https://api", "https://hook", ("email.opened",), "webhook:k1")
        pending = s.webhook()
        assert pending is not None and (pending.pending_key, pending.remote_id) == (
            "webhook:k1",
            None,
        )
        s.finish_webhook("wh_1", "whsec_x")
        done = s.webhook()
        assert done is not None and (done.remote_id, done.secret, done.pending_key) == (
            "wh_1",
            "whsec_x",
            None,
        )
        s.forget_webhook()
        assert s.webhook() is None
        for n, at in enumerate(("2027-01-01T00:00:00Z", "2027-01-02T00:00:00Z")):
            sql(s, "INSERT INTO events (event_id, type, body, received_at) VALUES (?, ?, ?, ?)",
                f"ev{n}", "email.opened", "{}", at)  # fmt: skip
        assert [e.event_id for e in s.events_after(0)] == ["ev0", "ev1"]
        first = s.events_after(0)[0].seq
        assert [e.event_id for e in s.events_after(first)] == ["ev1"]
        s.prune_events("2027-01-02T00:00:00Z")
        assert [e.event_id for e in s.events_after(0)] == ["ev1"]
        s.set_mark("a", "events", "7")
        s.set_mark("a", "events", "8")
        with pytest.raises(KeyboardInterrupt), s.transaction():
            s.set_mark("a", "events", "9")
            raise KeyboardInterrupt
        assert (s.mark("a", "events"), s.mark("b", "events")) == ("8", None)
        s.set_mark("a", "events", None)
        assert s.mark("a", "events") is None
        s.put_outcomes("a", {"k1": ("sent", "t1"), "k2": ("opened", "t2")})
        s.put_outcomes("a", {"k1": ("replied", "t3")})
        assert s.outcomes("a") == {"k1": ("replied", "t3"), "k2": ("opened", "t2")}
        assert s.outcomes("b") == {}


def test_a_version_1_state_is_migrated_with_its_rows(store: Opener, tmp_path: Path) -> None:
    with store() as s:  # bring it back to version 1, as an older sheetsync left it
        later = ["webhook", "events", "outcomes", "marks"]
        if not isinstance(s, State):
            later += ["rate_limits", "workers", "engine"]
        for table in ("items", "intents", "runs", *later):
            sql(s, f"DROP TABLE {table}")
        sql(s, "DELETE FROM migrations WHERE version > 1")
        first = MIGRATIONS[0].sqlite if isinstance(s, State) else MIGRATIONS[0].postgres
        for stmt in first.split(";"):
            if stmt.strip():
                sql(s, stmt)
        sql(s, "INSERT INTO runs (sheet, at, ok, report) VALUES ('a', 'then', 1, '{}')")
    with store() as s:
        assert s.version == SCHEMA_VERSION
        assert sql(s, "SELECT sheet, at, worker FROM runs") == [("a", "then", None)]


# --- PostgreSQL only ------------------------------------------------------------------------


def test_workers_starting_together_create_the_schema_once(pg_url: str) -> None:
    url = Secret(pg_url)
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def first_start() -> None:
        try:
            start.wait()
            open_postgres(url).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=first_start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT version FROM migrations ORDER BY version").fetchall()
    assert rows == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_one_cycle_of_a_sheet_at_a_time_and_the_lock_dies_with_its_holder(pg_url: str) -> None:
    url = Secret(pg_url)
    holder = open_postgres(url)
    other = open_postgres(url)
    try:
        with holder.exclusive("acme"):
            with pytest.raises(SheetBusy, match="'acme' is in a cycle on another worker"):
                with other.exclusive("acme"):
                    pass
            with other.exclusive("globex"):  # another sheet is free
                other.put("globex", Item("prospects", "k"))
            holder.put("acme", Item("prospects", "k"))  # on the held connection
        with other.exclusive("acme"):
            pass
    finally:
        holder.close()
    # a process killed mid-cycle: its session, and the lock, go with it
    code = (
        "import sys, time\n"
        "from sheetsync.config import Secret\n"
        "from sheetsync.state.postgres import open_postgres\n"
        "s = open_postgres(Secret(sys.argv[1]))\n"
        "with s.exclusive('acme'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        with pytest.raises(SheetBusy):
            with other.exclusive("acme"):
                pass
        proc.kill()
        proc.wait(10)
        # The server ends the dead client's session (and frees its lock) a moment after
        # the socket closes, not in step with wait(): the lock is free once it has.
        wait_until(lambda: lock_is_free(other, "acme"), "the killed holder's lock freed")
        with other.exclusive("acme"):
            assert set(other.items("acme", "prospects")) == {"k"}
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
        other.close()


def lock_is_free(state: PostgresState, sheet: str) -> bool:
    try:
        with state.exclusive(sheet):
            return True
    except SheetBusy:
        return False


def test_read_only_writes_nothing_and_reads_an_empty_database_as_empty(pg_url: str) -> None:
    url = Secret(pg_url)
    with open_postgres(url, read_only=True) as ro:
        assert ro.items("a", "prospects") == {} and not ro.known("a")
        assert ro.pending_intents("a") == [] and ro.recent_runs("a") == []
    with psycopg.connect(pg_url) as conn:  # nothing was created
        assert conn.execute("SELECT to_regclass('migrations')").fetchone() == (None,)
    with open_postgres(url) as rw:
        rw.put("a", Item("prospects", "k", status="synced"))
    with open_postgres(url, read_only=True) as ro:
        assert ro.items("a", "prospects")["k"].status == "synced"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            ro.put("a", Item("prospects", "k2"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM migrations WHERE version = %s", (SCHEMA_VERSION,))
    with pytest.raises(StateError, match="start a worker .* once to migrate it"):
        open_postgres(url, read_only=True)


def test_an_unreachable_server_is_one_clear_line_without_the_password(pg_server: Server) -> None:
    url = Secret(pg_server.url("nosuchdb").replace("postgres@", "postgres:s3cr3t-pw@", 1))
    with pytest.raises(StateError) as err:
        open_postgres(url)
    text = str(err.value)
    assert "s3cr3t-pw" not in text and "postgres:***@" in text
    assert 'database "nosuchdb" does not exist' in text and "\n" not in text


def make_sqlite_state(path: Path) -> None:
    with State(path, clock=FakeClock(), worker="old-host:1") as s:
        s.put("acme", Item("prospects", "a@x.io", hash="h", status="synced", remote_id="p_1"))
        s.put("acme", Item("campaigns", "sheet:Q1", data={"wanted": "running"}))
        s.add_intent(
            "acme",
            Intent(
                0,
                "create_prospect",
                {"key": "b@x.io"},
                "create-prospect:b",
                "POST /prospects",
                "/prospects",
                b'{"email":"b@x.io"}',
            ),
        )
        done = s.add_intent("acme", Intent(0, "enroll", {"rows": {}}, "enroll:1"))
        s.add_intent("acme", Intent(0, "enroll", {"rows": {"b@x.io|Q1": {}}}, "enroll:2"))
        s.resolve_intent(done.id)
        s.put_outcomes("acme", {"a@x.io|Q1": ("opened", "2027-01-01T00:00:00Z")})
        s.set_mark("acme", "rest:prospects", '{"cursor": "c2"}')
        s.set_mark("acme", "events", "41")  # a position in this file's events: not copied
        s.record_run("acme", {"duration_s": 1.0, "errors": 0})
        s.record_failure("acme", "Google said no")
        s.put("globex", Item("prospects", "c@x.io"))


def test_state_migrate_copies_everything_pending_intents_first(tmp_path: Path, pg_url: str) -> None:
    make_sqlite_state(tmp_path / "state.db")
    (tmp_path / "sheetsync.toml").write_text(
        '[state]\npath = "state.db"\n[[sheet]]\nname = "acme"\nsource = "xlsx"\n'
        'spreadsheet = "a.xlsx"\n',
        encoding="utf-8",
    )
    args = ["--config", str(tmp_path / "sheetsync.toml"), "state", "migrate", "--to", pg_url]
    with SheetLock(tmp_path / "state.db", "acme", command="run"):
        refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "`sheetsync run` is already writing sheet 'acme'" in (
        refused.output
    )
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert "2 pending intents, 3 rows, 2 runs, 1 Outcomes, 1 marks (sheets: acme, globex)" in (
        done.output
    )
    with open_postgres(Secret(pg_url)) as pg, State(tmp_path / "state.db") as lite:
        for sheet in ("acme", "globex"):
            for role in ("prospects", "campaigns"):
                mine = {k: vars(v) | {"data": v.data} for k, v in pg.items(sheet, role).items()}
                theirs = {k: vars(v) | {"data": v.data} for k, v in lite.items(sheet, role).items()}
                assert mine == theirs

        def pending(s: Store) -> list[tuple[Any, ...]]:
            return [(i.op, i.body, i.idempotency_key, i.content) for i in s.pending_intents("acme")]

        assert pending(pg) == pending(lite) and len(pending(pg)) == 2
        assert pg.recent_runs("acme") == lite.recent_runs("acme")
        assert sql(pg, "SELECT worker FROM runs ORDER BY id") == [("old-host:1",)] * 2
        assert pg.outcomes("acme") == {"a@x.io|Q1": ("opened", "2027-01-01T00:00:00Z")}
        assert (pg.mark("acme", "rest:prospects"), pg.mark("acme", "events")) == (
            '{"cursor": "c2"}',
            None,
        )
    again = CliRunner().invoke(cli, args)  # nothing is merged or overwritten
    assert again.exit_code == 2
    assert "already holds sheet 'acme', 'globex'; nothing was copied" in again.output


def test_state_migrate_needs_a_state_file_and_a_postgresql_url(tmp_path: Path) -> None:
    (tmp_path / "sheetsync.toml").write_text(
        '[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "a.xlsx"\n', encoding="utf-8"
    )
    base = ["--config", str(tmp_path / "sheetsync.toml"), "state", "migrate", "--to"]
    wrong = CliRunner().invoke(cli, [*base, "mysql://x"])
    assert wrong.exit_code == 2 and "--to must be a postgresql:// URL" in wrong.output
    missing = CliRunner().invoke(cli, [*base, "postgresql://x@/y"])
    assert missing.exit_code == 2 and "no SQLite state at" in missing.output
    assert "Traceback" not in missing.output


def test_sqlite_v1_files_written_before_the_worker_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE migrations (version INTEGER PRIMARY KEY, applied_at TEXT);"
        + MIGRATIONS[0].sqlite
        + ";INSERT INTO migrations VALUES (1, 'then');"
    )
    db.close()
    with State(path) as s:
        assert s.version == SCHEMA_VERSION


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://postgres:s3cr%zz-pw@/nosuchdb?host={host}",  # libpq quotes the bad token
        "postgresql:///nosuchdb?host={host}&user=postgres&password=s3cr%zz-pw",
        "postgresql://postgres:s3cr%zz-pw@h[ost/db",  # not even a valid URL to Python
    ],
)
def test_a_malformed_url_is_one_clear_line_without_the_password(
    pg_server: Server, template: str
) -> None:
    host = pg_server.url().partition("host=")[2] or "127.0.0.1"
    url = template.format(host=host)
    with pytest.raises(StateError) as err:
        open_postgres(Secret(url))
    assert "s3cr%zz-pw" not in str(err.value) and "***" in str(err.value)
    sheet = {"name": "a", "source": "xlsx", "spreadsheet": "a.xlsx"}
    config = parse_config({"state": {"url": url}, "sheet": [sheet]}, path=Path("/x/s.toml"), env={})
    assert "s3cr%zz-pw" in secrets_of(config)  # the log redacts it


def test_a_user_that_may_not_create_tables_gets_one_clear_line(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS lowly")
        conn.execute("CREATE ROLE lowly LOGIN PASSWORD 'lowly-pw'")
    lowly = pg_url.replace("postgres@", "lowly:lowly-pw@", 1)
    with pytest.raises(StateError) as err:  # no USAGE on the (new) public schema
        open_postgres(Secret(lowly))
    assert "no schema has been selected to create in" in str(err.value)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("GRANT USAGE ON SCHEMA public TO lowly")
    with pytest.raises(StateError) as err:  # USAGE, no CREATE
        open_postgres(Secret(lowly))
    text = str(err.value)
    assert "permission denied for schema public" in text and "GRANT USAGE, CREATE" in text
    assert "lowly-pw" not in text and "\n" not in text
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        conn.execute("DROP ROLE lowly")
