"""Wake-ups: a delivery loop or a long-poll waiting for changes is woken as soon as one commits.

In this process, every session commit pokes ``SIGNAL`` (a SQLAlchemy ``after_commit`` listener,
registered here on import, so ``registry`` needs no change). Across processes on PostgreSQL, a
transaction of a writer session (``Database.writer``), or one that wrote an audit entry through its
session, also runs ``pg_notify`` before it commits (delivered only if it commits), and each waiting
process keeps one autocommit connection that LISTENs and pokes its ``SIGNAL``. A notification is only a hint: after a reconnect the listener pokes
once so waiters catch up from their cursors, and every waiter also polls, so a missed notification
(or SQLite, which has no NOTIFY) costs at most one poll interval.
"""

from __future__ import annotations

import logging
import threading
import time

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session

from registry.audit import CHANGES_CHANNEL, NOTIFIED, AuditEntry

log = logging.getLogger("yima.webhooks")

CHANNEL = CHANGES_CHANNEL
_WROTE = "yima_wrote_change"
_AUDIT_TABLE = AuditEntry.__table__
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', '')")


class ChangeSignal:
    """A counter that moves on every change seen; ``wait`` sleeps until it moves past what the caller saw."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0

    def poke(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until ``version != seen`` or ``timeout`` seconds pass; returns the version now."""
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen, timeout)
            return self.version


#: one per process: a poke for another database's change only makes a waiter look once more
SIGNAL = ChangeSignal()


def mark(session: Session) -> None:
    """Have other processes woken when ``session`` commits (for a change that writes no audit entry)."""
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_audit_insert(state: ORMExecuteState) -> None:
    if state.is_insert and getattr(state.statement, "table", None) is _AUDIT_TABLE:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    wrote = session.info.pop(_WROTE, False)
    if session.info.pop(NOTIFIED, False):  # queued with the entries (``audit.record_raw``)
        return
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # a writer session (``Database.writer``) counts as a change too: the lineage intake writes its
    # audit entries on the driver's cursor (``audit.record_raw``), which no session event sees
    if wrote or bind.get_execution_options().get("yima_write"):
        session.execute(_NOTIFY)  # transactional: sent on commit, dropped on rollback


@event.listens_for(Session, "after_commit")
def _wake_this_process(_session: Session) -> None:
    SIGNAL.poke()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_WROTE, None)
    session.info.pop(NOTIFIED, None)


# --- the listener (PostgreSQL) ----------------------------------------------------------------

_listeners: dict[str, _Listener] = {}
_listeners_lock = threading.Lock()


def listen(database_url: str) -> None:
    """Make sure this process hears other processes' changes to ``database_url`` (PostgreSQL; a no-op on SQLite)."""
    url = make_url(database_url)
    if not url.drivername.startswith("postgres"):
        return
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with _listeners_lock:
        if dsn not in _listeners or not _listeners[dsn].is_alive():
            _listeners[dsn] = _Listener(dsn, url.database or "")
            _listeners[dsn].start()


class _Listener(threading.Thread):
    """LISTEN on a dedicated autocommit connection, poking ``SIGNAL`` per notification; reconnects forever."""

    def __init__(self, dsn: str, name: str):
        super().__init__(name=f"yima-listen-{name}", daemon=True)
        self._dsn = dsn  # holds the password: never logged
        self.connected = threading.Event()

    def run(self) -> None:
        backoff = 0.5
        while True:
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.connected.set()
                    SIGNAL.poke()  # whatever committed while nobody listened: waiters re-read their cursors
                    backoff = 0.5
                    while True:
                        for _ in conn.notifies(timeout=30.0):
                            SIGNAL.poke()
            except psycopg.Error as exc:
                self.connected.clear()
                log.warning("change listener: connection lost (%s); reconnecting", exc.__class__.__name__)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
