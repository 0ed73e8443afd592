"""OpenLineage intake: one event stored, applied to the graph (nodes, edges opened and closed) and
audited, in one transaction on the driver connection."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage.columns import store as column_store
from lineage.events import OPENING_STATES, ParsedEvent, load_event_body, validate_event
from lineage.ids import job_id
from lineage.models import NODE_ID, LineageEvent
from lineage.snapshots import EVENT_ENTITY, event_after
from lineage.store import INTEGRITY_ERRORS, Raw, chunks, upsert_nodes, writers_queue
from registry.db import utcnow
from registry.jsonutil import canonical, sha256_hex

#: PostgreSQL: events of the same job take turns (a lock space of their own, apart from the audit chain's)
_JOB_LOCK_SPACE = 0x4C494E  # "LIN"
_EVENT_COLUMNS = (
    "sha256",
    "kind",
    "event_type",
    "event_time",
    "run_id",
    "job_namespace",
    "job_name",
    "producer",
    "body",
    "actor",
    "received_at",
)
_EDGE_COLUMNS = ("source", "target", "kind", "job", "valid_from", "run_id", "event_id")
_INSERT_EVENT = (
    f"INSERT INTO lineage_event ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)}) RETURNING id"
)


def ingest(session: Session, body: bytes | str | dict, *, actor: str) -> tuple[dict, bool]:
    """Store one OpenLineage event and apply it to the graph, as one audited change; commit.

    Returns (summary, created); an event already stored (same canonical JSON, e.g. a client retry)
    is not stored twice and gives created False. Raises Invalid for a malformed event, with nothing
    stored. Edges open at the event's time; a COMPLETE run (or a JobEvent) that no longer lists an
    input or output of its job ends that edge at its time.
    """
    if isinstance(body, dict):
        event, raw = body, json.dumps(body, ensure_ascii=False)
    else:
        event, raw = load_event_body(body)
    parsed = validate_event(event)  # validation and hashing before any lock
    row = _event_row(parsed, sha256_hex(canonical(event)), raw, actor)
    with writers_queue(session):
        return _ingest_retrying(session, parsed, row, _nodes_of(parsed), actor)


def _event_row(parsed: ParsedEvent, digest: str, raw: str, actor: str) -> dict:
    return {
        "sha256": digest,
        "kind": parsed.kind,
        "event_type": parsed.event_type,
        "event_time": parsed.event_time,
        "run_id": parsed.run_id,
        "job_namespace": parsed.job[0] if parsed.job else None,
        "job_name": parsed.job[1] if parsed.job else None,
        "producer": (parsed.producer or "")[:NODE_ID],
        "body": raw,
        "actor": actor,
        "received_at": utcnow(),
    }


def _nodes_of(parsed: ParsedEvent) -> dict[str, dict]:
    """Every dataset and the job the event names, with the datasets' facets merged."""
    nodes: dict[str, dict] = {}
    for ds in [*parsed.inputs, *parsed.outputs, *parsed.datasets]:
        entry = nodes.setdefault(ds["id"], {"type": "dataset", **ds, "facets": None})
        if ds["facets"]:
            entry["facets"] = {**(entry["facets"] or {}), **ds["facets"]}
    if parsed.job:
        nodes[job_id(*parsed.job)] = {"type": "job", "namespace": parsed.job[0], "name": parsed.job[1]}
    return nodes


