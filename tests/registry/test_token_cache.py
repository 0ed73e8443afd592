"""Token checks remembered per process on PostgreSQL (``registry.token_cache``): a live token is
answered without a query, and any change to ``api_token`` — through the service, another process, or
plain SQL — is refused at once afterwards. SQLite asks every time, on each thread's own connection."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, event, text

from registry import token_cache
from registry.db import Database, thread_reader
from registry.tokens import create_token, identify, revoke_token


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    yield db
    db.dispose()


def _queries(engine) -> list[str]:
    """Each time the database is asked from here on (``identify`` takes a pooled driver connection
    for its one statement, which SQLAlchemy's statement events do not see): one item per checkout."""
    seen: list[str] = []
    event.listen(engine, "checkout", lambda *_: seen.append("api_token"))
    return seen


def _listening(db: Database) -> token_cache.TokenCache:
    cache = token_cache.for_engine(db.engine)
    deadline = time.monotonic() + 10
    while not cache.connected:
        assert time.monotonic() < deadline, "the token listener did not connect"
        time.sleep(0.02)
    return cache


def _refused_within(db: Database, secret: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while identify(db.engine, secret) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _new_token(db: Database, name: str) -> str:
    with db.writer() as s:
        _, secret = create_token(s, name, "viewer", actor="test")
    return secret


SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@SQLITE
def test_sqlite_asks_the_database_every_time(database):
    """Each check is a statement on the thread's own connection (``db.thread_reader``), not a pooled one."""
    secret = _new_token(database, "r1")
    statements: list[str] = []
    thread_reader(database.engine).set_trace_callback(statements.append)  # opened: its one checkout
    checkouts = _queries(database.engine)
    assert identify(database.engine, secret)[0] == "r1"
    assert identify(database.engine, secret)[0] == "r1"
    assert len([q for q in statements if "api_token" in q]) == 2
    assert checkouts == []
    assert token_cache.for_engine(database.engine) is None


@SQLITE
def test_sqlite_readers_are_each_threads_own_and_closed_with_the_engine(database, tmp_path):
    mine = thread_reader(database.engine)
    assert thread_reader(database.engine) is mine
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(thread_reader(database.engine)))
    worker.start()
    worker.join()
    assert theirs[0] is not mine
    database.dispose()
    with pytest.raises(sqlite3.ProgrammingError):  # closed with the engine
        mine.execute("SELECT 1")
    with pytest.raises(sqlite3.ProgrammingError):
        theirs[0].execute("SELECT 1")
    # a new engine (perhaps at the disposed one's address) gets a connection to its own file
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        files = [row[2] for row in thread_reader(other.engine).execute("PRAGMA database_list")]
        assert files == [str(tmp_path / "other.db")]
    finally:
        other.dispose()


@SQLITE
def test_sqlite_refuses_a_token_revoked_by_another_process_at_once(database):
    """Another process (here plain SQL on a connection of its own) revokes: the next check refuses."""
    secret = _new_token(database, "r1")
    assert identify(database.engine, secret)[0] == "r1"
    other = create_engine(database.url)
    with other.begin() as conn:
        conn.execute(text("UPDATE api_token SET revoked = 1 WHERE name = 'r1'"))
    other.dispose()
    assert identify(database.engine, secret) is None


@POSTGRESQL
def test_postgresql_answers_a_live_token_from_memory(database):
    cache = _listening(database)
    generation = cache.generation
    secret = _new_token(database, "r1")
    deadline = time.monotonic() + 5
    while cache.generation == generation:  # the notification of the token's own creation
        assert time.monotonic() < deadline, "the token's creation was not heard"
        time.sleep(0.005)
    queries = _queries(database.engine)
    assert identify(database.engine, secret) == ("r1", "viewer", None)
    assert identify(database.engine, secret) == ("r1", "viewer", None)
    assert len([q for q in queries if "api_token" in q]) == 1
    # an unknown secret is never remembered: asked about every time
    assert identify(database.engine, "yima_nope") is None
    assert identify(database.engine, "yima_nope") is None
    assert len([q for q in queries if "api_token" in q]) == 3


@POSTGRESQL
def test_postgresql_revocation_through_the_service_holds_at_once(database):
    _listening(database)
    secret = _new_token(database, "r1")
    assert identify(database.engine, secret) is not None
    with database.writer() as s:
        revoke_token(s, "r1", actor="test")
    assert identify(database.engine, secret) is None


@POSTGRESQL
@pytest.mark.parametrize("change", ["revoke", "role", "delete", "truncate"])
def test_postgresql_a_change_made_elsewhere_is_heard(database, database_url, change):
    """Another process (here: another engine, plain SQL, no Yima code) changes the token: the trigger's
    notification voids this process's memory, so the old answer is not given again."""
    _listening(database)
    secret = _new_token(database, "r1")
    assert identify(database.engine, secret) == ("r1", "viewer", None)
    statements = {
        "revoke": "UPDATE api_token SET revoked = true WHERE name = 'r1'",
        "role": "UPDATE api_token SET role = 'admin' WHERE name = 'r1'",
        "delete": "DELETE FROM api_token WHERE name = 'r1'",
        "truncate": "TRUNCATE api_token CASCADE",
    }
    other = create_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(text(statements[change]))
    finally:
        other.dispose()
    if change == "role":
        deadline = time.monotonic() + 5
        while identify(database.engine, secret)[1] != "admin":
            assert time.monotonic() < deadline, "the role change was not heard"
            time.sleep(0.01)
    else:
        assert _refused_within(database, secret, 5), "the change was not heard"


@POSTGRESQL
def test_postgresql_without_its_listener_every_check_asks(database, database_url):
    """The listener's connection is killed: until it listens again nothing is answered from memory, so a
    revocation made meanwhile (whose notification nobody heard) still holds."""
    cache = _listening(database)
    secret = _new_token(database, "r1")
    assert identify(database.engine, secret) is not None
    other = create_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN yima_tokens%'"
                )
            )
        deadline = time.monotonic() + 5
        while cache.connected:  # the listener notices within a second
            assert time.monotonic() < deadline, "the listener did not notice its connection's end"
            time.sleep(0.005)
        with other.begin() as conn:  # nobody listens: this notification is lost
            conn.execute(text("UPDATE api_token SET revoked = true WHERE name = 'r1'"))
    finally:
        other.dispose()
    assert identify(database.engine, secret) is None  # asked, not remembered
    _listening(database)  # listening again: and still refused
    assert identify(database.engine, secret) is None
