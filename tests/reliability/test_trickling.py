"""A server that trickles its answer no longer hangs `sync` or `run`.

`sheetsync sync` runs as a process against the sandbox behind a tiny socket server on 127.0.0.1
that trickles one answer a byte every 100 ms (every read succeeds, so httpx's per-read timeout
never fires): the attempt ends at `timeout_s` in total and is retried with the same key, and the
sync finishes. The daemon, stopped while a cycle is stuck, waits a grace period and then exits
(0), the cycle abandoned at its last commit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sheetsync.app.daemon import Daemon
from sheetsync.clock import SystemClock
from sheetsync.sandbox import DEMO_KEY, Sandbox
from tests.api.slow_server import RawRequest, SlowServer, answer
from tests.daemon.conftest import Failures, FakeEngine, make_config
from tests.engine.conftest import XlsxBook, default_tabs
from tests.engine.conftest import seed as engine_seed

WAIT_S = 60.0
EVERY_S = 0.1


def test_sync_gives_up_on_a_trickled_answer_at_timeout_s_and_finishes(tmp_path: Path) -> None:
    sandbox = Sandbox(engine_seed())
    trickled: list[str] = []

    def serve(req: RawRequest, conn: socket.socket) -> None:
        reply = sandbox.handle(req.method, req.target, req.headers, req.body)
        data = answer(reply.status, reply.body, reply.headers)
        if req.method == "POST" and req.target.endswith("/prospects") and not trickled:
            trickled.append(req.headers["idempotency-key"])
            server.trickle(conn, data, EVERY_S)  # ~60 s for the whole answer
            raise OSError("trickled")  # the client has gone: close this connection
        conn.sendall(data)

    with SlowServer(serve) as server:
        book = XlsxBook(tmp_path / "book.xlsx", default_tabs(2))
        cfg = tmp_path / "sheetsync.toml"
        cfg.write_text(
            f'[warmysender]\nbase_url = "{server.base_url}"\ntimeout_s = 1\n'
            f'[state]\npath = "state/state.db"\n'
            f'[[sheet]]\nname = "acme"\nsource = "xlsx"\nspreadsheet = "{book.path}"\n'
            'settle_polls = 0\ncustom_fields = ["Industry"]\n',
            encoding="utf-8",
        )
        env = {**os.environ, "WARMYSENDER_API_KEY": DEMO_KEY}
        t0 = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "sheetsync", "--config", str(cfg), "sync", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
        )
        took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    assert trickled and took < 15, took  # 1 s for the trickled attempt, then the retry
    keys = [r.headers.get("idempotency-key") for r in server.requests if r.method == "POST"]
    assert keys.count(trickled[0]) == 2  # the same write, retried with the same key
    ws = sandbox.state()["workspaces"][0]
    mine = [p["email"] for p in ws["prospects"] if p["email"].startswith("p")]
    assert sorted(mine) == ["p0@example.com", "p1@example.com"]
    assert len(ws["campaigns"][0]["enrollments"]) == 2


def test_a_stop_abandons_a_stuck_cycle_after_the_grace_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FakeEngine(SystemClock())
    engine.gates["a"] = gate = threading.Event()  # the cycle blocks until the gate opens
    daemon = Daemon(
        make_config(tmp_path, {"a": 60}),
        clock=engine.clock,
        open_sync=engine,
        identify=lambda config, sheet: "ws_1",
        on_failure=Failures(),
    )
    t = threading.Thread(target=daemon.run_forever, kwargs={"handle_signals": False,
                                                            "grace_s": 0.5})  # fmt: skip
    t.start()
    try:
        assert engine.entered.wait(WAIT_S)
        t0 = time.monotonic()
        daemon.stop()
        t.join(WAIT_S)
        took = time.monotonic() - t0
        assert not t.is_alive() and 0.4 < took < 5.0, took  # the 0.5 s grace, not the 30 s default
        assert engine.running == 1  # still stuck: abandoned, not waited for
        assert "a: the cycle in progress did not end within 0.5s" in caplog.text
    finally:
        gate.set()
        t.join(WAIT_S)


STUCK_DAEMON = """
import logging, sys, threading
from pathlib import Path
from sheetsync.app.daemon import Daemon
from tests.daemon.conftest import make_config

class Stuck:
    def __enter__(self): return self
    def __exit__(self, *exc): pass
    def cycle(self, **kw):
        print("cycle started", file=sys.stderr, flush=True)
        threading.Event().wait()  # never ends (a server that never answers)

logging.basicConfig(level=logging.INFO, format="%(message)s")
config = make_config(Path(sys.argv[1]), {"a": 60})
Daemon(config, open_sync=lambda *a: Stuck(), identify=lambda c, s: "ws_1").run_forever(
    grace_s=float(sys.argv[2]))
"""


def test_sigterm_during_a_stuck_cycle_exits_0_after_the_grace_period(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK_DAEMON, str(tmp_path), "1.0"],
        cwd=root,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "cycle started" in line:
                break
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(WAIT_S)
        took = time.monotonic() - t0
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()
    assert code == 0 and 0.9 < took < 5.0, (code, took, rest)
    assert "did not end within 1s of the stop; abandoned at its last saved step" in rest
    assert rest.rstrip().endswith("state saved in " + str(tmp_path / "state" / "state.db"))
