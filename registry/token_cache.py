"""Token checks remembered per process on PostgreSQL, forgotten the moment any process changes a token.

Every API request names its token; checking it is one query — on PostgreSQL a round trip, a sizeable
part of a one-code validation. So each process remembers the answers it has given (live tokens only:
an unknown secret is asked about again every time, and cannot fill the memory), and forgets all of them
whenever ``api_token`` changes: migration 0013's trigger sends ``NOTIFY yima_tokens`` from the
transaction that changed it, which PostgreSQL delivers when that transaction commits, to every
process, this one included.

The rules that keep a revocation holding (REFERENCE.md, several processes on one PostgreSQL):

- the cache answers only while this process's listener is connected and LISTENing; before that, after
  its connection drops, and until it has listened again, every check goes to the database, and
  reconnecting forgets everything (what changed meanwhile was not heard);
- an answer read from the database is kept only if no notification arrived while it was being read
  (a generation counter), so a revocation that commits during the read is never papered over;
- the listener asks its connection a question every ``PING_SECONDS`` of silence, so a connection that
  died quietly is noticed, and every answer is forgotten after ``TTL_SECONDS`` regardless.

A revocation therefore holds everywhere within the notification's delivery (milliseconds; the
two-process test measures it), and at worst within ``TTL_SECONDS``. SQLite: no cache (a local query).
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy.engine import Engine

log = logging.getLogger("yima.tokens")

CHANNEL = "yima_tokens"
TTL_SECONDS = 60.0
PING_SECONDS = 10.0
#: live tokens remembered at most (past it, everything is forgotten and the cache fills again)
MAX_ENTRIES = 10_000


class TokenCache:
    """The answers of one database's token checks in this process, and the listener that voids them."""

    def __init__(self, dsn: str, name: str):
        self._dsn = dsn  # holds the password: never logged
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, tuple]] = {}
        self.generation = 0
        self.connected = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name=f"yima-tokens-{name}", daemon=True)
        self._thread.start()

    def get(self, digest: str) -> tuple | None:
        if not self.connected:
            return None
        found = self._entries.get(digest)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, digest: str, answer: tuple, generation: int) -> None:
        """Keep ``answer`` unless the cache was voided since ``generation`` was read (before the query)."""
        with self._lock:
            if not self.connected or generation != self.generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + TTL_SECONDS, answer)

    def void(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()

    def stop(self) -> None:
        """Stop listening (within a second) and answer nothing more from memory."""
        self._stop.set()
        self.connected = False
        self.void()

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.void()  # whatever changed while nobody listened
                    self.connected = not self._stop.is_set()
                    backoff, quiet_since = 0.5, time.monotonic()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.void()
                            quiet_since = time.monotonic()
                        if time.monotonic() - quiet_since > PING_SECONDS:
                            conn.execute("SELECT 1")  # a connection that died quietly raises here
                            quiet_since = time.monotonic()
            except Exception as exc:  # psycopg.Error, OSError: the thread must go on
                self.connected = False
                self.void()
                if self._stop.is_set():
                    break
                log.warning("token listener: connection lost (%s); reconnecting", exc.__class__.__name__)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.connected = False


_CACHES: dict[str, TokenCache] = {}
_CACHES_LOCK = threading.Lock()


def for_engine(engine: Engine) -> TokenCache | None:
    """This process's cache for the engine's database (started on first use), or None (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    url = engine.url
    key = url.render_as_string(hide_password=False)
    found = _CACHES.get(key)
    if found is None:
        with _CACHES_LOCK:
            found = _CACHES.get(key)
            if found is None:
                dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
                found = _CACHES[key] = TokenCache(dsn, url.database or "")
    return found


def stop(engine: Engine) -> None:
    """The engine is being disposed: stop its database's listener in this process (if one runs)."""
    with _CACHES_LOCK:
        found = _CACHES.pop(engine.url.render_as_string(hide_password=False), None)
    if found is not None:
        found.stop()


def void_all() -> None:
    """Forget every answer in this process (a token changed here: do not wait for the notification)."""
    for cache in list(_CACHES.values()):
        cache.void()
