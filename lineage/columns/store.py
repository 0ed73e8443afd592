"""Writing column edges: those an event's ``columnLineage`` facets state (opened and closed like the
job's dataset edges, on intake's own cursor) and those of a declared flow's column mapping.

A row of ``lineage_column_edge`` holds every edge one event (or flow) opened on one output, packed
(``pack``): the first column-level question reads a row per (event, output) instead of one per edge,
and intake writes one row (and one index entry) per output instead of dozens. Each edge keeps its
own validity: an event that ends some of a row's edges and not the others splits the row."""

from __future__ import annotations

import json

import orjson

from lineage.columns.facet import FIELD_PREFIX, ColumnEdge, facet_edges
from lineage.events import OPENING_STATES, ParsedEvent
from lineage.store import Raw

_new_edge = tuple.__new__

_COLUMNS = (
    "target_dataset",
    "job",
    "valid_from",
    "valid_to",
    "event_id",
    "closed_by",
    "flow_id",
    "edge_count",
    "edges",
)
_INSERT = (
    f"INSERT INTO lineage_column_edge ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"
)


def pack(edges: list[ColumnEdge]) -> str:
    """The stored form of edges that share their target dataset: ``[transformations, groups]`` (see
    ``lineage.models.LineageColumnEdge``), the edges in their order."""
    index: dict[str, int] = {}
    groups: list[list] = []
    last = None
    for e in edges:
        if last is None or last[0] != e[0]:
            last = [e[0], [], [], []]
            groups.append(last)
        last[1].append(e[1])
        last[2].append(e[3])
        i = index.get(e[4])
        if i is None:
            i = index[e[4]] = len(index)
        last[3].append(i)
    value = [list(index), groups]
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate: escaped, as json writes it
        return json.dumps(value, separators=(",", ":"))


def load_packed(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # an escaped lone surrogate (``pack``'s fallback)
        return json.loads(text)


def unpack(text: str, target_dataset: str) -> list[ColumnEdge]:
    """``pack``'s edges again, in their order."""
    transformations, groups = load_packed(text)
    prefix = FIELD_PREFIX + target_dataset[8:] + ":"  # 8: len("dataset:")
    out = []
    append = out.append
    for source_dataset, fields, targets, trans in groups:
        head = FIELD_PREFIX + source_dataset[8:] + ":"
        for field, target, t in zip(fields, targets, trans, strict=True):
            append(
                _new_edge(
                    ColumnEdge,
                    (
                        source_dataset,
                        field,
                        target_dataset,
                        target,
                        transformations[t],
                        head + field,
                        target_dataset if target is None else prefix + target,
                    ),
                )
            )
    return out


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
        current = () if fresh else _open_rows(raw, output, jid)
        if current:
            keys = {e.key() for e in wanted}
            open_keys = {e.key() for _, _, _, edges in current for e in edges}
            new = [e for e in wanted if e.key() not in open_keys]  # unique and sorted
        else:
            new = wanted
        insert(raw, new, job=jid, at=at, event_id=event_id, defer=True)
        opened += len(new)
        if ends:
            for row_id, valid_from, opened_by, edges in current:
                if not valid_from < at:
                    continue
                ending = [e for e in edges if e.key() not in keys]
                if ending:
                    _end(raw, row_id, edges, ending, output, jid, valid_from, opened_by, event_id, at)
                    closed += len(ending)
    return {"opened": opened, "closed": closed}


def insert(
    raw: Raw, edges: list[ColumnEdge], *, job, at, event_id=None, flow_id=None, until=None, defer=False
) -> None:
    """Insert column edges valid from ``at`` (``raw.time``) to ``until``: a row per target dataset,
    the edges in their order. ``defer``: with the batch's other deferred rows (``Raw.defer``; intake,
    whose batch writes them before its audit entries), else at once."""
    by_target: dict[str, list[ColumnEdge]] = {}
    for e in edges:
        found = by_target.get(e[2])
        if found is None:
            by_target[e[2]] = [e]
        else:
            found.append(e)
    for target, part in by_target.items():
        if defer:
            raw.defer(
                "lineage_column_edge",
                _COLUMNS,
                [(target, job, at, until, event_id, None, flow_id, len(part), pack(part))],
            )
        else:
            _insert_row(raw, target, job, at, until, event_id, None, flow_id, part)


def _insert_row(raw: Raw, target, job, valid_from, valid_to, event_id, closed_by, flow_id, edges) -> None:
    raw.run(
        _INSERT,
        {
            "target_dataset": target,
            "job": job,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "event_id": event_id,
            "closed_by": closed_by,
            "flow_id": flow_id,
            "edge_count": len(edges),
            "edges": pack(edges),
        },
    )


def _open_rows(raw: Raw, output: str, jid: str | None) -> list[tuple]:
    """The output's open rows from events of this job (or of no job): (id, valid_from, event_id,
    edges), valid_from as the driver gives it (comparable with ``at``: both text on SQLite, as
    intake's)."""
    job_clause = "job IS NULL" if jid is None else "job = :job"
    cur = raw.run(
        "SELECT id, valid_from, event_id, edges FROM lineage_column_edge "
        f"WHERE target_dataset = :ds AND {job_clause} AND flow_id IS NULL AND valid_to IS NULL",
        {"ds": output, "job": jid},
    )
    return [(r[0], r[1], r[2], unpack(r[3], output)) for r in cur.fetchall()]


def _end(raw: Raw, row_id, edges, ending, output, jid, valid_from, opened_by, event_id: int, at) -> None:
    """End ``ending`` (some or all of row ``row_id``'s ``edges``) at ``at``: the whole row, or the
    row keeps the others and a new row of the same start and opening event holds the ended ones."""
    if len(ending) == len(edges):
        raw.run(
            "UPDATE lineage_column_edge SET valid_to = :when, closed_by = :event WHERE id = :id",
            {"when": at, "event": event_id, "id": row_id},
        )
        return
    ended = {e.key() for e in ending}
    left = [e for e in edges if e.key() not in ended]
    raw.run(
        "UPDATE lineage_column_edge SET edge_count = :n, edges = :edges WHERE id = :id",
        {"n": len(left), "edges": pack(left), "id": row_id},
    )
    _insert_row(raw, output, jid, valid_from, at, opened_by, event_id, None, ending)
