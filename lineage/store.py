"""How lineage writers reach the database: their locks and queue, statements on the driver connection,
and the one node upsert (intake and declared flows both use it)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
import threading

import orjson
import psycopg
from psycopg.types.json import Json
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import audit, bulk

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone
    fcntl = None

#: a unique key taken (a resent event): SQLAlchemy's wrapper or, on the hot path, the drivers' own
INTEGRITY_ERRORS = (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)
#: rows per multi-row statement: well within SQLite's 32,766 and PostgreSQL's 65,535 parameters
CHUNK = 500
_NODE_COLUMNS = ("node_id", "type", "namespace", "name", "facets", "first_seen")
_NODE_TEXT_TYPES = ("text", "text", "text", "text", "jsontext", "timestamp")
_NODE_INSERTED = "ON CONFLICT (node_id) DO NOTHING RETURNING node_id"
_LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:k)")


# --- locks ----------------------------------------------------------------------------------


class _SqliteWriters:
    """SQLite lineage writers queue here rather than in SQLite's busy handler, which sleeps in steps of
    1, 2, 5, 10… ms: a thread lock within a process, and a lock file beside the database across
    ``yima serve`` worker processes (a blocked flock wakes the moment it is released)."""

    def __init__(self):
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int | None]] = {}

    def _for(self, database: str | None) -> tuple[threading.Lock, int | None]:
        key = database or ":memory:"
        with self._guard:
            if key not in self._locks:
                fd = None
                if fcntl is not None and database and database != ":memory:":
                    fd = os.open(f"{database}-lineage.lock", os.O_RDWR | os.O_CREAT, 0o600)
                self._locks[key] = (threading.Lock(), fd)
            return self._locks[key]

    @contextlib.contextmanager
    def hold(self, database: str | None):
        lock, fd = self._for(database)
        with lock:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)


_SQLITE_WRITERS = _SqliteWriters()


def writers_queue(session: Session):
    """A context in which this process is SQLite's only lineage writer (PostgreSQL: no queue, its writers
    take turns per job and at the audit chain's lock)."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        return _SQLITE_WRITERS.hold(bind.url.database)
    return contextlib.nullcontext()


