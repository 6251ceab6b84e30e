"""A threaded HTTP server that closes at once: it remembers its open connections and shuts the
idle keep-alive ones down on close, so closing never waits for a client's timeout. The local
sandbox, the webhook receiver of `sheetsync run` and the Sheets emulator serve with it."""

from __future__ import annotations

import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any


class ClosingHTTPServer(ThreadingHTTPServer):
    daemon_threads = False  # joined on close: a request in flight finishes
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (a killed process, a closed tab) is not an error
        of the server: no traceback for it; anything else is printed as socketserver does."""
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive connections."""
        with self._open_lock:
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a server whose public URL must name its port
    before it starts (the demo's and the tests' webhook receivers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
