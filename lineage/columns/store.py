"""Writing column edges: those an event's ``columnLineage`` facets state (opened and closed like the
job's dataset edges, on intake's own cursor) and those of a declared flow's column mapping."""

from __future__ import annotations

import itertools

from lineage.columns.facet import ColumnEdge, facet_edges
from lineage.events import OPENING_STATES, ParsedEvent
from lineage.store import Raw, chunks

#: a ``ColumnEdge``'s seven values are columns of the same names, in the tuple's order; then what one
#: insert's edges share
_EDGE_COLUMNS = ColumnEdge._fields
_SHARED_COLUMNS = ("job", "valid_from", "valid_to", "event_id", "flow_id")
_COLUMNS = _EDGE_COLUMNS + _SHARED_COLUMNS


_INSERT = f"INSERT INTO lineage_column_edge ({', '.join(_COLUMNS)}) "
_INSERT_PG = _INSERT + "VALUES (" + ", ".join("%s" for _ in _COLUMNS) + ")"


def event_column_edges(parsed: ParsedEvent) -> dict[str, list[ColumnEdge]]:
    """Output dataset id → the column edges its ``columnLineage`` facet states (only datasets that
    carry one: an event without the facet says nothing about that dataset's columns)."""
    out = {}
    for ds in [*parsed.outputs, *parsed.datasets]:
        facet = (ds.get("facets") or {}).get("columnLineage")
        if isinstance(facet, dict):
            out[ds["id"]] = facet_edges(facet, ds["id"])
    return out


def apply_event(raw: Raw, parsed: ParsedEvent, jid: str | None, event_id: int, at, new_nodes: set[str]):
    """Open the column edges the event's facets state that are not open yet (for this job and output);
    a COMPLETE run, a JobEvent or a DatasetEvent ends the open ones of that output its facet no longer
    states. FAIL/ABORT/OTHER change nothing. Returns ``{"opened": n, "closed": n}`` or None when the
    event carries no ``columnLineage``. The caller holds the writers' lock."""
    if parsed.kind == "RunEvent" and parsed.event_type not in OPENING_STATES:
        return None
    wanted_by_output = event_column_edges(parsed)
    if not wanted_by_output:
        return None
    ends = parsed.kind != "RunEvent" or parsed.event_type == "COMPLETE"
    opened = closed = 0
    for output, wanted in sorted(wanted_by_output.items()):
        fresh = output in new_nodes or (jid is not None and jid in new_nodes)
        current = {} if fresh else _open_edges(raw, output, jid)
        keys = {e.key() for e in wanted} if current else ()
        new = [e for e in wanted if e.key() not in current] if current else wanted  # unique and sorted
        insert(raw, new, job=jid, at=at, event_id=event_id)
        opened += len(new)
        if ends:
            ending = [r for k, r in current.items() if k not in keys and r[1] < at]
            _end(raw, [r[0] for r in ending], event_id, at)
            closed += len(ending)
    return {"opened": opened, "closed": closed}


def insert(raw: Raw, edges: list[ColumnEdge], *, job, at, event_id=None, flow_id=None, until=None) -> None:
    """Insert column edges valid from ``at`` (``raw.time``) to ``until``, in their order. PostgreSQL: one
    prepared statement run for every row (psycopg's ``executemany`` pipelines them); SQLite: one
    ``INSERT … SELECT`` per few hundred edges, the edges' own tuples as its ``VALUES`` rows and what
    they share bound once (at 50 edges, 40% less than a 12-value row each: binding is most of it)."""
    if not edges:
        return
    shared = (job, at, until, event_id, flow_id)
    if raw.pg:
        raw.cur.executemany(_INSERT_PG, [e + shared for e in edges])
        return
    for start in range(0, len(edges), _SQLITE_ROWS):
        part = edges[start : start + _SQLITE_ROWS]
        raw.cur.execute(_sqlite_insert(len(part)), [*shared, *itertools.chain.from_iterable(part)])


#: edges per SQLite statement: 7 parameters each, within the 999 of older SQLite builds
_SQLITE_ROWS = (999 - len(_SHARED_COLUMNS)) // len(_EDGE_COLUMNS)
_SQLITE_INSERTS: dict[int, str] = {}


def _sqlite_insert(n: int) -> str:
    """SQLite reads a ``VALUES`` list in a ``FROM`` in its order (the edges' ids follow it)."""
    sql = _SQLITE_INSERTS.get(n)
    if sql is None:
        values = ", ".join(f"column{i + 1}" for i in range(len(_EDGE_COLUMNS)))
        shared = ", ".join("?" for _ in _SHARED_COLUMNS)
        group = "(" + ", ".join("?" for _ in _EDGE_COLUMNS) + ")"
        sql = _SQLITE_INSERTS[n] = (
            f"{_INSERT}SELECT {values}, {shared} FROM (VALUES {', '.join([group] * n)})"
        )
    return sql


def _open_edges(raw: Raw, output: str, jid: str | None) -> dict[tuple, tuple]:
    """The output's open column edges from events of this job (or of no job): key → (id, valid_from)."""
    job_clause = "job IS NULL" if jid is None else "job = :job"
    cur = raw.run(
        "SELECT id, valid_from, source, target, transformations FROM lineage_column_edge "
        f"WHERE target_dataset = :ds AND {job_clause} AND flow_id IS NULL AND valid_to IS NULL",
        {"ds": output, "job": jid},
    )
    # valid_from as the driver gives it: comparable with ``at`` (both text on SQLite, as intake's)
    return {(r[2], r[3], r[4]): (r[0], r[1]) for r in cur.fetchall()}


def _end(raw: Raw, ids: list[int], event_id: int, at) -> None:
    for part in chunks(ids):
        params = {f"i{n}": i for n, i in enumerate(part)}
        raw.run(
            f"UPDATE lineage_column_edge SET valid_to = :when, closed_by = :event "
            f"WHERE id IN ({', '.join(':' + k for k in params)})",
            {"when": at, "event": event_id, **params},
        )
