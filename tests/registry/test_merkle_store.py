"""The stored tree: proofs from it equal a naive recomputation for every size up to 64, on SQLite and PostgreSQL;
it is written with the entry (also by a raw-cursor hot path), catches up, rolls back, and is backfilled."""

import os

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

import migrations
from catalog import organizations
from registry import audit, merkle, merkle_store, tree_check
from registry.db import Database


def _create(db, code, actor="tester"):
    with db.writer() as s:
        organizations.create(s, {"code": code, "name": f"单位{code}"}, actor=actor)


def _leaves(session):
    return [
        merkle.entry_leaf(h) for (h,) in session.execute(text("SELECT hash FROM audit_entry ORDER BY seq"))
    ]


def _raw_entries(db, count, *, tree=True):
    """Entries written the way a hot path does: its own DBAPI statements under the chain's lock."""
    with db.writer() as s:
        conn = s.connection()
        cur = conn.connection.dbapi_connection.cursor()
        mark = "%s" if conn.dialect.name == "postgresql" else "?"
        if conn.dialect.name == "postgresql":
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [audit.PG_LOCK_KEY])
        cur.execute("SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1")
        head, written = cur.fetchone(), []
        for i in range(count):
            entry = audit.next_entry(
                head,
                actor="raw",
                action="ingest",
                entity_type="raw_test",
                entity_key=str(i),
                before=None,
                after={"i": i},
            )
            values = audit.row_values(entry)
            columns = ", ".join(f'"{c}"' for c in values)
            cur.execute(
                f"INSERT INTO audit_entry ({columns}) VALUES ({', '.join([mark] * len(values))})",
                list(values.values()),
            )
            head = (entry.seq, entry.hash)
            written.append(entry)
        if tree:
            assert merkle_store.append(cur, written) == head[0]
        s.commit()


def test_merkle_store_proofs_equal_a_naive_recomputation_for_every_size_up_to_64(db):
    for i in range(64):
        _create(db, f"M{i}")
    with db.session() as s:
        leaves = _leaves(s)
        assert merkle_store.size(s) == len(leaves) == 64
        for n in range(1, 65):
            assert merkle_store.root(s, n) == merkle.root(leaves[:n]), n
            for m in range(n):
                assert merkle_store.inclusion(s, m, n) == merkle.inclusion_proof(m, leaves[:n]), (m, n)
            for m in range(n + 1):
                assert merkle_store.consistency(s, m, n) == merkle.consistency_proof(m, leaves[:n]), (m, n)
        assert merkle_store.root(s, 0) == merkle.EMPTY_ROOT
        rows = s.execute(text("SELECT count(*), sum(length(hashes)) FROM audit_tree")).one()
        recomputed = tree_check.recompute(s, range(0, 65))
    assert tuple(rows) == (64, 127 * 32)  # one row per entry; 64 leaves and 63 interior nodes
    assert recomputed.stored_ok and recomputed.size == 64
    assert all(recomputed.roots[n] == merkle.root(leaves[:n]) for n in range(0, 65))


def test_merkle_store_hot_path_appends_through_a_raw_cursor_in_batches(db):
    _create(db, "FIRST")
    _raw_entries(db, 1)
    _raw_entries(db, 6)
    _create(db, "MIDDLE")
    _raw_entries(db, 9)
    with db.session() as s:
        leaves = _leaves(s)
        assert merkle_store.size(s) == len(leaves) == 18
        for n in range(1, 19):
            assert merkle_store.root(s, n) == merkle.root(leaves[:n])


def test_merkle_store_catches_up_with_entries_a_path_forgot_to_add(db):
    _create(db, "A")
    _raw_entries(db, 5, tree=False)  # a hot path that does not call merkle_store.append
    with db.session() as s:
        assert merkle_store.size(s) == 1
    _create(db, "B")  # the next audited write adds the missing leaves first
    with db.session() as s:
        leaves = _leaves(s)
        assert merkle_store.size(s) == 7
        assert merkle_store.root(s, 7) == merkle.root(leaves)
        assert merkle_store.inclusion(s, 3, 7) == merkle.inclusion_proof(3, leaves)


def test_merkle_store_rolls_back_with_the_entry(db):
    _create(db, "KEEP")
    with db.writer() as s:
        audit.record(s, actor="t", action="create", entity_type="x", entity_key="GONE", before=None, after={})
        s.rollback()
    _create(db, "NEXT")
    with db.session() as s:
        leaves = _leaves(s)
        assert len(leaves) == merkle_store.size(s) == 2
        assert merkle_store.root(s, 2) == merkle.root(leaves)


def test_merkle_store_reports_a_missing_node_clearly(db):
    for i in range(4):
        _create(db, f"X{i}")
    with db.writer() as s:
        s.execute(
            text("DELETE FROM audit_tree WHERE leaf = 3")
        )  # leaf 3 ends nodes (0, 3), (1, 1) and (2, 0)
        s.commit()
    with db.session() as s, pytest.raises(merkle_store.TreeIncomplete, match="level 1, index 1"):
        merkle_store.inclusion(s, 0, 4)


# --- the migration backfills the tree of an existing log ------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    pg = os.environ.get("YIMA_TEST_POSTGRES_URL")
    if not pg:
        pytest.skip("YIMA_TEST_POSTGRES_URL is not set")
    base = make_url(pg).set(drivername="postgresql+psycopg")
    name = f"yima_tree_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_merkle_store_migration_backfills_the_tree_of_an_existing_log_and_downgrades(fresh_url):
    migrations.upgrade(fresh_url, "0004")
    database = Database(fresh_url)
    try:
        with database.writer() as s:  # a log written before the tree existed
            head = None
            for i in range(37):
                entry = audit.next_entry(
                    head,
                    actor="old",
                    action="create",
                    entity_type="old",
                    entity_key=str(i),
                    before=None,
                    after={"i": i},
                )
                # the columns of revision 0004 (organization and request come with 0008)
                old = {
                    k: v for k, v in audit.row_values(entry).items() if k not in ("organization", "request")
                }
                s.execute(audit.AuditEntry.__table__.insert(), old)
                head = (entry.seq, entry.hash)
            s.commit()
        migrations.upgrade(fresh_url)
        with database.session() as s:
            leaves = _leaves(s)
            assert merkle_store.size(s) == 37
            for n in range(1, 38):
                assert merkle_store.root(s, n) == merkle.root(leaves[:n])
        _create(database, "AFTER")  # and appends carry on from the backfilled tree
        with database.session() as s:
            assert merkle_store.root(s, 38) == merkle.root(_leaves(s))
        migrations.downgrade(fresh_url, "0004")
        tables = set(inspect(database.engine).get_table_names())
        assert "audit_tree" not in tables and "audit_checkpoint" not in tables and "audit_entry" in tables
    finally:
        database.dispose()