def lock_chain(session: Session) -> None:
    """Serialise lineage writers from their first read, on the audit chain's advisory lock (SQLite
    writers already hold the database's write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK_CHAIN, {"k": audit.PG_LOCK_KEY})


# --- statements on the driver connection ----------------------------------------------------


class Raw:
    """Statements on the DBAPI connection of the session's own transaction.

    SQLAlchemy's per-statement work is most of the time the audit chain stays locked for an event
    (the database itself needs a fraction of it), so the hot path speaks each driver's parameter
    style (``:name`` for sqlite3, ``%(name)s`` for psycopg) and value types itself: datetimes as
    SQLAlchemy's SQLite text, JSON as text on SQLite and ``Json`` on PostgreSQL.
    """

    def __init__(self, session: Session):
        conn = session.connection()
        self._session = session
        self.pg = conn.dialect.name == "postgresql"
        self._cur = conn.connection.dbapi_connection.cursor()
        self.database = str(conn.engine.url)
        #: inserts put off (``defer``): (table, columns) → rows, in the order first deferred
        self._audit: list[dict] = []  # the entries this transaction will write, in order
        #: in a batch: event ids drawn up front (``reserve_event_ids``), and the nodes looked up up front
        #: (``prefetch_nodes``) as this transaction has left them: each event's statements then need no
        #: answer from the database (PostgreSQL: until the commit, in pipeline mode)
        self._event_ids: list[int] = []
        self.node_rows: dict[str, tuple] = {}
        self.prefetched: set[str] = set()
        #: node id → the ``nodes`` dict of the batch's event that created it (``create_nodes``)
        self.created: dict[str, dict] = {}
        #: in a batch: job → its open event edges as this transaction has left them, (source, target,
        #: kind) → (id, source, target, kind, valid_from, run_id), the id None for an edge this batch
        #: opened (``lineage.intake``); looked up for all the batch's jobs at once (``prefetch_open_edges``)
        self.open_edges: dict[str, dict[tuple, tuple]] = {}
        self._pending: dict[tuple[str, tuple[str, ...]], list[tuple]] = {}
        self._order: dict[tuple[str, tuple[str, ...]], int] = {}
        #: node → the earliest time this transaction has seen it, to be written with the deferred rows
        #: (``earlier``): moving a node's first_seen back is then no statement between an event's others
        self._earlier: dict[str, object] = {}
        self.committed = False  # ``commit``

    @property
    def cur(self):
        """The driver's cursor, for statements of one's own: the deferred inserts are written first."""
        if self._pending or self._earlier:
            self.flush()
        return self._cur

    def sql(self, statement: str) -> str:
        """psycopg's parameter style for a statement written with ``:name``; an array parameter
        (``CAST(:ids AS text[])``) goes in binary, where the text form quotes and escapes each element."""
        if not self.pg:
            return statement
        statement = re.sub(r"CAST\(:(\w+) AS ([\w ]+)\[\]\)", r"CAST(%(\1)b AS \2[])", statement)
        return re.sub(r":(\w+)", r"%(\1)s", statement)

    def time(self, moment: dt.datetime | None):
        if moment is None or self.pg:
            return moment
        if moment.tzinfo is None:  # the same text, a third of the time
            return moment.isoformat(" ", "microseconds")
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def json(self, value, *, finite: bool = False):
        """``value`` as the driver takes a JSON column; ``finite``: it holds no NaN nor Infinity, so
        ``stored_json``'s orjson may write it."""
        if value is None:
            return None
        if self.pg:
            return Json(value, _orjson_or_json) if finite else Json(value)
        return stored_json(value, finite=True) if finite else json.dumps(value)

    def load_json(self, value):
        return json.loads(value) if isinstance(value, str) else value

    def run(self, statement: str, params: dict | None = None):
        """Run a statement (``:name`` parameters), after the deferred inserts; returns the cursor."""
        sql = _SQL_CACHE.get((self.pg, statement))
        if sql is None:
            sql = _SQL_CACHE[(self.pg, statement)] = self.sql(statement)
        cur = self.cur  # the deferred inserts first
        cur.execute(sql, params or {})
        return cur

    def defer(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        """Insert ``rows`` (driver-ready values) later: just before this transaction's next statement
        of any other kind (so every read, and every row that refers to them, finds them), or at
        ``flush``. A batch of events whose statements are all deferred inserts writes each table once
        (PostgreSQL: ``COPY``, a third of the time of inserting them, mostly psycopg's Python side)."""
        if rows:
            key = (table, columns)
            self._order.setdefault(key, len(self._order))
            self._pending.setdefault(key, []).extend(rows)

    def flush(self) -> None:
        """Write the deferred inserts, each table's in one go (``registry.bulk.insert_many``: on
        PostgreSQL one statement, sent without waiting in a pipeline), the tables in the order this
        transaction first deferred to them (an event's row before its edges', which refer to it)."""
        pending, self._pending = self._pending, {}
        for (table, columns), rows in sorted(pending.items(), key=lambda item: self._order[item[0]]):
            bulk.insert_many(self._cur, table, columns, rows, postgresql=self.pg, database=self.database)
        earlier, self._earlier = self._earlier, {}
        if earlier:  # in one order (the node ids'), as every writer takes the rows' locks
            nodes = sorted(earlier)
            if self.pg:  # against the row as it is now: another batch may have moved it since it was read
                self._cur.execute(_EARLIER_PG, {"ids": nodes, "at": [earlier[n] for n in nodes]})
            else:  # the write lock held since this transaction's first read: the value read is the row's
                self._cur.executemany(_EARLIER_SQLITE, [(earlier[n], n) for n in nodes])

    def commit(self) -> None:
        """PostgreSQL, in a pipeline: queue the COMMIT behind the transaction's statements, so that they
        and it cost one wait (the session's own commit then finds nothing to do); SQLite: nothing (the
        session commits). ``committed`` says whether it did."""
        if self.pg:
            self._cur.connection.commit()
            self.committed = True

    def earlier(self, node: str, at) -> None:
        """Move ``node``'s first_seen back to ``at`` with the deferred rows (``flush``)."""
        if node not in self._earlier or at < self._earlier[node]:
            self._earlier[node] = at

    def update_pending(self, table: str, columns: tuple[str, ...], where: dict, values: dict) -> bool:
        """Change the first deferred row of ``table`` whose columns hold ``where`` to hold ``values`` too;
        whether there was one (not yet written: no statement needed)."""
        rows = self._pending.get((table, columns))
        if not rows:
            return False
        at = [(columns.index(c), v) for c, v in where.items()]
        for n, row in enumerate(rows):
            if all(row[i] == v for i, v in at):
                changed = list(row)
                for c, v in values.items():
                    changed[columns.index(c)] = v
                rows[n] = tuple(changed)
                return True
        return False

    def values(self, columns: tuple[str, ...], rows: list[tuple]) -> tuple[str, dict]:
        """``(:c0_0, :c1_0), (:c0_1, …)`` and its parameters, for a multi-row insert."""
        params, groups = {}, []
        for i, row in enumerate(rows):
            names = [f"{c}_{i}" for c in columns]
            params.update(zip(names, row, strict=True))
            groups.append("(" + ", ".join(":" + n for n in names) + ")")
        return ", ".join(groups), params

    def insert(
        self,
        table: str,
        columns: tuple[str, ...],
        types: tuple[str, ...],
        rows: list[tuple],
        suffix: str = "",
    ) -> list[tuple]:
        """Insert ``rows`` (``jsonb`` columns as Python values, ``jsontext`` ones as their JSON text), then ``suffix`` (``ON CONFLICT …
        RETURNING …``); returns what it returns. PostgreSQL: one statement text whatever their count
        (one array per column, unnested; ``types`` are the arrays' element types), so it is parsed and
        prepared once instead of per row count with a parameter per value; SQLite: ``insert_rows``."""
        if not rows:
            return []
        json_at = {i for i, t in enumerate(types) if t in ("jsonb", "jsontext")}
        dump_at = {i for i, t in enumerate(types) if t == "jsonb"}
        if dump_at:
            dump = json.dumps
            rows = [
                tuple((None if v is None else dump(v)) if i in dump_at else v for i, v in enumerate(r))
                for r in rows
            ]
        if not self.pg:
            return self.insert_rows(table, columns, rows, suffix)
        names = ", ".join(columns)
        arrays = {f"a{i}": [r[i] for r in rows] for i in range(len(columns))}
        unnest = ", ".join(f"CAST(:a{i} AS {'text' if i in json_at else t}[])" for i, t in enumerate(types))
        picked = ", ".join(f"CAST(c{i} AS jsonb)" if i in json_at else f"c{i}" for i in range(len(columns)))
        cols = ", ".join(f"c{i}" for i in range(len(columns)))
        sql = f"INSERT INTO {table} ({names}) SELECT {picked} FROM unnest({unnest}) AS u({cols}) {suffix}"
        cur = self.run(sql, arrays)
        return cur.fetchall() if suffix and "RETURNING" in suffix else []

    def insert_rows(
        self, table: str, columns: tuple[str, ...], rows: list[tuple], suffix: str = ""
    ) -> list[tuple]:
        """Insert ``rows`` of driver-ready values, then ``suffix``; returns what a ``RETURNING`` in it
        returns. SQLite: positional parameters (binding by name costs twice as much): one prepared
        single-row statement run for every row when nothing is returned, else multi-row ``VALUES`` in
        chunks; PostgreSQL: multi-row ``VALUES`` in chunks."""
        if not rows:
            return []
        names = ", ".join(columns)
        returning = bool(suffix) and "RETURNING" in suffix
        if self.pg:
            out: list[tuple] = []
            for part in chunks(rows):
                groups, values = self.values(columns, part)
                cur = self.run(f"INSERT INTO {table} ({names}) VALUES {groups} {suffix}", values)
                if returning:
                    out.extend(cur.fetchall())
            return out
        group = "(" + ", ".join("?" * len(columns)) + ")"
        if not returning:
            self.cur.executemany(f"INSERT INTO {table} ({names}) VALUES {group} {suffix}", rows)
            return []
        out = []
        for part in chunks(rows):
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([group] * len(part))} {suffix}"
            out.extend(self.cur.execute(sql, [v for row in part for v in row]).fetchall())
        return out

    def reserve_event_ids(self, n: int) -> None:
        """Draw ``n`` ids of ``lineage_event``: PostgreSQL from its sequence in one round trip; SQLite the
        next ``n`` after the largest (the ids SQLite would give: the table has no AUTOINCREMENT, and
        this transaction holds the write lock from its BEGIN IMMEDIATE, else its insert fails and the
        batch is redone event by event)."""
        if not self.pg:
            top = self.cur.execute("SELECT COALESCE(MAX(id), 0) FROM lineage_event").fetchone()[0]
            self._event_ids.extend(range(top + n, top, -1))  # popped from the end, in order
            return
        cur = self.run(
            "SELECT nextval(pg_get_serial_sequence('lineage_event', 'id')) FROM generate_series(1, :n)",
            {"n": n},
        )
        self._event_ids.extend(r[0] for r in cur.fetchall())
        self._event_ids.reverse()  # popped from the end, in the sequence's order

    def event_id(self) -> int | None:
        """A reserved event id, or None (none reserved: the insert returns its own)."""
        return self._event_ids.pop() if self._event_ids else None

    def prefetch_nodes(self, ids: list[str]) -> None:
        """Look up these nodes now, in one statement; ``upsert_nodes`` then reads them from here."""
        ids = sorted(set(ids) - self.prefetched)
        if ids:
            self.node_rows.update(_known_nodes(self, ids))
            self.prefetched.update(ids)

    def create_nodes(self, events: list[tuple[dict, object, bool]]) -> None:
        """A batch's nodes that do not exist yet, inserted at once for all its events (``(nodes, at,
        finite)`` each, in order): each as the first event naming it would have inserted it.
        ``upsert_nodes`` then answers that event as having created it, and the later ones as updates."""
        creators: dict[str, tuple[dict, object, bool]] = {}
        for nodes, at, finite in events:
            for n in nodes:
                if n not in self.node_rows and n not in creators:
                    creators[n] = (nodes, at, finite)
        if not creators:
            return
        ids = sorted(creators)
        rows = []
        for n in ids:
            nodes, at, finite = creators[n]
            node = nodes[n]
            facets = node.get("facets")  # as its text: orjson's when finite (``stored_json``)
            facets = None if facets is None else stored_json(facets, finite=finite)
            rows.append((n, node["type"], node["namespace"], node["name"], facets, at))
        returned = self.insert("lineage_node", _NODE_COLUMNS, _NODE_TEXT_TYPES, rows, _NODE_INSERTED)
        made = {r[0] for r in returned}
        for n in ids:
            nodes, at, finite = creators[n]
            if n in made:  # SQLite: facets that may hold NaN kept as their text (``_update_node``)
                facets = nodes[n].get("facets")
                if not (self.pg or finite or facets is None):
                    facets = json.dumps(facets)
                self.node_rows[n] = (n, at, facets)
                self.created[n] = nodes
            else:  # another process's a moment ago: looked up when its event comes
                self.prefetched.discard(n)

    def audit(self, **change) -> None:
        """Queue ``registry.audit.record``'s keywords for one entry; ``write_audit`` writes the queue."""
        self._audit.append(change)

    def write_audit(self) -> None:
        """Write the queued entries (``registry.audit.record_raw``) just before the commit: the chain's
        lock is taken here, once, and held only for these few statements, whatever the batch's size."""
        changes, self._audit = self._audit, []
        if not changes:
            return
        # the commit's announcement with the entries (else the session's before_commit sends it alone)
        audit.record_raw(self.cur, changes, postgresql=self.pg, database=self.database, notify=True)
        if self.pg:
            self._session.info[audit.NOTIFIED] = True

    def pipeline(self):
        """PostgreSQL: a context in which statements whose results are not read are sent without waiting
        for their answers (psycopg's pipeline mode; a result read, or the end, waits for what it needs):
        a batch's inserts cost no round trip each. Errors surface at the next read or at the end, still
        inside the transaction. SQLite: nothing."""
        return self._cur.connection.pipeline() if self.pg else contextlib.nullcontext()

    def close(self) -> None:
        self._pending.clear()  # an error before the flush: nothing more is written
        self._earlier.clear()
        self._cur.close()