def _ingest_retrying(session: Session, parsed: ParsedEvent, row: dict, nodes: dict, actor: str):
    digest = row["sha256"]
    for attempt in range(3):
        try:
            return _apply(session, parsed, row, nodes, actor)
        except INTEGRITY_ERRORS:
            # the same event committed by a concurrent request a moment ago, or (PostgreSQL) a dataset
            # first seen by two events at once: the loser tries again and finds it
            session.rollback()
            existing = session.scalar(select(LineageEvent.id).where(LineageEvent.sha256 == digest))
            if existing is not None:
                return {"id": existing, "sha256": digest, "duplicate": True}, False
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply(session: Session, parsed: ParsedEvent, row: dict, nodes: dict, actor: str):
    """The transaction of ``ingest``: store the event, its nodes and edge changes, audit, commit."""
    jid = job_id(*parsed.job) if parsed.job else None
    raw = Raw(session)
    if raw.pg:  # events of one job apply one at a time
        raw.run(
            "SELECT pg_advisory_xact_lock(:space, hashtext(:job))",
            {"space": _JOB_LOCK_SPACE, "job": jid or row["sha256"]},
        )
    at = raw.time(row["event_time"])
    # a resent event fails here on the unique sha256, and the caller answers with the stored one
    params = {c: row[c] for c in _EVENT_COLUMNS} | {
        "event_time": at,
        "received_at": raw.time(row["received_at"]),
    }
    event_id = raw.run(_INSERT_EVENT, params).fetchone()[0]
    new_nodes = upsert_nodes(raw, nodes, at)
    opened, closed = [], []
    if jid and (parsed.kind == "JobEvent" or parsed.event_type in OPENING_STATES):
        opened, closed = _edge_changes(raw, parsed, jid, event_id, at, job_is_new=jid in new_nodes)
    columns = column_store.apply_event(raw, parsed, jid, event_id, at, new_nodes)
    after = event_after(row, opened, closed)
    raw.audit(
        actor=actor,
        action="ingest",
        entity_type=EVENT_ENTITY,
        entity_key=str(event_id),
        before=None,
        after=after,
    )
    session.commit()
    raw.close()
    summary = {"id": event_id, "sha256": row["sha256"], **after}
    if columns:  # column edges are derived from the body, whose sha256 the audit entry holds
        summary["columns"] = columns
    return summary, True


def _edge_changes(raw: Raw, parsed: ParsedEvent, jid: str, event_id: int, at, *, job_is_new: bool):
    """Open the job's edges this event lists that are not open yet; a COMPLETE run (or a JobEvent) ends
    the open ones it no longer lists. Returns (opened, closed) as sorted (source, target, kind)."""
    wanted = {(ds["id"], jid, "input") for ds in parsed.inputs}
    wanted |= {(jid, ds["id"], "output") for ds in parsed.outputs}
    current = {} if job_is_new else _open_edges(raw, jid)  # a new job has no edges yet: no need to look
    opened = sorted(wanted - set(current))
    for part in chunks(opened):
        groups, values = raw.values(
            _EDGE_COLUMNS, [(s, t, k, jid, at, parsed.run_id, event_id) for s, t, k in part]
        )
        raw.run(f"INSERT INTO lineage_edge ({', '.join(_EDGE_COLUMNS)}) VALUES {groups}", values)
    closed = []
    if parsed.kind == "JobEvent" or parsed.event_type == "COMPLETE":
        ending = [
            r
            for key, r in current.items()
            if key not in wanted and r[4] < at and (r[5] is None or r[5] != parsed.run_id)
        ]
        _end_edges(raw, ending, event_id, at)
        closed = sorted((r[1], r[2], r[3]) for r in ending)
    return opened, closed


def _open_edges(raw: Raw, jid: str) -> dict[tuple, tuple]:
    """The job's open event edges: (source, target, kind) → (id, source, target, kind, valid_from, run_id)."""
    cur = raw.run(
        "SELECT id, source, target, kind, valid_from, run_id FROM lineage_edge "
        "WHERE job = :job AND flow_id IS NULL AND valid_to IS NULL",
        {"job": jid},
    )
    return {(r[1], r[2], r[3]): r for r in cur.fetchall()}


def _end_edges(raw: Raw, ending: list[tuple], event_id: int, at) -> None:
    for part in chunks(ending):
        ids = {f"i{n}": r[0] for n, r in enumerate(part)}
        raw.run(
            f"UPDATE lineage_edge SET valid_to = :when, closed_by = :event "
            f"WHERE id IN ({', '.join(':' + k for k in ids)})",
            {"when": at, "event": event_id, **ids},
        )
