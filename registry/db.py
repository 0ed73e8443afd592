"""SQLAlchemy 2 engine, sessions and the declarative base for SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
import weakref
from collections.abc import Iterator

from sqlalchemy import JSON, MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from registry import token_cache

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every Yima model; its metadata is what Alembic compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict: JSON, list: JSON}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


#: how long a SQLite statement waits for a lock held by another connection (YIMA_SQLITE_BUSY_TIMEOUT)
DEFAULT_BUSY_TIMEOUT_MS = 30_000
#: connections kept per engine, and opened beyond them under a burst (closed again when handed back).
#: SQLite too: with SQLAlchemy's default (5 + 10) a server's request threads, its token checks and its
#: delivery loop kept opening and closing overflow connections (each open runs four PRAGMAs). A thread
#: waiting in intake's group commit holds none (the batch's leader writes on its own connection): a
#: server's 32 threads under an intake burst use a handful
POOL_SIZE, POOL_OVERFLOW = 10, 20


def make_engine(url: str, *, sqlite_busy_timeout: int = DEFAULT_BUSY_TIMEOUT_MS, **kwargs) -> Engine:
    """Create an engine with Yima's connection rules.

    SQLite: foreign keys on, WAL, a busy timeout (``sqlite_busy_timeout`` ms: past it a write fails
    with "database is locked", answered 503, instead of hanging), and transactions begun by us so that
    a write transaction can take the write lock up front (``BEGIN IMMEDIATE``) and never fork the
    audit chain. PostgreSQL: psycopg 3 (``postgresql+psycopg://``).
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": sqlite_busy_timeout / 1000}
        if make_url(url).database not in (None, "", ":memory:") and "poolclass" not in kwargs:
            kwargs = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, **kwargs}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, sqlite_busy_timeout)
    else:
        if "poolclass" not in kwargs:
            kwargs = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, **kwargs}
        engine = create_engine(url, **kwargs)
        _ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


#: PostgreSQL: a pooled connection idle for longer than this (seconds) is pinged before it is handed out
IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: Engine, idle: float) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections that sat idle: a connection back in the pool a
    moment ago is handed out as it is (a busy server would otherwise pay a round trip on every
    checkout, several per request), one idle longer is pinged and, if the server restarted or dropped
    it, replaced (``DisconnectionError`` makes the pool connect anew). A connection that dies between
    pings fails its next statement instead, which is answered 503 and invalidates the pool's older
    connections, so the request after it connects afresh."""

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy):
        last = record.info.get("yima_checked_in")
        if last is None or time.monotonic() - last < idle:
            return  # just connected, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("a pooled connection failed its ping") from exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        record.info["yima_checked_in"] = time.monotonic()


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("yima_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


#: SQLite: each thread's own read connection per engine (``thread_reader``), and every one opened per engine
_READERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_READERS_GUARD = threading.Lock()
_READER_OF_THREAD = threading.local()


def thread_reader(engine: Engine):
    """A SQLite file's DBAPI connection of this thread's own, for small reads on a hot path (the token
    check of every request), or None (PostgreSQL, an in-memory database).

    Why not a pooled connection: under a write load each read starts by emptying the connection's page
    cache (another connection changed the file), and a pooled connection's cache holds what the writes
    it served last read: measured under 32-thread intake, a token check on a pooled connection took
    160 µs of CPU (checkout and check-in 90), on a connection of its own 32. Each answer still comes
    from the database (autocommit: the latest commit), so nothing is remembered that could go stale.
    Closed with the engine (``Database.dispose``) or when the engine is gone."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    mine = getattr(_READER_OF_THREAD, "conns", None)
    if mine is None:
        mine = _READER_OF_THREAD.conns = {}
    found = mine.get(id(engine))
    if (
        found is not None
        and found[0]() is engine
        and found[2] == os.getpid()
        and found[1] in _READERS.get(engine, ())
    ):
        return found[1]
    for key, (ref, conn, pid) in list(mine.items()):  # a disposed or collected engine's: closed now
        if ref() is None or conn not in _READERS.get(ref(), ()):
            del mine[key]
            if pid == os.getpid():
                conn.close()
    fairy = engine.raw_connection()  # the engine's connect rules (WAL, busy timeout), then out of its pool
    fairy.detach()
    conn = fairy.dbapi_connection
    with _READERS_GUARD:
        _READERS.setdefault(engine, {})[conn] = os.getpid()
    mine[id(engine)] = (weakref.ref(engine), conn, os.getpid())
    return conn


def close_thread_readers(engine: Engine) -> None:
    """The engine is being disposed: close every thread's reader of it (a thread holding one opens anew)."""
    with _READERS_GUARD:
        opened = _READERS.pop(engine, {})
    for conn, pid in opened.items():
        if pid == os.getpid():  # never one a forked parent opened
            conn.close()


class Database:
    """One engine and its two session factories: reads, and writes that serialize on the audit head."""

    def __init__(self, url: str, *, sqlite_busy_timeout: int = DEFAULT_BUSY_TIMEOUT_MS, **engine_kwargs):
        self.url = url
        self.engine = make_engine(url, sqlite_busy_timeout=sqlite_busy_timeout, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self.engine.execution_options(yima_write=True), expire_on_commit=False)

    def session(self) -> Session:
        """A session for reading (and for writes that do not mind taking the lock late)."""
        return self._read()

    @contextlib.contextmanager
    def writer(self) -> Iterator[Session]:
        """A session for one write: the caller commits; an exception rolls everything back."""
        session = self._write()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        token_cache.stop(self.engine)
        close_thread_readers(self.engine)
        self.engine.dispose()
