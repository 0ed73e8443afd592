"""registry.bulk.insert_many: the rows read back as written, on SQLite and PostgreSQL (one JSON
document, or arrays for what JSON cannot carry), in a pipeline too."""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3

import psycopg
import pytest
from psycopg.types.json import Json
from sqlalchemy import create_engine

from registry import bulk

COLUMNS = ("name", '"order"', "n", "at", "extra", "note")
_TABLE = {
    "sqlite": 'CREATE TEMP TABLE bulk_probe (id INTEGER PRIMARY KEY, name VARCHAR(12), "order" TEXT, '
    "n BIGINT, at TIMESTAMP, extra JSON, note TEXT)",
    "postgresql": 'CREATE TEMP TABLE bulk_probe (id serial PRIMARY KEY, name varchar(12), "order" text, '
    "n bigint, at timestamp, extra json, note text)",
}


def _probe(url):
    engine = create_engine(url)
    raw = engine.raw_connection()
    pg = engine.dialect.name == "postgresql"
    cur = raw.cursor()
    cur.execute(_TABLE["postgresql" if pg else "sqlite"])
    yield raw, cur, pg, url
    cur.close()
    raw.rollback()
    raw.close()
    engine.dispose()


@pytest.fixture
def probe(database_url):
    """(DBAPI connection, cursor, is PostgreSQL, URL) with an empty ``bulk_probe`` table of its own."""
    yield from _probe(database_url)


@pytest.fixture
def pg_probe(pg_database):
    """``probe`` on PostgreSQL only."""
    yield from _probe(pg_database)


def _value(pg: bool, v):
    """What the drivers take for a JSON column: psycopg's Json, sqlite3 the text."""
    if v is None:
        return None
    return Json(v) if pg else json.dumps(v)


def _rows(pg: bool, count: int, start: int = 0) -> list[tuple]:
    at = dt.datetime(2026, 12, 6, 21, 0, 0, 123456)
    return [
        (
            f"名{k}'\"\\",  # quotes, a backslash and Chinese: what the text forms escape
            f"o{k}",
            2**40 + k,  # beyond 32 bits
            at + dt.timedelta(seconds=k),
            _value(pg, {"k": k, "list": ["a", None], "中": "文"}),
            None if k % 2 else "note",
        )
        for k in range(start, start + count)
    ]


def _read(cur, pg: bool) -> list[tuple]:
    cur.execute('SELECT name, "order", n, at, extra, note FROM bulk_probe ORDER BY id')
    out = []
    for name, order, n, at, extra, note in cur.fetchall():
        if isinstance(at, str):  # SQLite keeps the text the driver was given
            at = dt.datetime.fromisoformat(at)
        if isinstance(extra, str):
            extra = json.loads(extra)
        out.append((name, order, n, at, extra, note))
    return out


def _expected(rows: list[tuple]) -> list[tuple]:
    out = []
    for name, order, n, at, extra, note in rows:
        if isinstance(extra, Json):
            extra = extra.obj
        elif isinstance(extra, str):
            extra = json.loads(extra)
        out.append((name, order, n, at, extra, note))
    return out


@pytest.mark.parametrize("count", [1, 2, 3, 255, 256, 257, 700])
def test_rows_read_back_in_order(probe, count):
    raw, cur, pg, url = probe
    rows = _rows(pg, count)
    bulk.insert_many(cur, "bulk_probe", COLUMNS, rows, postgresql=pg, database=url)
    assert _read(cur, pg) == _expected(rows)


def test_nothing_to_insert_runs_nothing(probe):
    raw, cur, pg, url = probe
    bulk.insert_many(cur, "bulk_probe", COLUMNS, [], postgresql=pg, database=url)
    assert _read(cur, pg) == []


def test_two_calls_append(probe):
    raw, cur, pg, url = probe
    first, second = _rows(pg, 3), _rows(pg, 5, start=3)
    bulk.insert_many(cur, "bulk_probe", COLUMNS, first, postgresql=pg, database=url)
    bulk.insert_many(cur, "bulk_probe", COLUMNS, second, postgresql=pg, database=url)
    assert _read(cur, pg) == _expected(first + second)


def test_a_value_longer_than_its_column_is_refused_not_cut(pg_probe):
    raw, cur, pg, url = pg_probe  # SQLite does not enforce a VARCHAR's length
    rows = _rows(pg, 2)
    rows[1] = ("x" * 13, *rows[1][1:])
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        bulk.insert_many(cur, "bulk_probe", COLUMNS, rows, postgresql=pg, database=url)


def test_postgresql_values_as_psycopg_adapts_them(pg_probe):
    """An aware datetime (which the JSON document cannot carry as psycopg sends it: the arrays instead)
    is stored as the driver adapts it; NaN in a JSON column is refused, as psycopg's Json sends it."""
    raw, cur, pg, url = pg_probe
    aware = [("aware", "o", 1, dt.datetime(2026, 1, 1, 8, tzinfo=dt.UTC), None, None)]
    bulk.insert_many(cur, "bulk_probe", COLUMNS, aware, postgresql=pg, database=url)
    cur.execute("SELECT at = CAST(%s AS timestamptz) FROM bulk_probe", [aware[0][3]])
    assert cur.fetchone()[0] is True  # as the driver adapts it: the instant, in the session's zone
    nan = [("nan", "o", 1, None, Json({"x": math.nan}), None)]
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        bulk.insert_many(cur, "bulk_probe", COLUMNS, nan, postgresql=pg, database=url)


def test_postgresql_in_a_pipeline_with_the_commit(pg_probe):
    """Sent without waiting, then committed in the same pipeline (how a lineage batch ends)."""
    raw, cur, pg, url = pg_probe
    conn = raw.driver_connection
    cur.execute("DROP TABLE bulk_probe")
    cur.execute(_TABLE["postgresql"].replace("TEMP TABLE bulk_probe", "TABLE bulk_probe_committed"))
    raw.commit()
    try:
        rows = _rows(pg, 40)
        with conn.pipeline():
            bulk.insert_many(cur, "bulk_probe_committed", COLUMNS, rows, postgresql=True, database=url)
            conn.commit()
        other = psycopg.connect(conn.info.dsn)
        try:
            count = other.execute("SELECT count(*) FROM bulk_probe_committed").fetchone()[0]
        finally:
            other.close()
        assert count == 40
    finally:
        cur.execute("DROP TABLE bulk_probe_committed")
        raw.commit()


def test_sqlite_a_wide_table_s_rows_all_arrive(tmp_path):
    """200 columns × 300 rows is 60,000 values, more than one SQLite statement may bind (32,766):
    every row arrives, in order."""
    conn = sqlite3.connect(tmp_path / "wide.db")
    columns = tuple(f"c{i}" for i in range(200))
    conn.execute(f"CREATE TABLE wide (id INTEGER PRIMARY KEY, {', '.join(columns)})")
    rows = [tuple(r * 1000 + c for c in range(200)) for r in range(300)]
    cur = conn.cursor()
    bulk.insert_many(cur, "wide", columns, rows, postgresql=False)
    assert cur.execute(f"SELECT {', '.join(columns)} FROM wide ORDER BY id").fetchall() == rows
    conn.close()
