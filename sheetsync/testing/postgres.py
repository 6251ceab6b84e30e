"""PostgreSQL for the tests and the benchmarks. `Server(url)`: one that is already running (CI
starts its own, see .ci/run). `TempPostgres`: a throwaway one, `initdb` into a temporary folder,
listening on a unix socket in that folder only (no TCP), fsync off; `stop()` (or leaving the
`with` block) stops it at once and removes the folder.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user (the
one the Debian package creates). `NoPostgres` says why no server could be started (no
PostgreSQL installed, no `postgres` user, initdb or start failed, with the log's last lines).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import psycopg

START_TIMEOUT_S = 60


class NoPostgres(Exception):
    """No server could be started here; the message says why."""


def find_bindir() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, else the newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


class Server:
    """A running server; `url(dbname)` reaches one of its databases as a superuser."""

    def __init__(self, url: str) -> None:
        self._url = url

    def url(self, dbname: str = "postgres") -> str:
        return urlsplit(self._url)._replace(path=f"/{dbname}").geturl()

    def create_database(self, name: str) -> str:
        """A new empty database (in place of any of that name); its URL."""
        try:
            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
                conn.execute(f'CREATE DATABASE "{name}"'.encode())
        except psycopg.Error as exc:
            raise NoPostgres(f"cannot create a database at {self.url()}: {exc}") from None
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


class TempPostgres(Server):
    def __init__(self) -> None:
        super().__init__("")
        self.dir: Path | None = None
        self._as: list[str] = []

    def __enter__(self) -> TempPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise NoPostgres("no PostgreSQL server is installed (initdb not found)")
        self.dir = Path(tempfile.mkdtemp(prefix="sheetsync-pg-"))
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                self.stop()
                raise NoPostgres("running as root needs a `postgres` user for the server") from None
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.dir / "data"
        settings = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        steps = [
            [str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C", "--no-sync"],
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"),
             "-w", "-t", str(START_TIMEOUT_S), "-o", settings, "start"],
        ]  # fmt: skip
        for cmd in steps:
            try:
                done = subprocess.run(
                    self._as + cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S + 10
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.stop()
                raise NoPostgres(f"{Path(cmd[0]).name} could not run: {exc}") from None
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                log = self.dir / "server.log"
                if log.exists():
                    tail += log.read_text(errors="replace").strip().splitlines()[-3:]
                self.stop()
                raise NoPostgres(f"{Path(cmd[0]).name} failed: {' / '.join(tail)}")
        self._url = f"postgresql://postgres@/postgres?host={self.dir}"

    def stop(self) -> None:
        if self.dir is None:
            return
        data = self.dir / "data"
        bindir = find_bindir()
        if bindir is not None and (data / "postmaster.pid").exists():
            subprocess.run(
                [*self._as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=START_TIMEOUT_S,
            )
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
