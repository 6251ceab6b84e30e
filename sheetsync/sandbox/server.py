"""HTTP around a Sandbox (stdlib ThreadingHTTPServer on 127.0.0.1), and `serve()` for the CLI.

The request log (logger `sheetsync.sandbox`, INFO) shows method, route template and status only:
never headers (the API key), never ids or query strings.
"""

from __future__ import annotations

import logging
import signal
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any

import click

from sheetsync.errors import ConfigError
from sheetsync.sandbox.faults import Faults
from sheetsync.sandbox.seed import demo_seed, load_seed
from sheetsync.sandbox.service import Reply, Sandbox
from sheetsync.serving import ClosingHTTPServer

log = logging.getLogger("sheetsync.sandbox")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall
    wbufsize = 64 * 1024  # one buffered write per answer, flushed by handle_one_request
    server: _HTTPServer
    _reply: Reply | None = None

    def _dispatch(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(
                Reply(
                    411,
                    b'{"error":{"code":"length_required","message":'
                    b'"send a Content-Length header"}}',
                )
            )
            self.close_connection = True
            return
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():
            self._send(
                Reply(
                    400,
                    b'{"error":{"code":"invalid_request","message":'
                    b'"Content-Length must be a whole number"}}',
                )
            )
            self.close_connection = True
            return
        length = int(raw_length)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.sandbox.handle(self.command, self.path, headers, body)
        if reply.drop:
            log.info("%s -> dropped (fault)", reply.endpoint)
            self.close_connection = True
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self._reply = reply
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _dispatch

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        endpoint = self._reply.endpoint if self._reply else self.command
        log.info("%s -> %s", endpoint, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("http: " + format, *args)


class _HTTPServer(ClosingHTTPServer):
    def __init__(self, address: tuple[str, int], sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        super().__init__(address, _Handler)


class SandboxServer:
    """Serves a Sandbox over HTTP on 127.0.0.1. Binds at construction (port 0 = any free).
    `deliver_every_s`: a background thread attempts the due webhook deliveries that often (real
    seconds; `sheetsync sandbox` uses 1). Without it deliveries run only when asked
    (`POST /_sandbox/events`, `POST /_sandbox/webhooks/deliver`, `Sandbox.deliver_due()`)."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        deliver_every_s: float | None = None,
    ) -> None:
        self.sandbox = sandbox
        self._httpd = _HTTPServer((host, port), sandbox)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._every = deliver_every_s
        self._stop = threading.Event()
        self._deliverer: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host!s}:{self.port}/api/v1"

    @property
    def root_url(self) -> str:
        """The server root, where /_sandbox/ lives."""
        return self.base_url.removesuffix("/api/v1")

    def start(self) -> None:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="sandbox-http",
                daemon=True,
            )
            self._thread.start()
        self._start_deliverer()

    def serve_forever(self) -> None:
        """Serve in this thread until close() or KeyboardInterrupt."""
        self._start_deliverer()
        self._httpd.serve_forever()

    def _start_deliverer(self) -> None:
        every = self._every
        if every is None or self._deliverer is not None:
            return

        def loop() -> None:
            while not self._stop.wait(every):
                self.sandbox.deliver_due()

        self._deliverer = threading.Thread(target=loop, name="sandbox-webhooks", daemon=True)
        self._deliverer.start()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._deliverer is not None:
            self._deliverer.join()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.drop_connections()
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(
    port: int,
    seed_path: str | None,
    rate_limit: int | None,
    latency_ms: int,
    error_rate: float,
    drop_rate: float,
) -> None:
    """`sheetsync sandbox`: print the base URL and the keys, serve until Ctrl-C, exit cleanly."""
    seed = load_seed(Path(seed_path)) if seed_path else demo_seed()
    if rate_limit is not None:
        if rate_limit < 1:
            raise ConfigError(
                "must be a positive number of requests per minute", key="--rate-limit"
            )
        for ws in seed["workspaces"]:
            ws["rateLimitPerMinute"] = rate_limit
    try:
        faults = Faults(error_rate=error_rate, drop_rate=drop_rate, latency_ms=latency_ms)
    except ValueError as exc:
        raise ConfigError("--" + str(exc).replace("_", "-", 1)) from exc
    sandbox = Sandbox(seed, faults=faults)
    try:
        server = SandboxServer(sandbox, port=port, deliver_every_s=1.0)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another with --port",
            key="--port",
        ) from exc
    click.echo(f"WarmySender sandbox at {server.base_url}")
    for ws in seed["workspaces"]:
        limit = ws["rateLimitPerMinute"]
        click.echo(f"workspace {ws['id']} ({limit} requests/min):")
        for key in ws["apiKeys"]:
            click.echo(f"  key {key['key']}  scopes: {', '.join(key['scopes']) or 'none'}")
    click.echo(f"state: GET {server.root_url}/_sandbox/state   Ctrl-C stops.")
    handler = logging.StreamHandler()  # the request log on stderr: route template and status
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)  # `kill` stops as cleanly as Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("sandbox stopped.")
    finally:
        server.close()
        log.removeHandler(handler)
