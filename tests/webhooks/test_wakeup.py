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


def test_on_postgresql_lineage_intake_announces_each_commit_once(database, database_url):
    """Intake queues its transaction's announcement with its audit entries (no statement of its own):
    one notification per commit, none for an event that is not stored."""
    if not database_url.startswith("postgresql"):
        pytest.skip("NOTIFY is PostgreSQL's; SQLite waiters poll")
    from lineage import intake
    from registry.errors import Invalid

    event = {
        "eventType": "COMPLETE",
        "eventTime": "2025-01-01T00:00:00Z",
        "producer": "https://example.org/test",
        "run": {"runId": "0193c6b4-2f6e-7c35-9d3b-6d7e6f0a1b2c"},
        "job": {"namespace": "wake", "name": "job"},
        "inputs": [],
        "outputs": [{"namespace": "wake", "name": "out"}],
    }
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as listener:
        listener.execute(f"LISTEN {wakeup.CHANNEL}")
        with database.writer() as s:
            _, created = intake.ingest(s, event, actor="test")
        assert created
        assert len(list(listener.notifies(timeout=1))) == 1
        with database.writer() as s:
            assert intake.ingest(s, event, actor="test")[1] is False  # already stored: nothing new
        with pytest.raises(Invalid), database.writer() as s:
            intake.ingest(s, {**event, "run": {}}, actor="test")
        assert list(listener.notifies(timeout=0.5)) == []
