"""Declared flows: lineage that emits no events (file drops, database syncs), declared, listed and ended."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from lineage.columns import store as column_store
from lineage.columns.facet import ColumnEdge, canonical, transformation
from lineage.ids import iso, parse_time, split_node_id
from lineage.models import LineageColumnEdge, LineageEdge, LineageFlow, LineageNode
from lineage.snapshots import FLOW_ENTITY, flow_after
from lineage.store import Raw, lock_chain, upsert_nodes
from registry import audit
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import jsonable
from registry.paging import DEFAULT_PER_PAGE, Page, paginate

#: the node ids a flow names, and the types each may be
_ENDS = (("source", ("dataset",)), ("target", ("dataset",)), ("job", ("job",)))


def get_flow(session: Session, flow_id: int) -> LineageFlow:
    """The declared flow with this id. Raises NotFound."""
    flow = session.get(LineageFlow, flow_id)
    if flow is None:
        raise NotFound(f"no declared flow with id {flow_id}")
    return flow


def list_flows(
    session: Session, *, active_only: bool = False, page: int = 1, per_page: int = DEFAULT_PER_PAGE
) -> Page:
    """Declared flows by id, one page (only those not ended when ``active_only``)."""
    query = select(LineageFlow).order_by(LineageFlow.id)
    if active_only:
        query = query.where(LineageFlow.valid_to.is_(None))
    return paginate(session, query, page, per_page)


def flow_dict(flow: LineageFlow) -> dict:
    """A declared flow as the API shows it (times as ISO 8601)."""
    return jsonable(flow.to_dict())


def declare_flow(session: Session, values: dict, *, actor: str) -> LineageFlow:
    """Declare a flow source → target (through ``job`` when given) from ``valid_from`` (default now); commit.

    ``source``/``target`` are dataset node ids, ``job`` a job node id. An optional ``valid_to`` ends it.
    Raises Invalid for bad ids or times, Conflict when the same flow is already declared and open.
    """
    parts, valid_from, valid_to = _checked(session, values)
    columns = _checked_columns(values.get("columns"))
    source, target, job = values["source"], values["target"], values.get("job") or None
    lock_chain(session)
    _refuse_open_duplicate(session, source, target, job)
    flow = LineageFlow(
        source=source,
        target=target,
        job=job,
        description=values.get("description"),
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor,
        columns=columns or None,
    )
    session.add(flow)
    session.flush()
    raw = Raw(session)
    upsert_nodes(raw, {values[k]: parts[k] for k in parts}, raw.time(valid_from))
    column_store.insert(
        raw,
        _column_edges(source, target, columns),
        job=job,
        at=raw.time(valid_from),
        flow_id=flow.id,
        until=raw.time(valid_to),
    )
    raw.close()
    pairs = [(source, job, "input"), (job, target, "output")] if job else [(source, target, "flow")]
    edge = {"job": job, "valid_from": valid_from, "valid_to": valid_to, "flow_id": flow.id}
    session.execute(insert(LineageEdge), [{"source": s, "target": t, "kind": k, **edge} for s, t, k in pairs])
    return _audited(session, flow, actor=actor, action="create", before=None)


def _node_parts(session: Session, node: str, *, what: str, types) -> dict:
    """The node's type, namespace and name (as already stored, when it is known). Raises Invalid."""
    kind, namespace, name = split_node_id(node, what=what, types=types)
    known = session.execute(
        select(LineageNode.namespace, LineageNode.name).where(LineageNode.node_id == node)
    ).first()
    if known:
        namespace, name = known
    return {"type": kind, "namespace": namespace, "name": name}


