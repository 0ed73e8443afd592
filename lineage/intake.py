"""OpenLineage intake: one event stored, applied to the graph (nodes, edges opened and closed) and
audited on the driver connection, in a transaction shared with concurrent events (lineage.group_commit)."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage import group_commit
from lineage.columns import store as column_store
from lineage.events import OPENING_STATES, ParsedEvent, load_event_body, validate_event
from lineage.ids import dataset_id, job_id
from lineage.models import NODE_ID, LineageEvent
from lineage.snapshots import EVENT_ENTITY, event_after
from lineage.store import (
    INTEGRITY_ERRORS,
    Raw,
    chunks,
    finite_json,
    stored_json,
    upsert_nodes,
    writers_queue,
)
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
    "warnings",
)
_ALIAS_COLUMNS = ("alias", "node_id", "type", "event_id")
#: ``valid_to``/``closed_by`` too: an edge a batch opened may be ended by a later event of the same batch
#: while its row still waits to be written (``Raw.update_pending``)
_EDGE_COLUMNS = (
    "source",
    "target",
    "kind",
    "job",
    "valid_from",
    "run_id",
    "event_id",
    "valid_to",
    "closed_by",
)
_INSERT_EVENT = (
    f"INSERT INTO lineage_event ({', '.join(_EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)}) RETURNING id"
)


_EVENT_ID_COLUMNS = ("id", *_EVENT_COLUMNS)


def ingest(session: Session, body: bytes | str | dict, *, actor: str) -> tuple[dict, bool]:
    """Store one OpenLineage event and apply it to the graph, as one audited change; commit.

    Returns (summary, created); the summary's ``warnings`` say what was assumed to read the event
    (kept with it, see ``events.validate_event``). An event already stored (same canonical JSON, e.g. a client retry)
    is not stored twice and gives created False. Raises Invalid for a malformed event, with nothing
    stored. Edges open at the event's time and end by the edge-ending rule (``_ending``).
    """
    apply, alone, key, data = _prepared(session, body, actor)
    committer = group_commit.committer(session, _begin_batch, _settle_batch)
    return committer.submit(session, apply, alone, key=key, data=data)


def ingest_many(session: Session, bodies: list, *, actor: str) -> list[tuple[dict, bool]]:
    """``ingest`` for events at hand (a bulk load): written in order, ``MAX_BATCH`` to a transaction,
    each answered as ``ingest`` answers. Raises Invalid for the first malformed event, with nothing
    stored (all are read before any is written)."""
    prepared = [_prepared(session, body, actor) for body in bodies]
    committer = group_commit.committer(session, _begin_batch, _settle_batch)
    return committer.write_together(session, prepared)


def _prepared(session: Session, body, actor: str):
    """An event read, validated and hashed (before any lock): what ``GroupCommit`` needs to write it."""
    event, raw = (body, None) if isinstance(body, dict) else load_event_body(body)
    parsed = validate_event(event)
    text = canonical(event)
    finite = finite_json(text)  # orjson may write the stored JSON (``stored_json``)
    if raw is None:  # the text kept is not hashed: the sha256 is the canonical form's
        raw = stored_json(event, finite=finite)
    row = _event_row(parsed, sha256_hex(text), raw, actor) | {"finite": finite}
    nodes = _nodes_of(parsed)
    return (
        lambda raw: (_statements(raw, parsed, row, nodes, actor, job_locked=True), True),
        lambda: _ingest_alone(session, parsed, row, nodes, actor),
        _job_key(parsed, row),
        (nodes, row["event_time"], finite, row["sha256"], parsed.warnings),
    )


def _ingest_alone(session: Session, parsed: ParsedEvent, row: dict, nodes: dict, actor: str):
    """One event in its own transaction: the path of a batch that failed (a resent event, a race)."""
    with writers_queue(session):
        return _ingest_retrying(session, parsed, row, nodes, actor)


def _job_key(parsed: ParsedEvent, row: dict) -> str:
    return job_id(*parsed.job) if parsed.job else row["sha256"]


def _begin_batch(raw: Raw, keys: list[str], events: list[tuple[dict, object, bool]]) -> None:
    """A batch's work done once for all its events before any of their statements: PostgreSQL takes its
    jobs' locks first, in one order (the lock keys'); then (both databases) it draws its events' ids,
    looks up every node its events name and inserts those that are new. So no event's statements wait
    for an answer (PostgreSQL's pipeline mode works through them while the next are prepared), and on
    SQLite the batch makes two statements instead of two per event, each a turn for other threads at
    the GIL. ``events``: each item's ``(nodes, event time, finite, sha256, warnings)`` (``finite``: its
    facets hold no NaN, see ``store.stored_json``)."""
    if raw.pg and keys:
        raw.run(
            "SELECT pg_advisory_xact_lock(:space, h) FROM "
            "(SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS s",
            {"space": _JOB_LOCK_SPACE, "keys": keys},
        )
    raw.reserve_event_ids(len(events))
    raw.prefetch_nodes([n for nodes, *_ in events for n in nodes])
    # the open edges of the batch's jobs that exist (a job not yet stored has none): an event's edge
    # changes then need no statement that waits for an answer (a COMPLETE re-lists its START's edges)
    _prefetch_open_edges(raw, [k for k in keys if k in raw.node_rows])
    raw.create_nodes([(nodes, raw.time(at), finite) for nodes, at, finite, *_ in events])


def _settle_batch(session: Session, events: list[tuple], exc: Exception) -> dict:
    """A batch that failed on a unique violation (rolled back): its events that need no write — stored
    already (a client's retry, the same event from two producers) answered as ``ingest`` answers a
    duplicate, a second copy within the batch sent alone (it finds the first once that is stored) — so
    that the others are written again together, not one by one. ``events``: the items' data, as for
    ``_begin_batch``. Empty: no such event (the batch goes event by event, as any failed batch)."""
    if not isinstance(exc, INTEGRITY_ERRORS):
        return {}
    digests = [sha for _, _, _, sha, _ in events]
    rows = session.execute(
        select(LineageEvent.sha256, LineageEvent.id).where(LineageEvent.sha256.in_(set(digests)))
    )
    stored = dict(rows.all())
    settled, seen = {}, set()
    for n, (_, _, _, sha, warnings) in enumerate(events):
        if sha in stored:
            settled[n] = ({"id": stored[sha], "sha256": sha, "duplicate": True, "warnings": warnings}, False)
        elif sha in seen:
            settled[n] = group_commit.ALONE
        seen.add(sha)
    return settled


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
        "warnings": parsed.warnings or None,
    }


def _nodes_of(parsed: ParsedEvent) -> dict[str, dict]:
    """Every dataset and the job the event names, with the datasets' facets merged."""
    nodes: dict[str, dict] = {}
    for ds in [*parsed.inputs, *parsed.outputs, *parsed.datasets]:
        entry = nodes.setdefault(ds["id"], {"type": "dataset", **ds, "facets": None})
        if ds["facets"]:
            entry["facets"] = {**(entry["facets"] or {}), **ds["facets"]}
    for job in (parsed.job, parsed.parent):
        if job:
            nodes[job_id(*job)] = {"type": "job", "namespace": job[0], "name": job[1]}
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
                summary = {"id": existing, "sha256": digest, "duplicate": True}
                return summary | {"warnings": parsed.warnings}, False
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply(session: Session, parsed: ParsedEvent, row: dict, nodes: dict, actor: str):
    """The transaction of one event alone: its statements, then commit."""
    raw = Raw(session)
    summary = _statements(raw, parsed, row, nodes, actor)
    raw.write_audit()
    raw.close()  # before the commit, which may hand the connection back to the pool (and close it)
    session.commit()
    return summary, True


def _statements(
    raw: Raw, parsed: ParsedEvent, row: dict, nodes: dict, actor: str, *, job_locked: bool = False
) -> dict:
    """Store the event, its nodes and edge changes, audit (no commit: one event alone or a batch, which
    took its jobs' locks already: ``job_locked``)."""
    jid = job_id(*parsed.job) if parsed.job else None
    if raw.pg and not job_locked:  # events of one job apply one at a time
        raw.run(
            "SELECT pg_advisory_xact_lock(:space, hashtext(:job))",
            {"space": _JOB_LOCK_SPACE, "job": jid or row["sha256"]},
        )
    at = raw.time(row["event_time"])
    # a resent event fails here on the unique sha256, and the caller answers with the stored one
    params = {c: row[c] for c in _EVENT_COLUMNS} | {
        "event_time": at,
        "received_at": raw.time(row["received_at"]),
        "warnings": raw.json(row["warnings"], finite=True),  # strings
    }
    event_id = raw.event_id()
    if event_id is None:
        event_id = raw.run(_INSERT_EVENT, params).fetchone()[0]
    else:  # drawn with the batch: nothing to wait for, written with the batch's (``Raw.defer``)
        raw.defer("lineage_event", _EVENT_ID_COLUMNS, [(event_id, *(params[c] for c in _EVENT_COLUMNS))])
    new_nodes = upsert_nodes(raw, nodes, at, finite=row["finite"])
    opened, closed = [], []
    applies = parsed.kind != "RunEvent" or parsed.event_type in OPENING_STATES
    if jid and applies:
        opened, closed = _edge_changes(raw, parsed, jid, event_id, at, job_is_new=jid in new_nodes)
    gone = _dropped(parsed) if applies else set()
    if gone:  # lifecycleStateChange DROP: the dataset's edges end now
        closed = sorted(set(closed) | _drop(raw, gone, event_id, at))
    aliased = _record_aliases(raw, parsed, event_id)
    if jid and parsed.parent:
        raw.run(
            "UPDATE lineage_node SET parent = :parent WHERE node_id = :job "
            "AND (parent IS NULL OR parent <> :parent)",
            {"parent": job_id(*parsed.parent), "job": jid},
        )
    columns = column_store.apply_event(raw, parsed, jid, event_id, at, new_nodes)
    after = event_after(row, opened, closed, aliased)
    raw.audit(
        actor=actor,
        action="ingest",
        entity_type=EVENT_ENTITY,
        entity_key=str(event_id),
        before=None,
        after=after,
        plain=True,  # strings and lists of strings only (``event_after``)
    )
    summary = {"id": event_id, "sha256": row["sha256"], **after, "warnings": row["warnings"] or []}
    if columns:  # column edges are derived from the body, whose sha256 the audit entry holds
        summary["columns"] = columns
    return summary


def _edge_changes(raw: Raw, parsed: ParsedEvent, jid: str, event_id: int, at, *, job_is_new: bool):
    """Open the job's edges this event lists that are not open yet, and end those the edge-ending rule
    ends (see ``_ending``). Returns (opened, closed) as sorted (source, target, kind)."""
    gone = _dropped(parsed)  # a dropped dataset gets no new edge
    wanted = {(ds["id"], jid, "input") for ds in parsed.inputs if ds["id"] not in gone}
    wanted |= {(jid, ds["id"], "output") for ds in parsed.outputs if ds["id"] not in gone}
    current = raw.open_edges.get(jid)  # known to the batch, as its earlier events left them
    if current is None:  # a new job has no edges yet: no need to look
        current = {} if job_is_new else _open_edges(raw, jid)
    opened = sorted(wanted - set(current))
    raw.defer(
        "lineage_edge",
        _EDGE_COLUMNS,
        [(s, t, k, jid, at, parsed.run_id, event_id, None, None) for s, t, k in opened],
    )
    ending = _ending(raw, parsed, jid, current, wanted, at)
    _end_edges(raw, ending, event_id, at, jid)
    # as this event leaves them, for the batch's next event of the job
    state = {key: r for key, r in current.items() if r not in ending}
    state.update(((s, t, k), (None, s, t, k, at, parsed.run_id)) for s, t, k in opened)
    raw.open_edges[jid] = state
    return opened, sorted((r[1], r[2], r[3]) for r in ending)


def _ending(raw: Raw, parsed: ParsedEvent, jid: str, current: dict, wanted: set, at) -> list[tuple]:
    """The edge-ending rule (docs/lineage.md): what this event ends of the job's open edges.

    - A JobEvent declares the job's lineage: it ends every open edge of the job it no longer lists.
    - A COMPLETE run ends an input edge it does not list only when it speaks for the whole job: it
      writes every output the job has open (another run of the same job name that wrote something
      else — Spark names jobs ``app.action`` — ends nothing). So a run never ends an output edge, nor
      what its own earlier events (START, RUNNING) listed; a COMPLETE listing no dataset ends nothing.
    - Nothing ends an edge opened at or after the event's time, nor one this run opened.
    """
    if parsed.kind == "JobEvent":
        return [r for key, r in current.items() if key not in wanted and r[4] < at]
    if parsed.event_type != "COMPLETE" or not wanted:
        return []
    candidates = [
        r
        for key, r in current.items()
        if key not in wanted and r[4] < at and (r[5] is None or r[5] != parsed.run_id)
    ]
    if not candidates:
        return []
    open_outputs = {key[1] for key in current if key[2] == "output"}
    listed = wanted | _listed_earlier(raw, parsed, jid)
    if not open_outputs <= {t for _, t, k in listed if k == "output"}:
        return []  # the run wrote part of what the job writes: it speaks for its part, ends nothing
    return [r for r in candidates if (r[1], r[2], r[3]) not in listed]


def _listed_earlier(raw: Raw, parsed: ParsedEvent, jid: str) -> set[tuple]:
    """The edges the run's earlier stored events (its START, RUNNING…) listed (only read when the
    rule would end something)."""
    listed = set()
    if parsed.run_id is None:
        return listed
    cur = raw.run(
        "SELECT body FROM lineage_event WHERE run_id = :run AND job_namespace = :ns AND job_name = :name",
        {"run": parsed.run_id, "ns": parsed.job[0], "name": parsed.job[1]},
    )
    for (body,) in cur.fetchall():
        event = json.loads(body)
        for key, kind in (("inputs", "input"), ("outputs", "output")):
            for ds in event.get(key) or []:
                if (
                    isinstance(ds, dict)
                    and isinstance(ds.get("namespace"), str)
                    and isinstance(ds.get("name"), str)
                ):
                    node = dataset_id(ds["namespace"], ds["name"])
                    listed.add((node, jid, kind) if kind == "input" else (jid, node, kind))
    return listed


#: one index probe per job (``store._KNOWN_PG``'s reason). ``OFFSET 0`` keeps the subquery a subquery:
#: flattened into a join, on an edge table autovacuum has not analyzed yet (a new database's first
#: minute: every benchmark run) it was planned as a scan of every edge per batch
_OPEN_EDGES_PG = (
    "SELECT e.id, e.source, e.target, e.kind, e.valid_from, e.run_id, e.job "
    "FROM unnest(CAST(:jobs AS text[])) AS k(job) CROSS JOIN LATERAL (SELECT id, source, target, kind, "
    "valid_from, run_id, job FROM lineage_edge WHERE job = k.job AND flow_id IS NULL AND valid_to IS NULL "
    "OFFSET 0) AS e"
)


def _prefetch_open_edges(raw: Raw, jobs: list[str]) -> None:
    """``_open_edges`` of every job at once, into ``raw.open_edges`` (the batch holds the jobs' locks)."""
    found: dict[str, dict[tuple, tuple]] = {job: {} for job in jobs}
    if raw.pg and jobs:
        rows = raw.run(_OPEN_EDGES_PG, {"jobs": jobs}).fetchall()
    else:
        rows = []
        for part in chunks(jobs):
            cur = raw.cur.execute(
                "SELECT id, source, target, kind, valid_from, run_id, job FROM lineage_edge "
                f"WHERE job IN ({', '.join('?' * len(part))}) AND flow_id IS NULL AND valid_to IS NULL",
                part,
            )
            rows += cur.fetchall()
    for r in rows:
        found[r[6]][(r[1], r[2], r[3])] = r[:6]
    raw.open_edges.update(found)


def _open_edges(raw: Raw, jid: str) -> dict[tuple, tuple]:
    """The job's open event edges: (source, target, kind) → (id, source, target, kind, valid_from, run_id)."""
    cur = raw.run(
        "SELECT id, source, target, kind, valid_from, run_id FROM lineage_edge "
        "WHERE job = :job AND flow_id IS NULL AND valid_to IS NULL",
        {"job": jid},
    )
    return {(r[1], r[2], r[3]): r for r in cur.fetchall()}


_END_OPENED = (
    "UPDATE lineage_edge SET valid_to = :when, closed_by = :event WHERE job = :job AND source = :source "
    "AND target = :target AND kind = :kind AND valid_to IS NULL AND flow_id IS NULL"
)


def _end_edges(raw: Raw, ending: list[tuple], event_id: int, at, jid: str | None = None) -> None:
    """End these edges (``_open_edges``' rows) at ``at``; those without an id (opened by the batch, of
    job ``jid``) in their row still to be written, or by their key once it is."""
    for r in ending:
        if r[0] is not None:
            continue
        where = {"source": r[1], "target": r[2], "kind": r[3], "job": jid, "valid_to": None}
        ended = {"valid_to": at, "closed_by": event_id}
        if not raw.update_pending("lineage_edge", _EDGE_COLUMNS, where, ended):
            raw.run(
                _END_OPENED,
                {"when": at, "event": event_id, **{k: where[k] for k in where if k != "valid_to"}},
            )
    ending = [r for r in ending if r[0] is not None]
    for part in chunks(ending):
        ids = {f"i{n}": r[0] for n, r in enumerate(part)}
        raw.run(
            f"UPDATE lineage_edge SET valid_to = :when, closed_by = :event "
            f"WHERE id IN ({', '.join(':' + k for k in ids)})",
            {"when": at, "event": event_id, **ids},
        )


# --- what the events say: DROP, symlinks ----------------------------------------------------


def _dropped(parsed: ParsedEvent) -> set[str]:
    """The datasets the event says are dropped (``lifecycleStateChange: DROP``)."""
    gone = set()
    for ds in [*parsed.inputs, *parsed.outputs, *parsed.datasets]:
        change = (ds["facets"] or {}).get("lifecycleStateChange")
        if isinstance(change, dict) and change.get("lifecycleStateChange") == "DROP":
            gone.add(ds["id"])
    return gone


def _drop(raw: Raw, gone: set[str], event_id: int, at) -> set[tuple]:
    """End every open event edge into or out of the dropped datasets at ``at`` (declared flows are
    ended by hand). Returns the edges ended."""
    ending = []
    for node in sorted(gone):
        cur = raw.run(
            "SELECT id, source, target, kind, valid_from, run_id FROM lineage_edge "
            "WHERE (source = :node OR target = :node) AND valid_to IS NULL AND flow_id IS NULL "
            "AND valid_from < :at",
            {"node": node, "at": at},
        )
        ending += cur.fetchall()
    _end_edges(raw, ending, event_id, at)
    raw.open_edges.clear()  # what the batch knew of its jobs' edges may hold edges just ended: look again
    return {(r[1], r[2], r[3]) for r in ending}


def _aliases(parsed: ParsedEvent) -> list[tuple[str, str, str | None]]:
    """(alias, dataset, identifier type) from every ``symlinks`` facet of the event."""
    out = []
    for ds in [*parsed.inputs, *parsed.outputs, *parsed.datasets]:
        facet = (ds["facets"] or {}).get("symlinks")
        identifiers = facet.get("identifiers") if isinstance(facet, dict) else None
        for ident in identifiers if isinstance(identifiers, list) else []:
            if not isinstance(ident, dict):
                continue
            ns, name, kind = ident.get("namespace"), ident.get("name"), ident.get("type")
            if not (isinstance(ns, str) and ns and isinstance(name, str) and name):
                continue
            alias = dataset_id(ns, name)
            if alias != ds["id"] and len(alias) <= NODE_ID:
                out.append((alias, ds["id"], kind[:100] if isinstance(kind, str) else None))
    return sorted(set(out))


def _record_aliases(raw: Raw, parsed: ParsedEvent, event_id: int) -> list[tuple[str, str]]:
    """Store the aliases not known yet; returns those this event added as sorted (alias, dataset)."""
    rows = _aliases(parsed)
    returned = raw.insert_rows(
        "lineage_alias",
        _ALIAS_COLUMNS,
        [(alias, node, kind, event_id) for alias, node, kind in rows],
        "ON CONFLICT (alias, node_id) DO NOTHING RETURNING alias, node_id",
    )
    return sorted((r[0], r[1]) for r in returned)