_SQL_CACHE: dict[tuple[bool, str], str] = {}
_EARLIER_PG = (
    "UPDATE lineage_node AS n SET first_seen = LEAST(n.first_seen, v.at) "
    "FROM unnest(CAST(%(ids)b AS text[]), CAST(%(at)b AS timestamp[])) AS v(id, at) WHERE n.node_id = v.id"
)
_EARLIER_SQLITE = "UPDATE lineage_node SET first_seen = ? WHERE node_id = ?"


def stored_json(value, *, finite: bool) -> str:
    """The JSON text of a value kept in a column whose exact bytes nobody hashes (a node's facets, an
    event's body given as a dict): read back, the same values as ``json.dumps``' text.

    ``finite`` (the caller knows the value holds no NaN nor Infinity: orjson would write them as
    null): orjson's compact text, about ten times faster for an event's facets; what orjson refuses (an
    integer beyond 64 bits, a key that is not a string, nesting deeper than 255) falls back to
    ``json.dumps``, as does a value that may not be finite."""
    if finite:
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # orjson.JSONEncodeError
            pass
    return json.dumps(value, ensure_ascii=False)


def _orjson_or_json(value) -> bytes | str:
    """psycopg's ``Json`` dumps for a value known to be finite (see ``stored_json``)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value)


def finite_json(text: str) -> bool:
    """Whether ``json.dumps``' text of a value (canonical or not) shows no NaN nor Infinity, so orjson
    writes the value as ``json.dumps`` would mean it. A string that merely contains those words is a
    false alarm: the slower, exact path."""
    return "NaN" not in text and "Infinity" not in text


def chunks(items: list, size: int = CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- the node upsert ------------------------------------------------------------------------


def upsert_nodes(raw: Raw, nodes: dict[str, dict], at, *, finite: bool = False) -> set[str]:
    """Insert the nodes not seen yet (a node another writer has just created is skipped and treated as
    known), move first_seen back to ``at`` for an older event, keep the newest facets.

    ``nodes`` maps node id → ``{"type", "namespace", "name", "facets"?}``; ``at`` is ``raw.time(…)``.
    Returns the ids this call created. The caller holds the writers' lock. ``finite``: the facets hold no
    NaN nor Infinity (``stored_json``).
    """
    if not nodes:
        return set()
    ids = sorted(nodes)  # one order for all writers: no deadlocks
    if raw.prefetched:  # a batch's: only the ids it did not know of are looked up
        raw.prefetch_nodes(ids)
    else:
        raw.node_rows.update(_known_nodes(raw, ids))
    made = {n for n in ids if raw.created.get(n) is nodes}  # inserted for this event by the batch
    known = {n: raw.node_rows[n] for n in ids if n in raw.node_rows and n not in made}
    new = [n for n in ids if n not in known and n not in made]
    inserted = _insert_nodes(raw, nodes, new, at, finite) | made
    for n in new:
        if n in inserted:  # facets that may hold NaN kept as their text (``_update_node``)
            facets = nodes[n].get("facets")
            raw.node_rows[n] = (n, at, facets if finite or raw.pg or facets is None else json.dumps(facets))
        else:  # created a moment ago by a writer of another job (PostgreSQL)
            known[n] = raw.node_rows[n] = raw.run(
                "SELECT node_id, first_seen, facets FROM lineage_node WHERE node_id = :n", {"n": n}
            ).fetchone()
    for node in sorted(known):
        raw.node_rows[node] = _update_node(raw, node, known[node], nodes[node].get("facets"), at, finite)
    return inserted


#: one index probe per id, whatever the planner knows of the table (a fresh table, or autovacuum off, has no
#: statistics, and ``node_id = ANY(…)`` is then planned as a scan of every node). ``OFFSET 0`` keeps the
#: subquery a subquery: flattened into a join, it too was planned as a hash join over a scan of every
#: node on a table never analyzed (``tests/lineage/test_query_plans.py``)
_KNOWN_PG = (
    "SELECT n.node_id, n.first_seen, n.facets FROM unnest(CAST(:ids AS text[])) AS k(id) "
    "CROSS JOIN LATERAL (SELECT node_id, first_seen, facets FROM lineage_node WHERE node_id = k.id "
    "OFFSET 0) AS n"
)


def _known_nodes(raw: Raw, ids: list[str]) -> dict[str, tuple]:
    if raw.pg:  # one array parameter: one statement text, prepared once, whatever the count
        return {r[0]: r for r in raw.run(_KNOWN_PG, {"ids": ids}).fetchall()}
    known = {}
    for part in chunks(ids):  # positional parameters: binding by name costs twice as much
        sql = f"SELECT node_id, first_seen, facets FROM lineage_node WHERE node_id IN ({', '.join('?' * len(part))})"
        known.update((r[0], r) for r in raw.cur.execute(sql, part).fetchall())
    return known


def _node_row(raw: Raw, nodes: dict[str, dict], n: str, at, finite: bool) -> tuple:
    node = nodes[n]
    return (n, node["type"], node["namespace"], node["name"], raw.json(node.get("facets"), finite=finite), at)


def _insert_nodes(raw: Raw, nodes: dict[str, dict], new: list[str], at, finite: bool) -> set[str]:
    inserted: set[str] = set()
    rows = [_node_row(raw, nodes, n, at, finite) for n in new]
    returned = raw.insert_rows("lineage_node", _NODE_COLUMNS, rows, _NODE_INSERTED)
    inserted.update(r[0] for r in returned)
    return inserted


_NODE_FACETS_LOCKED = "SELECT facets FROM lineage_node WHERE node_id = :n FOR UPDATE"
_SET_FACETS = "UPDATE lineage_node SET facets = :facets WHERE node_id = :n"


def _update_node(raw: Raw, node: str, row: tuple, facets: dict | None, at, finite: bool) -> tuple:
    """Move first_seen back, merge the facets; returns the row as it now is."""
    _, first_seen, facets_now = row
    if first_seen > at:
        raw.earlier(node, at)  # written with the deferred rows
        first_seen = at
    if facets:
        current = raw.load_json(facets_now) or {}
        merged = {**current, **facets}
        if merged != current and raw.pg:
            # merged with the facets the row has now, read under its lock: another process's batch may
            # have added its own since this one read it (a merge from the first reading would drop them)
            fresh = raw.run(_NODE_FACETS_LOCKED, {"n": node}).fetchone()
            current = (fresh[0] if fresh else None) or {}
            merged = {**current, **facets}
            if merged != current:
                raw.run(_SET_FACETS, {"facets": raw.json(merged, finite=finite), "n": node})
            facets_now = merged
        elif merged != current:
            # SQLite's text of the stored facets may hold a NaN an earlier event sent
            finite = finite and (not isinstance(facets_now, str) or finite_json(facets_now))
            stored = raw.json(merged, finite=finite)
            raw.run(_SET_FACETS, {"facets": stored, "n": node})
            # kept as the text when it may hold NaN, so the next event of the batch sees it (SQLite)
            facets_now = stored if not finite and isinstance(stored, str) else merged
    return (node, first_seen, facets_now)
