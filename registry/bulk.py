"""Many rows at once on a driver's own cursor (sqlite3 or psycopg), for the hot write paths
(lineage intake's batches, the audit entries and Merkle leaves they write).

- **PostgreSQL**: one statement per table whatever the row count, its rows one JSON array written by
  orjson (C) and taken apart by the server, ``INSERT … SELECT CAST(r->>0 AS <type>), … FROM
  jsonb_array_elements(%b) AS r`` (jsonb: each row parsed once; ``json`` parses a row again for each
  of its columns, twice the server's time): one statement text, prepared once; in a pipeline it is sent
  without waiting (a ``COPY`` per table cost two round trips, and no pipeline may hold one). psycopg
  dumps an array parameter element by element in Python (0.8 ms for a batch's 360 edge rows, where
  orjson takes 0.16). The types are the columns' own, read from the catalog once per process and
  table, without their length (a cast to ``varchar(64)`` would cut a longer value where the column
  refuses it). Rows orjson cannot write as psycopg would send them (bytes, an aware datetime, an
  integer beyond 64 bits) go as one array per column (``CAST(%b AS <type>[])``, binary: the text
  form escapes every quote of an event's JSON body).
- **SQLite**: one prepared single-row insert stepped for every row (``executemany``).
"""

from __future__ import annotations

import datetime as dt
import threading

import orjson
from psycopg.types.json import Json

_PG_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, str]] = {}
_GUARD = threading.Lock()


def insert_many(
    cursor, table: str, columns: tuple[str, ...], rows: list[tuple], *, postgresql: bool, database: str = ""
) -> None:
    """Insert ``rows`` (driver-ready values, in ``columns``' order; a column name may be quoted) into
    ``table`` on ``cursor``. ``database`` (PostgreSQL): what the statement cache is keyed by beside
    the table (the engine URL)."""
    if not rows:
        return
    if postgresql:
        found = _PG_STATEMENTS.get((database, table, columns))
        if found is None:
            found = _pg_statements(cursor, table, columns, database)
        as_json, as_arrays = found
        try:
            document = orjson.dumps(rows, default=_json_value, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except TypeError:  # orjson.JSONEncodeError, or ``_json_value`` refusing: the arrays
            cursor.execute(as_arrays, [list(values) for values in zip(*rows, strict=True)])
        else:
            cursor.execute(as_json, [document.decode()])
        return
    # SQLite: one prepared single-row statement stepped for every row. Multi-row VALUES (one step per
    # chunk of rows, each step a turn of the GIL for other threads) measured no better: in process
    # (32 writers) within the noise, under `benchmarks server` 548 against 577 ev/s (medians of eight
    # alternating rounds)
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows
    )


def _json_value(value):
    """orjson's ``default``: what a row may hold beside JSON's own types, as psycopg would send it."""
    if isinstance(value, Json):  # a JSON column's value: its text, by its own dumps (json.dumps keeps NaN)
        dumped = value.dumps(value.obj)
        return dumped.decode() if isinstance(dumped, bytes) else dumped
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.isoformat()
    raise TypeError(f"not for a JSON row: {type(value).__name__}")


def _pg_statements(cursor, table: str, columns: tuple[str, ...], database: str) -> tuple[str, str]:
    """The JSON and the array insert for these columns, their types read from the catalog (one round
    trip: in a pipeline, it waits for what was sent before)."""
    lookup = cursor.connection.cursor()
    try:
        found = dict(
            lookup.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                "WHERE attrelid = CAST(%s AS regclass) AND attnum > 0 AND NOT attisdropped",
                [table],
            ).fetchall()
        )
    finally:
        lookup.close()
    types = [found[c.strip('"')] for c in columns]
    head = f"INSERT INTO {table} ({', '.join(columns)}) SELECT "
    picked = ", ".join(f"CAST(r->>{i} AS {t})" for i, t in enumerate(types))
    arrays = ", ".join(f"CAST(%b AS {t}[])" for t in types)
    statements = (
        f"{head}{picked} FROM jsonb_array_elements(CAST(%b AS jsonb)) AS r",
        f"{head}* FROM unnest({arrays})",
    )
    with _GUARD:
        _PG_STATEMENTS[(database, table, columns)] = statements
    return statements
