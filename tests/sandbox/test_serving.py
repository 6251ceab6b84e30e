"""serving.ClosingHTTPServer, which the sandbox, the webhook receiver and the Sheets emulator
serve with: a client that goes away mid-answer prints no traceback; other errors still do."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from sheetsync.serving import ClosingHTTPServer


def test_a_client_that_went_away_is_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    server = ClosingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        for exc in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(104, "reset")):
            try:
                raise exc
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capsys.readouterr().err == ""
        try:
            raise ValueError("a bug in a handler")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        assert "ValueError: a bug in a handler" in capsys.readouterr().err
    finally:
        server.server_close()
