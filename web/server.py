"""The production WSGI server behind ``yima serve``: gunicorn with threaded workers (never Flask's dev server).

gunicorn rather than waitress because waitress re-capitalises header names (``X-Content-Sha256``),
and the contract's clients read ``ETag``, ``X-Content-SHA256`` and ``X-Audit-Head`` as written.

What gunicorn refuses before Yima sees a request (a request line over 8190 bytes, a header over
``SERVER_MAX_HEADER_BYTES``, more than 100 headers, raw non-ASCII bytes in the URL) it answers itself;
``_json_error`` makes that answer the contract's JSON error shape instead of gunicorn's HTML page.
"""

from __future__ import annotations

import inspect
import json
import logging
import socket
import time
import traceback

import gunicorn.util
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.config import AccessLogFormat
from werkzeug.http import HTTP_STATUS_CODES

from registry.config import Config
from web.app import create_app
from webhooks.settings import WebhookSettings
from webhooks.worker import DeliveryLoop

#: gunicorn's own limit on one header: above Yima's (``web.api.common.MAX_HEADER_BYTES``), so that a
#: header between the two reaches Yima, which answers 431 in the error shape of the page asked for
SERVER_MAX_HEADER_BYTES = 65536
#: gunicorn's upper bound for the request line (method, URL and version)
SERVER_MAX_REQUEST_LINE = 8190
SERVER_MAX_HEADERS = 100

_HINTS = {
    400: " (a URL must be ASCII: percent-encode other characters as UTF-8, e.g. 编码 → %E7%BC%96%E7%A0%81)",
    414: f" (the request line is limited to {SERVER_MAX_REQUEST_LINE} bytes: send long inputs in a POST body)",
    431: f" (at most {SERVER_MAX_HEADERS} headers of {SERVER_MAX_HEADER_BYTES} bytes each)",
}


class _Server(BaseApplication):
    def __init__(self, config: Config, options: dict):
        self.yima_config = config
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # older gunicorn versions lack some settings
                self.cfg.set(key, value)

    def load(self):
        return create_app(self.yima_config)


def check_port(host: str, port: int) -> None:
    """Raise OSError (with a sentence a person can act on) unless ``host:port`` can be listened on now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise OSError(
                f"cannot listen on {host}:{port}: {reason}"
                + (" (is another server running there? choose another --port)" if port else "")
            ) from None


def _json_error(sock, status_int, reason, mesg):
    """gunicorn's ``util.write_error``, answering in the contract's error shape (JSON) instead of HTML."""
    body = json.dumps(
        {
            "code": status_int,
            "status": HTTP_STATUS_CODES.get(status_int, reason),
            "message": f"{mesg or reason}{_HINTS.get(status_int, '')}",
        },
        ensure_ascii=False,
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


def _answer_server_errors_in_json() -> None:
    # gunicorn has no setting for its error page; its workers call ``util.write_error`` by module
    # attribute, so it is replaced here, in the server process only, if its signature is still the one known
    params = list(inspect.signature(gunicorn.util.write_error).parameters)
    if params == ["sock", "status_int", "reason", "mesg"] and hasattr(gunicorn.util, "write_nonblock"):
        gunicorn.util.write_error = _json_error


class AccessLog(glogging.Logger):
    """gunicorn's logger with the default access line written directly: the same text, a tenth of the time.

    gunicorn's ``access()`` builds a dict of every atom, every request and response header and every
    environ entry, copies it to escape quotes, and logs through ``Logger.info`` (which walks the stack to
    find its caller): 6–12 % of the worker's time at the GIL under intake. For the default
    ``access_log_format`` this formats its nine fields (quotes escaped as gunicorn does) and hands the
    record to the same ``gunicorn.access`` logger's handlers. Any other format, or no access log, goes
    through gunicorn's own ``access()`` unchanged."""

    def access(self, resp, req, environ, request_time):
        if self.cfg.access_log_format != AccessLogFormat.default:
            return super().access(resp, req, environ, request_time)
        log = self.access_log
        if not self.access_log_enabled or not log.isEnabledFor(logging.INFO):
            return None
        try:
            log.handle(
                logging.LogRecord(log.name, logging.INFO, __file__, 0, self._line(resp, environ), None, None)
            )
        except Exception:
            self.error(traceback.format_exc())
        return None

    def _line(self, resp, environ) -> str:
        """The default format's atoms as gunicorn's ``atoms()`` fills them, in its order."""
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        atoms = (
            environ.get("REMOTE_ADDR", "-"),
            "-",
            self._get_user(environ) or "-",
            self._now(),
            f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            status,
            "-" if sent is None else str(sent),
            environ.get("HTTP_REFERER", "-"),
            environ.get("HTTP_USER_AGENT", "-"),
        )
        return _DEFAULT_LINE % tuple(_escaped(atom) for atom in atoms)

    _stamp: tuple[int, str] = (-1, "")

    def _now(self) -> str:
        """gunicorn's ``now()`` (the CLF date), computed once a second."""
        second = int(time.time())
        if self._stamp[0] != second:
            self._stamp = (second, self.now())
        return self._stamp[1]


