"""What the audit chain holds for lineage: an event's ``after`` (its sha256 and the edges it opened and
closed) and a flow's, and their registration so ``audit verify`` rebuilds both from the tables."""

from __future__ import annotations

import collections
import json

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from lineage.ids import iso, job_id
from lineage.models import LineageAlias, LineageEdge, LineageEvent, LineageFlow
from registry import audit
from registry.jsonutil import canonical, sha256_hex

EVENT_ENTITY = "lineage_event"
FLOW_ENTITY = "lineage_flow"


def event_after(row: dict, opened: list, closed: list, aliased: list = ()) -> dict:
    """The audit ``after`` of an ingested event: what intake writes and verify recomputes (``warnings``
    only when something was assumed, so entries written before they existed keep their hashes)."""
    after = {
        "kind": row["kind"],
        "eventType": row["event_type"],
        "eventTime": iso(row["event_time"]),
        "runId": row["run_id"],
        "job": None if row["job_namespace"] is None else job_id(row["job_namespace"], row["job_name"]),
        "sha256": row["sha256"],
        "opened": sorted([list(e) for e in opened]),
        "closed": sorted([list(e) for e in closed]),
    }
    if row.get("warnings"):
        after["warnings"] = list(row["warnings"])
    if aliased:  # the symlinks this event was the first to name
        after["aliased"] = sorted([list(a) for a in aliased])
    return after


def flow_after(flow: LineageFlow) -> dict:
    """The audit state of a declared flow."""
    return flow.to_dict()


def _edges_by_event(session: Session, ids: list[int] | None) -> tuple[dict, dict]:
    """Edges each event opened and each closed: ``{event id: [(source, target, kind)]}`` twice."""
    edges = select(
        LineageEdge.source, LineageEdge.target, LineageEdge.kind, LineageEdge.event_id, LineageEdge.closed_by
    )
    edges = edges.where(or_(LineageEdge.event_id.is_not(None), LineageEdge.closed_by.is_not(None)))
    if ids is not None:
        edges = edges.where(or_(LineageEdge.event_id.in_(ids), LineageEdge.closed_by.in_(ids)))
    opened, closed = collections.defaultdict(list), collections.defaultdict(list)
    for s, t, k, ev, cl in session.execute(edges):
        if ev is not None:
            opened[ev].append((s, t, k))
        if cl is not None:
            closed[cl].append((s, t, k))
    return opened, closed


def event_snapshots(session: Session, ids: list[int] | None = None) -> dict[str, dict]:
    """Every stored event's (or those in ``ids``) ``after`` as the tables hold it now, by id."""
    query = select(
        LineageEvent.id,
        LineageEvent.kind,
        LineageEvent.event_type,
        LineageEvent.event_time,
        LineageEvent.run_id,
        LineageEvent.job_namespace,
        LineageEvent.job_name,
        LineageEvent.body,
        LineageEvent.warnings,
    )
    if ids is not None:
        query = query.where(LineageEvent.id.in_(ids))
    opened, closed = _edges_by_event(session, ids)
    aliases = select(LineageAlias.alias, LineageAlias.node_id, LineageAlias.event_id).where(
        LineageAlias.event_id.is_not(None)
    )
    if ids is not None:
        aliases = aliases.where(LineageAlias.event_id.in_(ids))
    aliased = collections.defaultdict(list)
    for alias, node, ev in session.execute(aliases):
        aliased[ev].append((alias, node))
    out = {}
    for r in session.execute(query).mappings():
        try:
            digest = sha256_hex(canonical(json.loads(r["body"])))
        except ValueError:
            digest = "(body is not JSON)"
        out[str(r["id"])] = event_after(
            {**r, "sha256": digest}, opened[r["id"]], closed[r["id"]], aliased[r["id"]]
        )
    return out


def _event_snapshot(session: Session, key: str) -> dict | None:
    return event_snapshots(session, [int(key)]).get(key) if key.isdigit() else None


def _flow_snapshot(session: Session, key: str) -> dict | None:
    flow = session.get(LineageFlow, int(key)) if key.isdigit() else None
    return None if flow is None else flow_after(flow)


audit.register_entity(
    EVENT_ENTITY,
    _event_snapshot,
    lambda s: (str(i) for i in s.scalars(select(LineageEvent.id))),
    event_snapshots,
    tables=("lineage_event", "lineage_edge", "lineage_alias"),
)
audit.register_entity(
    FLOW_ENTITY,
    _flow_snapshot,
    lambda s: (str(i) for i in s.scalars(select(LineageFlow.id))),
    tables=("lineage_flow",),
)
