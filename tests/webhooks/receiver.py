"""A real HTTP receiver for webhook tests: records every request, answers as told, counts sends in flight per path."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook as StandardWebhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def verify(self, secret: str) -> dict:
        """The body as the ``standardwebhooks`` package verifies it (raises if the signature is wrong)."""
        return StandardWebhook(secret).verify(self.body, self.headers)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a sender killed mid-request (the tests do that) is not news


class Receiver:
    """``url(path)``; ``answer(path, 503, (429, {"Retry-After": "1"}), …)`` queues answers (then 200);
    ``hold`` seconds per request; ``down()``/``up()`` stop and restart listening on the same port."""

    def __init__(self, hold: float = 0.0):
        self.requests: list[Received] = []
        self.hold = hold
        self.answers: dict[str, deque] = defaultdict(deque)
        self.inflight: dict[str, int] = defaultdict(int)
        self.max_inflight: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *answers) -> None:
        with self.lock:
            self.answers[path].extend(a if isinstance(a, tuple) else (a, {}) for a in answers)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on(path) if path else list(self.requests)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"the receiver got {len(found)} requests, not {count}, within {timeout} s")

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.connections.add(self.connection)

            def finish(self):
                with receiver.lock:
                    receiver.connections.discard(self.connection)
                super().finish()

            def do_POST(self):
                path = self.path
                with receiver.lock:
                    receiver.inflight[path] += 1
                    receiver.max_inflight[path] = max(receiver.max_inflight[path], receiver.inflight[path])
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = self.rfile.read(length)
                    if len(body) < length:  # the sender died mid-request (kill -9): nothing was delivered
                        self.close_connection = True
                        return
                    if receiver.hold:
                        time.sleep(receiver.hold)
                    with receiver.lock:
                        receiver.requests.append(
                            Received(path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                        )
                        status, headers = (
                            receiver.answers[path].popleft() if receiver.answers[path] else (200, {})
                        )
                finally:
                    with receiver.lock:
                        receiver.inflight[path] -= 1
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                text = b"" if status < 300 else f"receiver says {status}".encode()
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *_args):
                pass

        self._server = _QuietServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        """Stop listening and cut the kept-alive connections too (a sender must find it down)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            for conn in list(self.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.down()
