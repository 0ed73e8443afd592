"""The production WSGI server behind ``yima serve``: gunicorn with threaded workers (never Flask's dev server).

gunicorn rather than waitress because waitress re-capitalises header names (``X-Content-Sha256``),
and the contract's clients read ``ETag``, ``X-Content-SHA256`` and ``X-Audit-Head`` as written.
"""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from registry.config import Config
from web.app import create_app
from webhooks.settings import WebhookSettings
from webhooks.worker import DeliveryLoop


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


def run(
    config: Config,
    *,
    host: str,
    port: int,
    threads: int = 8,
    workers: int = 1,
    timeout: int = 300,
    deliver: bool = True,
) -> None:
    """Serve until interrupted. Request bodies are limited by the app (``YIMA_MAX_CONTENT_LENGTH``).
    With ``deliver`` each worker process also runs a webhook delivery loop."""
    config = config.with_secret()  # one key for every worker
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
            "errorlog": "-",
            "loglevel": "info",
            "limit_request_line": 8190,
            "proc_name": "yima",
            # several servers may run on one machine (tests, benchmarks): no shared control socket
            "control_socket_disable": True,
        },
    ).run()