def _checked(session: Session, values: dict):
    """(the nodes by role, valid_from, valid_to) of a flow to declare. Raises Invalid naming every problem."""
    errors, parts = {}, {}
    for key, types in _ENDS:
        value = values.get(key)
        if value in (None, "") and key == "job":
            continue
        if not isinstance(value, str):
            errors[key] = ["required: a node id"]
            continue
        try:
            parts[key] = _node_parts(session, value, what=key, types=types)
        except Invalid as exc:
            errors[key] = [exc.message]
    valid_from = valid_to = None
    try:
        valid_from = parse_time(values.get("valid_from"), what="valid_from")
        valid_to = parse_time(values.get("valid_to"), what="valid_to", default_now=False)
    except Invalid as exc:
        errors.update(exc.errors or {})
    if values.get("source") and values.get("source") == values.get("target"):
        errors["target"] = ["a flow needs a target other than its source"]
    if valid_to is not None and valid_from is not None and valid_to <= valid_from:
        errors["valid_to"] = ["must be later than valid_from"]
    if errors:
        raise Invalid("the flow is invalid: " + "; ".join(f"{k}: {v[0]}" for k, v in errors.items()), errors)
    return parts, valid_from, valid_to


def _checked_columns(columns) -> list[dict]:
    """A flow's column mapping: ``[{"source": field, "target": field, "transformation"?}]`` (field names
    of the source and target datasets; the transformation defaults to DIRECT/IDENTITY). Raises Invalid."""
    if columns in (None, []):
        return []
    problems = []
    out = []
    if not isinstance(columns, list):
        problems.append("must be a list of {source, target, transformation?}")
        columns = []
    for i, item in enumerate(columns):
        names = [item.get(k) if isinstance(item, dict) else None for k in ("source", "target")]
        trans = item.get("transformation") if isinstance(item, dict) else None
        if not all(isinstance(n, str) and n.strip() and ":" not in n for n in names):
            problems.append(f"[{i}]: source and target must be field names (no colon)")
            continue
        if trans is not None and not isinstance(trans, dict):
            problems.append(f"[{i}]: transformation must be an object")
            continue
        trans = transformation(trans or {"type": "DIRECT", "subtype": "IDENTITY"})
        out.append({"source": names[0].strip(), "target": names[1].strip(), "transformation": trans})
    if problems:
        raise Invalid("the flow's columns are invalid: " + "; ".join(problems), {"columns": problems})
    return out


def _column_edges(source: str, target: str, columns: list[dict]) -> list[ColumnEdge]:
    edges: dict[tuple, list[dict]] = {}
    for c in columns:
        edges.setdefault((c["source"], c["target"]), []).append(c["transformation"])
    return [ColumnEdge.of(source, s, target, t, canonical(trans)) for (s, t), trans in sorted(edges.items())]


def _refuse_open_duplicate(session: Session, source: str, target: str, job: str | None) -> None:
    duplicate = session.scalar(
        select(LineageFlow.id).where(
            LineageFlow.source == source,
            LineageFlow.target == target,
            LineageFlow.job.is_(None) if job is None else LineageFlow.job == job,
            LineageFlow.valid_to.is_(None),
        )
    )
    if duplicate is not None:
        raise Conflict(f"this flow is already declared (flow {duplicate}); end it before declaring it again")


def end_flow(session: Session, flow_id: int, *, actor: str, until=None) -> LineageFlow:
    """End a declared flow at ``until`` (default now): it stays in every earlier ``as_of``; commit.

    Raises NotFound, Conflict (already ended), Invalid (``until`` not after the flow began).
    """
    lock_chain(session)
    flow = get_flow(session, flow_id)
    if flow.valid_to is not None:
        raise Conflict(f"flow {flow_id} already ended at {iso(flow.valid_to)}")
    when = parse_time(until, what="until")
    if when <= flow.valid_from:
        raise Invalid("until must be later than the flow's valid_from", {"until": ["not after valid_from"]})
    before = flow_after(flow)
    flow.valid_to = when
    session.execute(
        update(LineageEdge)
        .where(LineageEdge.flow_id == flow.id, LineageEdge.valid_to.is_(None))
        .values(valid_to=when)
    )
    session.execute(
        update(LineageColumnEdge)
        .where(LineageColumnEdge.flow_id == flow.id, LineageColumnEdge.valid_to.is_(None))
        .values(valid_to=when)
    )
    return _audited(session, flow, actor=actor, action="end", before=before)


def _audited(session: Session, flow: LineageFlow, *, actor: str, action: str, before: dict | None):
    """Record the flow's change in the audit chain, commit, and return the flow."""
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type=FLOW_ENTITY,
        entity_key=str(flow.id),
        before=before,
        after=flow_after(flow),
    )
    session.commit()
    return flow
