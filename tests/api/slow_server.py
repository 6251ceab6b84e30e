"""A tiny HTTP server on 127.0.0.1 for answers that httpx's MockTransport cannot give: ones that
trickle in byte by byte, or flood. Each request goes to `serve(request, conn)`, which writes the
raw answer to the socket (helpers below); set `stop` to end every trickle at once."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType


@dataclass
class RawRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes


Serve = Callable[[RawRequest, socket.socket], None]


class SlowServer:
    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.stop = threading.Event()
        self.sent = 0  # bytes written by trickle() and flood()
        self.requests: list[RawRequest] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                try:
                    while not outer.stop.is_set():
                        request = read_request(conn)
                        if request is None:
                            return
                        outer.requests.append(request)
                        outer.serve(request, conn)
                except OSError:
                    return  # the client gave up and closed the connection

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/v1"

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    # --- ways to answer -------------------------------------------------------------------------

    def trickle(self, conn: socket.socket, data: bytes, every_s: float) -> None:
        """`data` one byte at a time, `every_s` apart (until `stop`)."""
        for i in range(len(data)):
            conn.sendall(data[i : i + 1])
            self.sent += 1
            if self.stop.wait(every_s):
                return

    def flood(self, conn: socket.socket, status: int, size: int) -> None:
        """An answer of `size` bytes (a JSON string), written as fast as the client reads it."""
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
        conn.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode())
        chunk = b"x" * 65536
        left = size
        while left > 0 and not self.stop.is_set():
            part = chunk[: min(left, len(chunk))]
            conn.sendall(part)
            self.sent += len(part)
            left -= len(part)


def answer(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_request(conn: socket.socket) -> RawRequest | None:
    data = b""
    while b"\r\n\r\n" not in data:
        part = conn.recv(65536)
        if not part:
            return None
        data += part
    head, rest = data.split(b"\r\n\r\n", 1)
    first, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = first.split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines)}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        part = conn.recv(65536)
        if not part:
            return None
        rest += part
    return RawRequest(method, target, headers, rest[:length])
