"""The intake batch's lookups on PostgreSQL probe an index per key even on tables the planner knows
nothing of yet (a new database before autovacuum's first ANALYZE: every benchmark run, a fresh
deployment's first minute), read with EXPLAIN of the prepared statement's generic plan."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from lineage.intake import _OPEN_EDGES_PG
from lineage.store import _KNOWN_PG, Raw

ROWS = 20_000


@pytest.fixture
def fresh(pg_database):
    """A connection whose ``lineage_edge`` and ``lineage_node`` are new copies (same columns and
    indexes, never analyzed) holding ROWS rows each, in a schema of their own; dropped after."""
    url = make_url(pg_database).set(drivername="postgresql")
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    conn.execute("DROP SCHEMA IF EXISTS plan_probe CASCADE")
    conn.execute("CREATE SCHEMA plan_probe")
    try:
        for table in ("lineage_edge", "lineage_node"):
            conn.execute(f"CREATE TABLE plan_probe.{table} (LIKE public.{table} INCLUDING ALL)")
        conn.execute("SET search_path TO plan_probe, public")
        conn.execute(
            "INSERT INTO lineage_edge (source, target, kind, job, valid_from) "
            "SELECT 'dataset:a:' || i, 'job:a:' || (i / 12), 'input', 'job:a:' || (i / 12), now() "
            "FROM generate_series(1, %s) AS i",
            [ROWS],
        )
        conn.execute(
            "INSERT INTO lineage_node (node_id, type, namespace, name, first_seen) "
            "SELECT 'job:a:' || i, 'job', 'a', '' || i, now() FROM generate_series(1, %s) AS i",
            [ROWS],
        )
        yield conn
    finally:
        conn.execute("DROP SCHEMA plan_probe CASCADE")
        conn.close()


def _generic_plan(conn, statement: str, params: dict) -> str:
    """The plan of ``statement`` as the intake runs it (psycopg prepares it after a few executions, and
    the server then settles on a generic plan)."""
    raw = Raw.__new__(Raw)
    raw.pg = True
    sql = "EXPLAIN " + raw.sql(statement)
    for _ in range(7):
        rows = conn.execute(sql, params, prepare=True).fetchall()
    return "\n".join(r[0] for r in rows)


def test_open_edges_of_a_batch_s_jobs_probe_the_job_index(fresh):
    plan = _generic_plan(fresh, _OPEN_EDGES_PG, {"jobs": [f"job:a:{i}" for i in range(100, 130)]})
    assert "Seq Scan on lineage_edge" not in plan, plan
    assert "Index Cond: ((job)::text = k.job)" in plan, plan


def test_known_nodes_probe_the_unique_index(fresh):
    plan = _generic_plan(fresh, _KNOWN_PG, {"ids": [f"job:a:{i}" for i in range(100, 130)]})
    assert "Seq Scan on lineage_node" not in plan, plan
    assert "Index Cond: ((node_id)::text = k.id)" in plan, plan
