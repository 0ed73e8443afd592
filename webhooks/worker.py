"""The delivery loop: threads that claim due webhooks and deliver, woken by commits and polling in between.

``yima serve`` runs one in each server process (started after gunicorn forks) and ``yima worker``
runs one alone; any number of them on one database share the work through the leases of
``webhooks.delivery``, and never send one webhook's messages in parallel.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from registry.db import Database
from webhooks import delivery, wakeup
from webhooks.crypto import SecretBox
from webhooks.guard import Guard
from webhooks.sender import Sender
from webhooks.settings import WebhookSettings

log = logging.getLogger("yima.webhooks")

#: after delivering, look again this often (seconds) for a while: changes come in bursts, and on SQLite
#: another process's commit can only be noticed by looking (PostgreSQL's NOTIFY wakes the loop at once)
HOT_POLL, HOT_SECONDS = 0.05, 2.0
#: how long a holder that has caught up keeps its webhook, waiting for the next change (seconds)
LINGER = 1.0
#: an idle loop looks at most this often (seconds) however many commits wake it, one of its threads at a
#: time: under a stream of writes (hundreds of events a second) each commit would otherwise cost every
#: loop thread a query, taken from the requests; a lone change after a quiet spell is still looked at at
#: once, and a thread that has just delivered looks again at once (for another webhook with work)
IDLE_GAP = 0.05


class DeliveryLoop:
    """``threads`` holders in this process; ``start``/``stop`` for a background loop, ``run_once`` for cron."""

    def __init__(
        self, database: Database, settings: WebhookSettings, *, threads: int = 2, name: str = "worker"
    ):
        self.db = database
        self.settings = settings
        self.ctx = delivery.Context(
            database, settings, Sender(settings, Guard(settings.allow)), SecretBox(settings.key_path)
        )
        self.threads = max(1, threads)
        self.name = name
        self._threads: list[threading.Thread] = []
        self.delivered = 0
        self._count_lock = threading.Lock()
        #: when an idle thread of this loop may look next (``_turn_to_look``)
        self._next_look = 0.0
        self._look_lock = threading.Lock()

    def owner(self, n: int) -> str:
        """This holder's name in the lease column: which process and thread holds a webhook."""
        return f"{self.name}@{socket.gethostname()}:{os.getpid()}:{n}:{uuid.uuid4().hex[:8]}"[:120]

    def start(self) -> None:
        """Start the holder threads (daemons) and, on PostgreSQL, the listener for other processes' commits."""
        wakeup.listen(self.db.url)
        for n in range(self.threads):
            thread = threading.Thread(
                target=self._run, args=(self.owner(n),), name=f"yima-deliver-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info("delivery loop started (%s threads, %s)", self.threads, self.db.dialect)

    def stop(self, timeout: float | None = None) -> None:
        """Finish the sends in flight, release the leases, and return (within about the send timeout)."""
        self.ctx.stopping.set()
        wakeup.SIGNAL.poke()
        deadline = time.monotonic() + (self.settings.timeout + 5 if timeout is None else timeout)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self.ctx.sender.close()
        log.info("delivery loop stopped (%s delivered)", self.delivered)

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _turn_to_look(self) -> float:
        """0 if this idle thread may look now (the loop's next look is then ``IDLE_GAP`` away), else how
        long until it may."""
        with self._look_lock:
            now = time.monotonic()
            wait = self._next_look - now
            if wait <= 0:
                self._next_look = now + IDLE_GAP
            return max(wait, 0.0)

    def _run(self, owner: str) -> None:
        active, idle = 0.0, False
        while not self.ctx.stopping.is_set():
            seen = wakeup.SIGNAL.version
            if idle:  # its last look found nothing: one look per gap for the whole loop
                wait = self._turn_to_look()
                if (
                    wait > 0
                ):  # woken again right after a look (its own or another thread's): let the burst gather
                    self.ctx.stopping.wait(wait)
                    continue
            try:
                sent = delivery.deliver_one(self.ctx, owner, LINGER)
            except Exception:  # a database outage must not end the loop: log, wait, try again
                log.exception("delivery loop: an attempt failed; retrying in %s s", self.settings.poll)
                self.ctx.stopping.wait(max(self.settings.poll, 1.0))
                continue
            idle = sent is None
            if idle:
                hot = time.monotonic() - active < HOT_SECONDS
                wakeup.SIGNAL.wait(seen, min(HOT_POLL, self.settings.poll) if hot else self.settings.poll)
            else:
                active = time.monotonic()
                self._count(sent)

    def run_once(self) -> int:
        """Deliver everything due now, in this thread, then return how many messages were delivered."""
        owner, total = self.owner(0), 0
        while not self.ctx.stopping.is_set():
            sent = delivery.deliver_one(self.ctx, owner)
            if sent is None:
                break
            total += sent
        self._count(total)
        return total

    def _count(self, n: int) -> None:
        with self._count_lock:
            self.delivered += n