#: ``AccessLogFormat.default`` with each ``%(x)s`` as a positional ``%s`` (``AccessLog._line``'s order)
_DEFAULT_LINE = '%s %s %s %s "%s" %s %s "%s" "%s"'


def _escaped(value):
    """What gunicorn's ``SafeAtoms`` does to a string atom: ``"`` becomes ``\\"``."""
    return value.replace('"', '\\"') if isinstance(value, str) else value


# --- webhooks (issue 16): one delivery loop per worker process, started after the fork ------------
_loops: list[DeliveryLoop] = []


def _start_delivery(worker) -> None:
    """gunicorn ``post_worker_init``: this worker's delivery loop (threads do not survive a fork, so never
    before it); the loops of all workers and of any ``yima worker`` share the webhooks through leases."""
    yima = worker.wsgi.extensions["yima"]
    logger = logging.getLogger("yima.webhooks")
    for handler in worker.log.error_log.handlers:  # its state changes in the server's log, one line each
        if handler not in logger.handlers:
            logger.addHandler(handler)
    loop = DeliveryLoop(yima.db, WebhookSettings.from_config(yima.config), threads=2, name="serve")
    loop.start()
    _loops.append(loop)


def _stop_delivery(_arbiter, _worker) -> None:
    """gunicorn ``worker_exit``: finish the sends in flight and release the leases."""
    while _loops:
        _loops.pop().stop(timeout=8)  # within gunicorn's graceful_timeout (10 s); a lease left behind expires


# --- end webhooks ------------------------------------------------------------------------------


#: request threads per worker process. 32, not gunicorn's usual handful: intake's group commit writes the
#: events of the requests in flight together, so more threads make fewer, larger transactions — on
#: PostgreSQL (whose per-transaction statements and round trips are what an event costs beyond SQLite's)
#: 32 threads gave 0.64–0.72x the client's ceiling against 0.48–0.59x with 8, in the same rounds (SQLite:
#: no change); a long-poll of the change feed holds a thread while it waits (docs/operations.md)
THREADS = 32


def run(
    config: Config,
    *,
    host: str,
    port: int,
    threads: int = THREADS,
    workers: int = 1,
    timeout: int = 300,
    deliver: bool = True,
) -> None:
    """Serve until interrupted. Request bodies are limited by the app (``YIMA_MAX_CONTENT_LENGTH``).
    With ``deliver`` each worker process also runs a webhook delivery loop."""
    config = config.with_secret()  # one key for every worker
    _answer_server_errors_in_json()
    _Server(
        config,
        {
            **({"post_worker_init": _start_delivery, "worker_exit": _stop_delivery} if deliver else {}),
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "timeout": timeout,
            "graceful_timeout": 10,
            "accesslog": "-",
            "logger_class": AccessLog,
            "errorlog": "-",
            "loglevel": "info",
            "limit_request_line": SERVER_MAX_REQUEST_LINE,
            "limit_request_field_size": SERVER_MAX_HEADER_BYTES,
            "limit_request_fields": SERVER_MAX_HEADERS,
            "proc_name": "yima",
            # several servers may run on one machine (tests, benchmarks): no shared control socket
            "control_socket_disable": True,
        },
    ).run()
