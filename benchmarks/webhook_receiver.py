"""The benchmark's webhook receiver, in a process of its own: ``python -m benchmarks.webhook_receiver PORT CONTROL_PORT``.

It answers every POST 200 (HTTP/1.1, kept alive) and records when each message arrived and how many
were in flight at once. On CONTROL_PORT: ``GET /stats``, ``POST /down`` (stop listening and cut the
connections: the receiver is down), ``POST /up``, ``POST /reset``.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.arrivals: list[tuple[int, float]] = []
        self.inflight = 0
        self.max_inflight = 0
        self.connections: set[socket.socket] = set()

    def reset(self):
        with self.lock:
            self.arrivals, self.max_inflight = [], 0


STATE = State()


class Quiet(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        pass


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with STATE.lock:
            STATE.connections.add(self.connection)

    def finish(self):
        with STATE.lock:
            STATE.connections.discard(self.connection)
        super().finish()

    def do_POST(self):
        with STATE.lock:
            STATE.inflight += 1
            STATE.max_inflight = max(STATE.max_inflight, STATE.inflight)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        arrived = time.time()
        seq = int(self.headers.get("webhook-id", "msg_0_0").split("_")[2])
        with STATE.lock:
            STATE.arrivals.append((seq, arrived))
            STATE.inflight -= 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args):
        pass


class Receiver:
    def __init__(self, port: int):
        self.port = port
        self.server = None
        self.up()

    def up(self):
        if self.server is None:
            self.server = Quiet(("127.0.0.1", self.port), Hook)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with STATE.lock:
            for conn in list(STATE.connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def control(receiver: Receiver):
    class Control(BaseHTTPRequestHandler):
        def do_GET(self):
            with STATE.lock:
                body = json.dumps({"arrivals": STATE.arrivals, "max_inflight": STATE.max_inflight}).encode()
            self._answer(body)

        def do_POST(self):
            {"/down": receiver.down, "/up": receiver.up, "/reset": STATE.reset}[self.path]()
            self._answer(b"{}")

        def _answer(self, body: bytes):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    return Control


def main(argv: list[str]) -> None:
    receiver = Receiver(int(argv[0]))
    ThreadingHTTPServer(("127.0.0.1", int(argv[1])), control(receiver)).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
