"""Wake-ups: a commit wakes this process's waiters; on PostgreSQL it NOTIFYs other processes, a rollback does not."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from catalog import organizations
from registry import audit
from registry.db import Database
from webhooks import wakeup


@pytest.fixture
def database(database_url):
    found = Database(database_url)
    yield found
    found.dispose()


def test_a_commit_moves_this_processes_signal(database):
    before = wakeup.SIGNAL.version
    with database.writer() as s:
        organizations.create(s, {"code": "W1", "name": "唤醒", "kind": "contractor"}, actor="test")
    assert wakeup.SIGNAL.wait(before, 0.0) != before


def test_on_postgresql_a_committed_change_notifies_other_processes_and_a_rolled_back_one_does_not(
    database, database_url
):
    if not database_url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's; SQLite waiters poll")
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {wakeup.CHANNEL}")
        with pytest.raises(RuntimeError), database.writer() as s:
            audit.record(
                s, actor="test", action="create", entity_type="probe", entity_key="x", before=None, after={}
            )
            raise RuntimeError("rolled back before its commit")
        assert list(listener.notifies(timeout=0.5)) == []
        with database.session() as s:  # a read session that commits nothing it wrote
            s.execute(text("SELECT 1"))
            s.commit()
        assert list(listener.notifies(timeout=0.5)) == []
        with database.writer() as s:
            organizations.create(s, {"code": "W2", "name": "通知", "kind": "contractor"}, actor="test")
        got = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.channel for n in got] == [wakeup.CHANNEL]
