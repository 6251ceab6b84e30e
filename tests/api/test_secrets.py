"""The API key never shows: not in reprs, exception texts, or DEBUG logs of any logger."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from sheetsync.api import WarmySenderClient
from sheetsync.errors import ApiError, AuthError

from .conftest import KEY, Wire


def test_repr_hides_the_key(client: WarmySenderClient) -> None:
    assert KEY not in repr(client)
    assert KEY not in str(client)
    assert "127.0.0.1" in repr(client)


def test_logs_and_errors_never_show_the_key(
    client: WarmySenderClient, wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wire.add(200, {"apiKey": {"id": "k"}, "workspace": {"id": "ws"}})
    wire.add(500, {"error": {"code": "internal", "message": f"boom for {KEY}"}})
    wire.fail(httpx.RemoteProtocolError, "Server disconnected without sending a response.")
    wire.add(201, {"data": {"id": "p1", "email": "a@x.io"}})
    wire.add(401, {"error": {"code": "unauthorized", "message": f"key {KEY} is revoked"},
                   "message": KEY})  # fmt: skip
    client.me()
    client.create_prospect({"email": "a@x.io"}, idempotency_key="k1")
    with pytest.raises(AuthError) as info:
        client.get_campaign("c1")
    shown = [str(info.value), repr(info.value), "".join(traceback.format_exception(info.value))]
    shown += [r.getMessage() for r in caplog.records]
    assert not [text for text in shown if KEY in text]
    assert "key *** is revoked" in str(info.value)
    ours = [r.getMessage() for r in caplog.records if r.name == "sheetsync.api"]
    assert ours[0].startswith("GET /me -> 200 in ")
    assert "POST /prospects -> 500 in " in ours[1]
    assert "POST /prospects -> RemoteProtocolError" in ours[2]
    assert "GET /campaigns/{id} -> 401" in ours[-1]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "sheetsync.api")


def test_transport_errors_are_wrapped_without_the_key(
    client: WarmySenderClient, wire: Wire
) -> None:
    for _ in range(8):
        wire.fail(httpx.ConnectError, "[Errno 111] Connection refused")
    with pytest.raises(ApiError) as info:
        client.list_campaigns()
    assert KEY not in "".join(traceback.format_exception(info.value))
    assert "Connection refused" in str(info.value)
