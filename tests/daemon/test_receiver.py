"""The webhook receiver on 127.0.0.1: every check before anything is stored (method, size,
signature, timestamp, JSON), each event stored once, 503 while it cannot store, what it logs;
and the registration: crash recovery with the recorded Idempotency-Key, strays deleted, and a
registration removed once [webhooks] leaves the config."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sheetsync.api.client import WarmySenderClient
from sheetsync.app.webhooks import EVENTS, MAX_BODY, Receiver, receiving, register
from sheetsync.clock import FakeClock
from sheetsync.config import Secret, parse_config
from sheetsync.sandbox import DEMO_KEY, Sandbox, SandboxServer
from sheetsync.sandbox.webhooks import sign
from sheetsync.state import State
from sheetsync.state.inbox import Inbox

SECRET = "whsec_test_receiver_secret_0123456789"
EVENT = {"type": "reply.received", "data": {"prospectEmail": "nia@example.com"}}


@pytest.fixture
def state_path(tmp_path: Path, clock: FakeClock) -> Path:
    path = tmp_path / "state.db"
    State(path, clock=clock).close()  # created and migrated, as the daemon does first
    return path


@pytest.fixture
def rx(state_path: Path, clock: FakeClock) -> Iterator[Receiver]:
    inbox = Inbox(state_path, busy_timeout_s=0.05)
    receiver = Receiver(inbox, "127.0.0.1", 0, clock=clock)
    receiver.secret = SECRET
    receiver.start()
    yield receiver
    receiver.close()
    inbox.close()


def stored(path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute("SELECT event_id, type, body FROM events ORDER BY seq"))
    finally:
        db.close()


def post(
    rx: Receiver,
    body: bytes,
    *,
    at_ms: int | None = None,
    secret: str = SECRET,
    event_id: str | None = "evt_1",
    signature: str | None = None,
) -> httpx.Response:
    t = at_ms if at_ms is not None else int(rx.clock.time() * 1000)
    headers = {"X-Warmy-Signature": signature or sign(secret, t, body)}
    if event_id:
        headers["X-Warmy-Event-Id"] = event_id
    with httpx.Client() as client:
        return client.post(f"http://127.0.0.1:{rx.port}/warmysender", content=body, headers=headers)


def raw(rx: Receiver, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as s:
        s.sendall(request)
        return s.recv(4096)


def test_a_signed_event_is_stored_once(rx: Receiver, state_path: Path) -> None:
    body = json.dumps(EVENT).encode()
    first = post(rx, body)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    again = post(rx, body, at_ms=int(rx.clock.time() * 1000) + 60_000)  # a retry, re-signed
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert stored(state_path) == [("evt_1", "reply.received", body.decode())]
    assert (rx.stored, rx.duplicates, rx.rejected) == (1, 1, 0)


def test_without_an_event_id_the_body_names_the_event(rx: Receiver, state_path: Path) -> None:
    body = json.dumps(EVENT).encode()
    assert post(rx, body, event_id=None).status_code == 200
    assert post(rx, body, event_id=None).json()["duplicate"] is True
    [(event_id, _, _)] = stored(state_path)
    assert event_id.startswith("sha256:")


@pytest.mark.parametrize(
    ("case", "kw"),
    [
        ("wrong secret", {"secret": "whsec_someone_else"}),
        ("stale", {"at_ms": 1_800_000_000_000 - 300_001}),
        ("from the future", {"at_ms": 1_800_000_000_000 + 300_001}),
        ("no v1", {"signature": "t=1800000000000"}),
        ("no t", {"signature": "v1=" + "0" * 64}),
        ("garbage", {"signature": "t=abc,v1=zz!!"}),
        ("not hex", {"signature": "t=1800000000000,v1=zz!!"}),
        ("two wrong v1", {"signature": "t=1800000000000,v1=00,v1=" + "f" * 64}),
    ],
)
def test_a_bad_signature_is_401_and_stores_nothing(
    rx: Receiver, state_path: Path, case: str, kw: dict[str, Any]
) -> None:
    answer = post(rx, json.dumps(EVENT).encode(), **kw)
    assert answer.status_code == 401, case
    assert stored(state_path) == [] and rx.rejected == 1


def test_the_tolerance_is_five_minutes_either_way(rx: Receiver, state_path: Path) -> None:
    now = 1_800_000_000_000
    assert post(rx, b"{}", at_ms=now - 300_000, event_id="old").status_code == 200
    assert post(rx, b"{}", at_ms=now + 300_000, event_id="new").status_code == 200
    assert [e[0] for e in stored(state_path)] == ["old", "new"]


def test_a_tampered_body_is_401(rx: Receiver, state_path: Path) -> None:
    signed = json.dumps(EVENT).encode()
    t = int(rx.clock.time() * 1000)
    answer = post(rx, signed.replace(b"nia", b"eve"), signature=sign(SECRET, t, signed))
    assert answer.status_code == 401 and stored(state_path) == []


def test_size_method_and_framing_are_checked_before_reading(rx: Receiver, state_path: Path) -> None:
    big = raw(
        rx,
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode(),
    )
    assert big.startswith(b"HTTP/1.1 413")  # answered without waiting for the body
    chunked = raw(rx, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert chunked.startswith(b"HTTP/1.1 411")
    assert raw(rx, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 411")
    with httpx.Client() as client:
        got = client.get(f"http://127.0.0.1:{rx.port}/")
    assert got.status_code == 405 and got.headers["allow"] == "POST"
    signed_not_json = post(rx, b"not json")
    assert signed_not_json.status_code == 400
    assert post(rx, b"[1, 2]").status_code == 400
    assert stored(state_path) == []


def test_before_registration_and_while_the_state_is_locked_it_is_503(
    rx: Receiver, state_path: Path
) -> None:
    body = json.dumps(EVENT).encode()
    rx.secret = None
    assert post(rx, body).status_code == 503
    rx.secret = SECRET
    lock = sqlite3.connect(state_path, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        assert post(rx, body).status_code == 503
        lock.execute("ROLLBACK")
    finally:
        lock.close()
    assert post(rx, body).status_code == 200  # WarmySender's retry gets it in
    assert len(stored(state_path)) == 1


def test_logs_never_show_secret_signature_or_body(
    rx: Receiver, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sheetsync")
    body = json.dumps(EVENT).encode()
    signature = sign(SECRET, int(clock.time() * 1000), body)
    assert post(rx, body, signature=signature).status_code == 200
    for _ in range(3):
        assert post(rx, body, secret="whsec_forged").status_code == 401
    clock.advance(61)
    assert post(rx, body, secret="whsec_forged").status_code == 401
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (SECRET, signature.split("v1=")[1], "nia@example.com", "whsec_forged"):
        assert secret not in text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "webhook request from 127.0.0.1 refused: signature does not match",
        "webhook request from 127.0.0.1 refused: signature does not match; 2 more refused "
        "in the last minute",
    ]
    assert "webhook event reply.received stored" in text


# --- registration ------------------------------------------------------------------------------


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[SandboxServer]:
    with SandboxServer(Sandbox(clock=clock)) as server:
        yield server


def client(server: SandboxServer, clock: FakeClock) -> WarmySenderClient:
    return WarmySenderClient(server.base_url, Secret(DEMO_KEY), clock=clock)


def hooks(server: SandboxServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = server.sandbox.state()["workspaces"][0]["webhooks"]
    return found


def test_a_crash_after_the_post_replays_it_and_strays_are_deleted(
    sandbox: SandboxServer, state_path: Path, clock: FakeClock
) -> None:
    url = "https://sync.example.com/warmysender"
    with client(sandbox, clock) as api, State(state_path, clock=clock) as state:
        stray = api.create_webhook(url, ["reply.received"], idempotency_key="lost-state")
        state.begin_webhook(sandbox.base_url, url, EVENTS, "webhook:crashed")
        made = api.create_webhook(url, EVENTS, idempotency_key="webhook:crashed")
        # ...and the process died before saving the answer
        reg = register(api, state, sandbox.base_url, url)
        assert reg.remote_id == made.id and made.secret is not None
        assert reg.secret == made.secret.reveal() and reg.pending_key is None
        assert [h["id"] for h in hooks(sandbox)] == [made.id]  # the stray is gone
        assert stray.id != made.id
        again = register(api, state, sandbox.base_url, url)  # a restart: nothing to do
        assert again == reg
        calls = sandbox.sandbox.state()["workspaces"][0]["requestsByEndpoint"]
        assert calls["POST /webhooks"] == 3  # the stray, the lost one, its replay
        assert "whsec" not in repr(reg)


def test_a_removed_webhooks_table_deletes_the_registration(
    sandbox: SandboxServer, tmp_path: Path, clock: FakeClock
) -> None:
    base = {
        "warmysender": {"base_url": sandbox.base_url},
        "state": {"path": str(tmp_path / "state.db")},
        "sheet": [{"name": "a", "source": "xlsx", "spreadsheet": "a.xlsx"}],
    }
    hooked = {**base, "webhooks": {"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1:9/"}}
    env = {"WARMYSENDER_API_KEY": DEMO_KEY}
    with receiving(parse_config(hooked, path=tmp_path / "s.toml", env=env), clock) as rx:
        assert rx is not None and rx.secret is not None
    assert len(hooks(sandbox)) == 1
    with receiving(parse_config(base, path=tmp_path / "s.toml", env=env), clock) as rx:
        assert rx is None
    assert hooks(sandbox) == []
    with State(tmp_path / "state.db", clock=clock) as state:
        assert state.webhook() is None
