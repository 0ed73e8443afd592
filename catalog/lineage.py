"""Lineage service: OpenLineage intake, declared flows, the graph as of any date, and its queries."""

from __future__ import annotations

import bisect
import collections
import contextlib
import datetime as dt
import json
import os
import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field

import networkx as nx
import psycopg
from psycopg.types.json import Json

try:
    import fcntl
except ImportError:  # Windows: the thread lock alone
    fcntl = None

from sqlalchemy import bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.lineage_models import NODE_ID, LineageEdge, LineageEvent, LineageFlow, LineageNode
from catalog.models import DataResource, System
from registry import audit
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import canonical, jsonable, sha256_hex
from registry.paging import Page, paginate

EVENT_ENTITY = "lineage_event"
FLOW_ENTITY = "lineage_flow"
EVENT_KINDS = ("RunEvent", "DatasetEvent", "JobEvent")
RUN_STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
#: run states whose inputs and outputs become edges (a missing eventType counts as RUNNING)
OPENING_STATES = {"START", "RUNNING", "COMPLETE", None}
DIRECTIONS = {"upstream": "upstream", "up": "upstream", "downstream": "downstream", "down": "downstream"}
DIRECTIONS |= {"both": "both"}
LEVELS = ("dataset", "system")
_PG_LOCK_KEY = (
    audit.PG_LOCK_KEY
)  # the audit chain's advisory lock: intake serialises on it from its first read


# --- time -----------------------------------------------------------------------------------


def parse_time(value: str | dt.datetime | None, *, what: str = "as_of", default_now: bool = True):
    """An ISO 8601 date or date-time as naive UTC; a date alone is the start of that day (UTC).

    Raises Invalid for anything else. None gives now (or None when ``default_now`` is false).
    """
    if value is None or value == "":
        return utcnow() if default_now else None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        raw = str(value).strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                moment = dt.datetime.fromisoformat(raw)
            else:
                moment = dt.datetime.fromisoformat(raw.replace("z", "Z"))
        except ValueError:
            raise Invalid(
                f"{what} must be an ISO 8601 date or date-time, e.g. 2025-06-30T00:00:00Z (got {raw!r})",
                {what: ["not an ISO 8601 date-time"]},
            ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def iso(moment: dt.datetime | None) -> str | None:
    """Naive UTC → ``2025-05-01T00:00:00Z`` (microseconds only when present)."""
    return None if moment is None else jsonable(moment)


# --- node ids -------------------------------------------------------------------------------


def dataset_id(namespace: str, name: str) -> str:
    return f"dataset:{namespace}:{name}"


def job_id(namespace: str, name: str) -> str:
    return f"job:{namespace}:{name}"


def split_node_id(
    node: str, *, what: str = "node", types=("dataset", "job", "system")
) -> tuple[str, str, str]:
    """``dataset:{namespace}:{name}`` → (type, namespace, name); ``system:{code}`` → ("system", "", code).

    The name is what follows the last colon (namespaces such as ``postgres://host:5432`` keep theirs).
    Raises Invalid for a malformed id or a type not in ``types``.
    """
    kind, sep, rest = (node or "").partition(":")
    if not sep or kind not in ("dataset", "job", "system") or not rest:
        raise Invalid(
            f"{what} must be a node id: dataset:{{namespace}}:{{name}}, job:{{namespace}}:{{name}} or "
            f"system:{{code}} (got {node!r})",
            {what: ["not a node id"]},
        )
    if kind not in types:
        raise Invalid(
            f"{what} must be a {' or '.join(types)} node (got {node!r})", {what: [f"not a {types[0]}"]}
        )
    if kind == "system":
        return kind, "", rest
    namespace, sep, name = rest.rpartition(":")
    if not sep or not namespace or not name:
        raise Invalid(
            f"{what} must name a namespace and a name: {kind}:{{namespace}}:{{name}} (got {node!r})",
            {what: ["missing namespace or name"]},
        )
    if len(node) > NODE_ID:
        raise Invalid(f"{what} is longer than {NODE_ID} characters", {what: ["too long"]})
    return kind, namespace, name


# --- event validation -----------------------------------------------------------------------


@dataclass
class ParsedEvent:
    """What intake needs from a valid event."""

    kind: str
    event_type: str | None
    event_time: dt.datetime
    run_id: str | None
    job: tuple[str, str] | None
    inputs: list[dict] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    datasets: list[dict] = field(default_factory=list)  # a DatasetEvent's dataset
    producer: str | None = None


def _kind_of(event: dict, errors: dict) -> str | None:
    url = event.get("schemaURL")
    named = None
    if isinstance(url, str):
        match = re.search(r"#/\$defs/(\w+)$", url)
        if match and match.group(1) in EVENT_KINDS:
            named = match.group(1)
        version = re.search(r"/spec/(\d+)-(\d+)-(\d+)/", url)
        if version and version.group(1) != "2":
            errors["schemaURL"] = [
                f"OpenLineage spec {version.group(0).strip('/')} is not accepted: send spec 2-0-2"
            ]
    shape = "RunEvent" if "run" in event else "DatasetEvent" if "dataset" in event else "JobEvent"
    if named and named != shape and not (named == "JobEvent" and shape == "JobEvent"):
        if named == "RunEvent":
            errors.setdefault("run", ["required for a RunEvent"])
        elif named == "DatasetEvent":
            errors.setdefault("dataset", ["required for a DatasetEvent"])
        else:
            errors.setdefault("run", ["a JobEvent has no run"])
    return named or shape


def _check_str(obj: dict, key: str, path: str, errors: dict, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            errors[f"{path}{key}"] = ["required"]
        return None
    if not isinstance(value, str) or not value.strip():
        errors[f"{path}{key}"] = ["must be a non-empty string"]
        return None
    return value


def _check_facets(obj: dict, key: str, path: str, errors: dict) -> None:
    facets = obj.get(key)
    if facets is None:
        return
    if not isinstance(facets, dict):
        errors[f"{path}{key}"] = ["must be an object of facets"]
        return
    for name, facet in facets.items():
        if not isinstance(facet, dict):
            errors[f"{path}{key}.{name}"] = ["a facet must be an object"]
    schema = facets.get("schema")
    if isinstance(schema, dict) and "fields" in schema:
        fields_ = schema["fields"]
        if not isinstance(fields_, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in fields_
        ):
            errors[f"{path}{key}.schema.fields"] = ["must be a list of objects with a name"]
    lineage = facets.get("columnLineage")
    if isinstance(lineage, dict) and "fields" in lineage and not isinstance(lineage["fields"], dict):
        errors[f"{path}{key}.columnLineage.fields"] = ["must be an object keyed by output column"]


def _check_dataset(ds, path: str, errors: dict) -> dict | None:
    if not isinstance(ds, dict):
        errors[path.rstrip(".")] = ["must be an object with namespace and name"]
        return None
    namespace = _check_str(ds, "namespace", path, errors)
    name = _check_str(ds, "name", path, errors)
    _check_facets(ds, "facets", path, errors)
    _check_facets(ds, "inputFacets", path, errors)
    _check_facets(ds, "outputFacets", path, errors)
    if namespace and name:
        node = dataset_id(namespace, name)
        if len(node) > NODE_ID:
            errors[f"{path}name"] = [f"namespace and name together exceed {NODE_ID} characters"]
            return None
        return {"id": node, "namespace": namespace, "name": name, "facets": ds.get("facets") or None}
    return None


def _check_datasets(event: dict, key: str, errors: dict) -> list[dict]:
    items = event.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        errors[key] = ["must be a list of datasets"]
        return []
    out = []
    for i, ds in enumerate(items):
        checked = _check_dataset(ds, f"{key}[{i}].", errors)
        if checked:
            out.append(checked)
    return out


def validate_event(event) -> ParsedEvent:
    """Check an OpenLineage 2-0-2 RunEvent, DatasetEvent or JobEvent; return what intake needs.

    Raises Invalid naming every problem (``errors`` maps a path such as ``inputs[0].name`` to reasons).
    """
    if not isinstance(event, dict):
        raise Invalid("an OpenLineage event must be a JSON object")
    errors: dict[str, list[str]] = {}
    kind = _kind_of(event, errors)
    producer = _check_str(event, "producer", "", errors)
    _check_str(event, "schemaURL", "", errors)
    when = None
    raw_time = event.get("eventTime")
    if raw_time is None:
        errors["eventTime"] = ["required"]
    elif not isinstance(raw_time, str):
        errors["eventTime"] = ["must be an ISO 8601 date-time string"]
    else:
        try:
            parsed = dt.datetime.fromisoformat(raw_time.replace("z", "Z"))
            if parsed.tzinfo is None or "T" not in raw_time.upper():
                errors["eventTime"] = ["must be a date-time with a time zone, e.g. 2025-05-01T08:00:00Z"]
            else:
                when = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        except ValueError:
            errors["eventTime"] = [f"not an ISO 8601 date-time: {raw_time!r}"]
    event_type = run_id = job = None
    inputs = outputs = datasets = []
    if kind in ("RunEvent", "JobEvent"):
        j = event.get("job")
        if not isinstance(j, dict):
            errors["job"] = ["required: an object with namespace and name"]
        else:
            ns, name = _check_str(j, "namespace", "job.", errors), _check_str(j, "name", "job.", errors)
            _check_facets(j, "facets", "job.", errors)
            if ns and name:
                job = (ns, name)
                if len(job_id(ns, name)) > NODE_ID:
                    errors["job.name"] = [f"namespace and name together exceed {NODE_ID} characters"]
        inputs = _check_datasets(event, "inputs", errors)
        outputs = _check_datasets(event, "outputs", errors)
    if kind == "RunEvent":
        run = event.get("run")
        if not isinstance(run, dict):
            errors["run"] = ["required: an object with runId"]
        else:
            rid = run.get("runId")
            try:
                run_id = str(uuid.UUID(rid)) if isinstance(rid, str) else None
            except ValueError:
                run_id = None
            if run_id is None:
                errors["run.runId"] = ["required: a UUID"]
            _check_facets(run, "facets", "run.", errors)
        event_type = event.get("eventType")
        if event_type is not None and event_type not in RUN_STATES:
            errors["eventType"] = [f"one of {', '.join(RUN_STATES)}"]
    elif kind == "DatasetEvent":
        checked = _check_dataset(event.get("dataset"), "dataset.", errors)
        datasets = [checked] if checked else []
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in list(errors.items())[:5])
        raise Invalid(f"the OpenLineage {kind} is malformed: {summary}", errors)
    return ParsedEvent(kind, event_type, when, run_id, job, inputs, outputs, datasets, producer)


def load_event_body(body: bytes | str) -> tuple[dict, str]:
    """Decode a request body into the event and its text. Raises Invalid for non-JSON."""
    try:
        text_ = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text_), text_
    except (UnicodeDecodeError, ValueError) as exc:
        raise Invalid(f"the body is not valid JSON: {exc}") from None


# --- intake ---------------------------------------------------------------------------------


_NODE = LineageNode.__table__
#: statements built once (building a statement costs more than running it on SQLite)
_SEL_NODES = select(_NODE.c.node_id, _NODE.c.first_seen, _NODE.c.facets).where(
    _NODE.c.node_id.in_(bindparam("ids", expanding=True))
)
_INS_NODE = insert(_NODE)
_INS_NODE_PG = (
    postgresql.insert(_NODE).on_conflict_do_nothing(index_elements=["node_id"]).returning(_NODE.c.node_id)
)
_SET_FIRST_SEEN = (
    update(_NODE).where(_NODE.c.node_id == bindparam("nid")).values(first_seen=bindparam("when"))
)
_SET_FACETS = update(_NODE).where(_NODE.c.node_id == bindparam("nid")).values(facets=bindparam("facets"))

#: PostgreSQL: events of the same job take turns (a lock space of their own, apart from the audit chain's)
_JOB_LOCK_SPACE = 0x4C494E  # "LIN"


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


def _lock(session: Session) -> None:
    """Serialise lineage writers from their first read (SQLite writers already hold the write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _touch_nodes(conn, nodes: dict[str, dict], when: dt.datetime) -> set[str]:
    """Insert the nodes not seen yet, move first_seen back for an older event, keep the newest facets.

    Returns the ids that were new. The caller holds the writers' lock.
    """
    if not nodes:
        return set()
    known = {r.node_id: r for r in conn.execute(_SEL_NODES, {"ids": list(nodes)})}
    new = sorted(n for n in nodes if n not in known)  # one order for all writers: no deadlocks
    if new:
        rows = [
            {
                "node_id": n,
                "type": nodes[n]["type"],
                "namespace": nodes[n]["namespace"],
                "name": nodes[n]["name"],
                "facets": nodes[n].get("facets") or None,
                "first_seen": when,
            }
            for n in new
        ]
        if conn.dialect.name == "postgresql":
            # writers of different jobs run side by side: a node another one just created is skipped,
            # then brought in line below like any known node
            inserted = set(conn.execute(_INS_NODE_PG, rows).scalars())
            for n in new:
                if n not in inserted:
                    known[n] = conn.execute(_SEL_NODES, {"ids": [n]}).one()
            new = sorted(inserted)
        else:
            conn.execute(_INS_NODE, rows)
    for node, row in sorted(known.items()):
        if row.first_seen > when:
            conn.execute(_SET_FIRST_SEEN, {"nid": node, "when": when})
        facets = nodes[node].get("facets")
        if facets:
            merged = {**(row.facets or {}), **facets}
            if merged != row.facets:
                conn.execute(_SET_FACETS, {"nid": node, "facets": merged})
    return set(new)


def _event_after(row: dict, opened: list, closed: list) -> dict:
    return {
        "kind": row["kind"],
        "eventType": row["event_type"],
        "eventTime": iso(row["event_time"]),
        "runId": row["run_id"],
        "job": None if row["job_namespace"] is None else job_id(row["job_namespace"], row["job_name"]),
        "sha256": row["sha256"],
        "opened": sorted([list(e) for e in opened]),
        "closed": sorted([list(e) for e in closed]),
    }


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
    parsed = validate_event(event)
    digest = sha256_hex(canonical(event))
    nodes: dict[str, dict] = {}
    for ds in [*parsed.inputs, *parsed.outputs, *parsed.datasets]:
        entry = nodes.setdefault(ds["id"], {"type": "dataset", **ds, "facets": None})
        if ds["facets"]:
            entry["facets"] = {**(entry["facets"] or {}), **ds["facets"]}
    jid = job_id(*parsed.job) if parsed.job else None
    if jid:
        nodes[jid] = {"type": "job", "namespace": parsed.job[0], "name": parsed.job[1]}
    when = parsed.event_time
    row = {
        "sha256": digest,
        "kind": parsed.kind,
        "event_type": parsed.event_type,
        "event_time": when,
        "run_id": parsed.run_id,
        "job_namespace": parsed.job[0] if parsed.job else None,
        "job_name": parsed.job[1] if parsed.job else None,
        "producer": (parsed.producer or "")[:NODE_ID],
        "body": raw,
        "actor": actor,
        "received_at": utcnow(),
    }
    bind = session.get_bind()
    queue = (
        _SQLITE_WRITERS.hold(bind.url.database) if bind.dialect.name == "sqlite" else contextlib.nullcontext()
    )
    with queue:
        return _ingest_retrying(session, parsed, row, nodes, jid, actor)


def _ingest_retrying(
    session: Session, parsed: ParsedEvent, row: dict, nodes: dict, jid: str | None, actor: str
):
    digest = row["sha256"]
    for attempt in range(3):
        try:
            return _apply(session, parsed, row, nodes, jid, actor)
        except _INTEGRITY_ERRORS:
            # the same event committed by a concurrent request a moment ago, or (PostgreSQL) a dataset
            # first seen by two events at once: the loser tries again and finds it
            session.rollback()
            existing = session.scalar(select(LineageEvent.id).where(LineageEvent.sha256 == digest))
            if existing is not None:
                return {"id": existing, "sha256": digest, "duplicate": True}, False
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


class _Raw:
    """Intake's statements on the DBAPI connection of the session's own transaction.

    SQLAlchemy's per-statement work is most of the time the audit chain stays locked for an event
    (the database itself needs a fraction of it), so the hot path speaks each driver's parameter
    style (``:name`` for sqlite3, ``%(name)s`` for psycopg) and value types itself: datetimes as
    SQLAlchemy's SQLite text, JSON as text on SQLite and ``Json`` on PostgreSQL.
    """

    def __init__(self, session: Session):
        conn = session.connection()
        self.pg = conn.dialect.name == "postgresql"
        self.cur = conn.connection.dbapi_connection.cursor()

    def sql(self, statement: str) -> str:
        return re.sub(r":(\w+)", r"%(\1)s", statement) if self.pg else statement

    def time(self, moment: dt.datetime | None):
        if moment is None or self.pg:
            return moment
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def json(self, value):
        if value is None:
            return None
        if self.pg:
            return Json(value)
        return json.dumps(value)

    def load_json(self, value):
        return json.loads(value) if isinstance(value, str) else value

    def run(self, statement: str, params: dict | None = None):
        self.cur.execute(_SQL_CACHE.setdefault((self.pg, statement), self.sql(statement)), params or {})
        return self.cur

    def values(self, columns: tuple[str, ...], rows: list[tuple]) -> tuple[str, dict]:
        """``(:c0_0, :c1_0), (:c0_1, …)`` and its parameters, for a multi-row insert."""
        params, groups = {}, []
        for i, row in enumerate(rows):
            names = [f"{c}_{i}" for c in columns]
            params.update(zip(names, row, strict=True))
            groups.append("(" + ", ".join(":" + n for n in names) + ")")
        return ", ".join(groups), params


_SQL_CACHE: dict[tuple[bool, str], str] = {}
#: rows per multi-row statement: well within SQLite's 32,766 and PostgreSQL's 65,535 parameters
_CHUNK = 500


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


#: a unique key taken (a resent event): SQLAlchemy's wrapper or, on the hot path, the drivers' own
_INTEGRITY_ERRORS = (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)
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
_NODE_COLUMNS = ("node_id", "type", "namespace", "name", "facets", "first_seen")
_EDGE_COLUMNS = ("source", "target", "kind", "job", "valid_from", "run_id", "event_id")
_AUDIT_COLUMNS = tuple(c.name for c in audit.AuditEntry.__table__.columns)


def _apply(session: Session, parsed: ParsedEvent, row: dict, nodes: dict, jid: str | None, actor: str):
    """The transaction of ``ingest``: store the event, its nodes and edge changes, audit, commit."""
    digest, when = row["sha256"], row["event_time"]
    raw = _Raw(session)
    if raw.pg:  # events of one job apply one at a time
        raw.run(
            "SELECT pg_advisory_xact_lock(:space, hashtext(:job))",
            {"space": _JOB_LOCK_SPACE, "job": jid or digest},
        )
    at = raw.time(when)
    # a resent event fails here on the unique sha256, and the caller answers with the stored one
    params = {c: row[c] for c in _EVENT_COLUMNS} | {
        "event_time": at,
        "received_at": raw.time(row["received_at"]),
    }
    event_id = raw.run(
        f"INSERT INTO lineage_event ({', '.join(_EVENT_COLUMNS)}) "
        f"VALUES ({', '.join(':' + c for c in _EVENT_COLUMNS)}) RETURNING id",
        params,
    ).fetchone()[0]
    new_nodes = _raw_nodes(raw, nodes, at)
    opened, closed = [], []
    if jid and (parsed.kind == "JobEvent" or parsed.event_type in OPENING_STATES):
        wanted = {(ds["id"], jid, "input") for ds in parsed.inputs}
        wanted |= {(jid, ds["id"], "output") for ds in parsed.outputs}
        current = {}
        if jid not in new_nodes:  # a job seen for the first time has no edges yet: no need to look
            cur = raw.run(
                "SELECT id, source, target, kind, valid_from, run_id FROM lineage_edge "
                "WHERE job = :job AND flow_id IS NULL AND valid_to IS NULL",
                {"job": jid},
            )
            current = {(r[1], r[2], r[3]): r for r in cur.fetchall()}
        opened = sorted(wanted - set(current))
        if opened:
            for part in _chunks(opened):
                groups, values = raw.values(
                    _EDGE_COLUMNS, [(s, t, k, jid, at, parsed.run_id, event_id) for s, t, k in part]
                )
                raw.run(f"INSERT INTO lineage_edge ({', '.join(_EDGE_COLUMNS)}) VALUES {groups}", values)
        if parsed.kind == "JobEvent" or parsed.event_type == "COMPLETE":
            ending = [
                r
                for key, r in current.items()
                if key not in wanted and r[4] < at and (r[5] is None or r[5] != parsed.run_id)
            ]
            for part in _chunks(ending):
                ids = {f"i{n}": r[0] for n, r in enumerate(part)}
                raw.run(
                    f"UPDATE lineage_edge SET valid_to = :when, closed_by = :event "
                    f"WHERE id IN ({', '.join(':' + k for k in ids)})",
                    {"when": at, "event": event_id, **ids},
                )
            if ending:
                closed = sorted((r[1], r[2], r[3]) for r in ending)
    after = _event_after(row, opened, closed)
    _raw_audit(raw, actor=actor, action="ingest", entity_key=str(event_id), after=after)
    session.commit()
    raw.cur.close()
    return {"id": event_id, "sha256": digest, **after}, True


def _raw_nodes(raw: _Raw, nodes: dict[str, dict], at) -> set[str]:
    """``_touch_nodes`` for intake: insert the new nodes (a node another writer has just created is
    skipped and treated as known), move first_seen back for an older event, keep the newest facets.
    Returns the ids this event created."""
    if not nodes:
        return set()
    ids = sorted(nodes)  # one order for all writers: no deadlocks
    known = {}
    for part in _chunks(ids):
        keys = {f"n{i}": n for i, n in enumerate(part)}
        in_list = ", ".join(":" + k for k in keys)
        sql = f"SELECT node_id, first_seen, facets FROM lineage_node WHERE node_id IN ({in_list})"
        known.update((r[0], r) for r in raw.run(sql, keys).fetchall())
    new = [n for n in ids if n not in known]
    inserted: set[str] = set()
    for part in _chunks(new):
        rows = [
            (
                n,
                nodes[n]["type"],
                nodes[n]["namespace"],
                nodes[n]["name"],
                raw.json(nodes[n].get("facets")),
                at,
            )
            for n in part
        ]
        groups, values = raw.values(_NODE_COLUMNS, rows)
        sql = (
            f"INSERT INTO lineage_node ({', '.join(_NODE_COLUMNS)}) VALUES {groups} "
            "ON CONFLICT (node_id) DO NOTHING RETURNING node_id"
        )
        inserted.update(r[0] for r in raw.run(sql, values).fetchall())
    if new:
        for n in new:
            if n not in inserted:  # created a moment ago by a writer of another job (PostgreSQL)
                known[n] = raw.run(
                    "SELECT node_id, first_seen, facets FROM lineage_node WHERE node_id = :n", {"n": n}
                ).fetchone()
    for node in sorted(known):
        _, first_seen, facets_now = known[node]
        if first_seen > at:
            raw.run("UPDATE lineage_node SET first_seen = :when WHERE node_id = :n", {"when": at, "n": node})
        facets = nodes[node].get("facets")
        if facets:
            current = raw.load_json(facets_now) or {}
            merged = {**current, **facets}
            if merged != current:
                raw.run(
                    "UPDATE lineage_node SET facets = :facets WHERE node_id = :n",
                    {"facets": raw.json(merged), "n": node},
                )
    return inserted


def _raw_audit(raw: _Raw, *, actor: str, action: str, entity_key: str, after: dict) -> None:
    """``registry.audit.record`` on the hot path: the same lock and the entry built by
    ``audit.next_entry``, written with one plain insert (see ``_Raw``)."""
    if raw.pg:
        raw.run("SELECT pg_advisory_xact_lock(:k)", {"k": audit.PG_LOCK_KEY})
    head = raw.run("SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1").fetchone()
    entry = audit.next_entry(
        head,
        actor=actor,
        action=action,
        entity_type=EVENT_ENTITY,
        entity_key=entity_key,
        before=None,
        after=after,
    )
    raw.run(_INSERT_AUDIT, audit.row_values(entry))


_INSERT_AUDIT = (
    f"INSERT INTO audit_entry ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in _AUDIT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _AUDIT_COLUMNS)})"
)


# --- declared flows -------------------------------------------------------------------------


def _node_parts(session: Session, node: str, *, what: str, types) -> dict:
    kind, namespace, name = split_node_id(node, what=what, types=types)
    known = session.execute(
        select(LineageNode.namespace, LineageNode.name).where(LineageNode.node_id == node)
    ).first()
    if known:
        namespace, name = known
    return {"type": kind, "namespace": namespace, "name": name}


def get_flow(session: Session, flow_id: int) -> LineageFlow:
    """The declared flow with this id. Raises NotFound."""
    flow = session.get(LineageFlow, flow_id)
    if flow is None:
        raise NotFound(f"no declared flow with id {flow_id}")
    return flow


def list_flows(session: Session, *, active_only: bool = False, page: int = 1, per_page: int = 1000) -> Page:
    """Declared flows by id, one page (only those not ended when ``active_only``)."""
    query = select(LineageFlow).order_by(LineageFlow.id)
    if active_only:
        query = query.where(LineageFlow.valid_to.is_(None))
    return paginate(session, query, page, per_page)


def declare_flow(session: Session, values: dict, *, actor: str) -> LineageFlow:
    """Declare a flow source → target (through ``job`` when given) from ``valid_from`` (default now); commit.

    ``source``/``target`` are dataset node ids, ``job`` a job node id. An optional ``valid_to`` ends it.
    Raises Invalid for bad ids or times, Conflict when the same flow is already declared and open.
    """
    errors = {}
    parts = {}
    for key, types in (("source", ("dataset",)), ("target", ("dataset",)), ("job", ("job",))):
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
    source, target, job = values["source"], values["target"], values.get("job") or None
    _lock(session)
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
    flow = LineageFlow(
        source=source,
        target=target,
        job=job,
        description=values.get("description"),
        valid_from=valid_from,
        valid_to=valid_to,
        created_by=actor,
    )
    session.add(flow)
    session.flush()
    _touch_nodes(session.connection(), {values[k]: parts[k] for k in parts}, valid_from)
    pairs = [(source, job, "input"), (job, target, "output")] if job else [(source, target, "flow")]
    session.execute(
        insert(LineageEdge),
        [
            {
                "source": s,
                "target": t,
                "kind": k,
                "job": job,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "flow_id": flow.id,
            }
            for s, t, k in pairs
        ],
    )
    audit.record(
        session,
        actor=actor,
        action="create",
        entity_type=FLOW_ENTITY,
        entity_key=str(flow.id),
        before=None,
        after=flow.to_dict(),
    )
    session.commit()
    return flow


def end_flow(session: Session, flow_id: int, *, actor: str, until=None) -> LineageFlow:
    """End a declared flow at ``until`` (default now): it stays in every earlier ``as_of``; commit.

    Raises NotFound, Conflict (already ended), Invalid (``until`` not after the flow began).
    """
    _lock(session)
    flow = get_flow(session, flow_id)
    if flow.valid_to is not None:
        raise Conflict(f"flow {flow_id} already ended at {iso(flow.valid_to)}")
    when = parse_time(until, what="until")
    if when <= flow.valid_from:
        raise Invalid("until must be later than the flow's valid_from", {"until": ["not after valid_from"]})
    before = flow.to_dict()
    flow.valid_to = when
    session.execute(
        update(LineageEdge)
        .where(LineageEdge.flow_id == flow.id, LineageEdge.valid_to.is_(None))
        .values(valid_to=when)
    )
    audit.record(
        session,
        actor=actor,
        action="end",
        entity_type=FLOW_ENTITY,
        entity_key=str(flow.id),
        before=before,
        after=flow.to_dict(),
    )
    session.commit()
    return flow


# --- audit state checks ---------------------------------------------------------------------


def _event_snapshots(session: Session, ids: list[int] | None = None) -> dict[str, dict]:
    query = select(
        LineageEvent.id,
        LineageEvent.kind,
        LineageEvent.event_type,
        LineageEvent.event_time,
        LineageEvent.run_id,
        LineageEvent.job_namespace,
        LineageEvent.job_name,
        LineageEvent.body,
    )
    edges = select(
        LineageEdge.source, LineageEdge.target, LineageEdge.kind, LineageEdge.event_id, LineageEdge.closed_by
    )
    edges = edges.where(or_(LineageEdge.event_id.is_not(None), LineageEdge.closed_by.is_not(None)))
    if ids is not None:
        query = query.where(LineageEvent.id.in_(ids))
        edges = edges.where(or_(LineageEdge.event_id.in_(ids), LineageEdge.closed_by.in_(ids)))
    opened, closed = collections.defaultdict(list), collections.defaultdict(list)
    for s, t, k, ev, cl in session.execute(edges):
        if ev is not None:
            opened[ev].append((s, t, k))
        if cl is not None:
            closed[cl].append((s, t, k))
    out = {}
    for r in session.execute(query).mappings():
        try:
            digest = sha256_hex(canonical(json.loads(r["body"])))
        except ValueError:
            digest = "(body is not JSON)"
        out[str(r["id"])] = _event_after({**r, "sha256": digest}, opened[r["id"]], closed[r["id"]])
    return out


def _event_snapshot(session: Session, key: str) -> dict | None:
    return _event_snapshots(session, [int(key)]).get(key) if key.isdigit() else None


def _flow_snapshot(session: Session, key: str) -> dict | None:
    flow = session.get(LineageFlow, int(key)) if key.isdigit() else None
    return None if flow is None else flow.to_dict()


audit.register_entity(
    EVENT_ENTITY,
    _event_snapshot,
    lambda s: (str(i) for i in s.scalars(select(LineageEvent.id))),
    _event_snapshots,
    tables=("lineage_event", "lineage_edge"),
)
audit.register_entity(
    FLOW_ENTITY,
    _flow_snapshot,
    lambda s: (str(i) for i in s.scalars(select(LineageFlow.id))),
    tables=("lineage_flow",),
)


# --- the graph as of a date -----------------------------------------------------------------


def _catalog(session: Session) -> tuple[dict, dict, dict]:
    """Systems ({code: {name, namespaces}}), namespace → system code, (namespace, name) → resource."""
    systems, by_namespace, resources = {}, {}, {}
    for code, name, namespaces in session.execute(select(System.code, System.name, System.namespaces)):
        systems[code] = {"name": name, "namespaces": list(namespaces or [])}
        for ns in namespaces or []:
            by_namespace.setdefault(ns, code)
    rows = session.execute(
        select(
            DataResource.code,
            DataResource.name,
            DataResource.system,
            DataResource.lineage_namespace,
            DataResource.lineage_name,
        ).where(DataResource.lineage_namespace.is_not(None))
    )
    for code, name, system, ns, lname in rows:
        resources[(ns, lname)] = {"code": code, "name": name, "system": system}
    return systems, by_namespace, resources


class Timeline:
    """Every node and edge interval at one audit head; graphs as of a date are cut from it and cached."""

    MAX_GRAPHS = 8  # a graph of 60,000 edges is tens of MB: keep a few dates, not every one asked

    def __init__(self, session: Session, head: str | None):
        self.head = head
        self.systems, self.by_namespace, self.resources = _catalog(session)
        self.nodes: dict[str, dict] = {}
        times = set()
        for node, kind, ns, name, first_seen in session.execute(
            select(
                LineageNode.node_id,
                LineageNode.type,
                LineageNode.namespace,
                LineageNode.name,
                LineageNode.first_seen,
            )
        ):
            resource = self.resources.get((ns, name)) if kind == "dataset" else None
            self.nodes[node] = {
                "id": node,
                "type": kind,
                "name": name,
                "namespace": ns,
                "system": self.by_namespace.get(ns),
                "resource": resource["code"] if resource else None,
                "first_seen": first_seen,
            }
            times.add(first_seen)
        self.edges = []
        for s, t, k, vf, vt in session.execute(
            select(
                LineageEdge.source,
                LineageEdge.target,
                LineageEdge.kind,
                LineageEdge.valid_from,
                LineageEdge.valid_to,
            )
        ):
            self.edges.append((s, t, k, vf, vt))
            times.add(vf)
            if vt is not None:
                times.add(vt)
        self.boundaries = sorted(times)
        self._graphs: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def bucket(self, as_of: dt.datetime) -> int:
        """Every ``as_of`` between two consecutive interval boundaries sees the same graph."""
        return bisect.bisect_right(self.boundaries, as_of)

    def graph(self, as_of: dt.datetime, level: str = "dataset") -> Graph:
        key = (self.bucket(as_of), level)
        with self._lock:
            cached = self._graphs.get(key)
            if cached is not None:
                self._graphs.move_to_end(key)
                return cached
        built = self._build(as_of) if level == "dataset" else self._system_level(self.graph(as_of, "dataset"))
        with self._lock:
            self._graphs[key] = built
            while len(self._graphs) > self.MAX_GRAPHS:
                self._graphs.popitem(last=False)
        return built

    def _build(self, as_of: dt.datetime) -> Graph:
        g = nx.DiGraph()
        g.add_nodes_from((n, attrs) for n, attrs in self.nodes.items() if attrs["first_seen"] <= as_of)
        intervals = {}
        for s, t, k, vf, vt in self.edges:
            if vf <= as_of and (vt is None or as_of < vt) and s in g and t in g and not g.has_edge(s, t):
                g.add_edge(s, t, kind=k)
                intervals[(s, t)] = (vf, vt)
        nx.set_edge_attributes(g, {key: v[0] for key, v in intervals.items()}, "valid_from")
        nx.set_edge_attributes(g, {key: v[1] for key, v in intervals.items()}, "valid_to")
        return Graph(g, "dataset", self)

    def _system_level(self, dataset_graph: Graph) -> Graph:
        g0 = dataset_graph.g
        g = nx.DiGraph()
        for code in sorted({a["system"] for _, a in g0.nodes(data=True) if a["system"]}):
            info = self.systems.get(code, {"name": code})
            g.add_node(
                f"system:{code}",
                id=f"system:{code}",
                type="system",
                name=info["name"],
                system=code,
                resource=None,
            )
        pairs = collections.Counter()
        for node, attrs in g0.nodes(data=True):
            if attrs["type"] != "dataset" or not attrs["system"]:
                continue
            seen, stack = {node}, list(g0.successors(node))
            while stack:
                nxt = stack.pop()
                if nxt in seen:
                    continue
                seen.add(nxt)
                a = g0.nodes[nxt]
                if a["type"] == "dataset" and a["system"]:
                    if a["system"] != attrs["system"]:
                        pairs[(attrs["system"], a["system"])] += 1
                    continue
                stack.extend(g0.successors(nxt))
        for (a, b), count in pairs.items():
            g.add_edge(f"system:{a}", f"system:{b}", kind="feeds", datasets=count)
        return Graph(g, "system", self)


class Graph:
    """One cut of the timeline (dataset or system level) with memoised query results."""

    def __init__(self, g: nx.DiGraph, level: str, timeline: Timeline):
        self.g = g
        self.level = level
        self.timeline = timeline
        self._impacts: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._index = None

    def index(self) -> tuple:
        """Integer adjacency for fast traversals, built once per graph: (ids sorted, position of each
        id, successor positions, is-job flags, each node's JSON prefix for impact items, systems)."""
        with self._lock:
            if self._index is None:
                order = sorted(self.g.nodes)
                pos = {n: i for i, n in enumerate(order)}
                succ_map, nodes = self.g._succ, self.g._node
                succ = [[pos[t] for t in succ_map[n]] for n in order]
                is_job = [nodes[n]["type"] == "job" for n in order]
                frags = []
                for n in order:
                    a = nodes[n]
                    item = {"id": n, "name": a["name"], "system": a["system"], "resource": a["resource"]}
                    frags.append(json.dumps(item, ensure_ascii=False)[:-1] + ',"distance":')
                systems_of = [nodes[n]["system"] for n in order]
                self._index = (order, pos, succ, is_job, frags, systems_of)
            return self._index

    def node_dict(self, node: str) -> dict:
        a = self.g.nodes[node]
        out = {
            "id": node,
            "type": a["type"],
            "name": a["name"],
            "system": a["system"],
            "resource": a["resource"],
        }
        if a["type"] != "system":
            out["namespace"] = a["namespace"]
        return out

    def edge_dict(self, s: str, t: str) -> dict:
        a = self.g.edges[s, t]
        out = {"source": s, "target": t, "kind": a["kind"]}
        if "valid_from" in a:
            out["valid_from"] = iso(a["valid_from"])
            out["valid_to"] = iso(a["valid_to"])
        if "datasets" in a:
            out["datasets"] = a["datasets"]
        return out


_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 2  # the current head and the one before (requests still running on it)


def timeline(session: Session) -> Timeline:
    """The timeline at the current audit head (one indexed query to know whether the cache is current)."""
    head = audit.head(session)
    key = (str(session.get_bind().url), head)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    built = Timeline(session, head)
    with _CACHE_LOCK:
        _CACHE[key] = built
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return built


def graph_at(session: Session, as_of=None, level: str = "dataset") -> Graph:
    """The dataset- or system-level graph as it stood at ``as_of`` (default now). Raises Invalid."""
    if level not in LEVELS:
        raise Invalid(f"level must be one of {', '.join(LEVELS)}", {"level": [f"one of {LEVELS}"]})
    return timeline(session).graph(parse_time(as_of), level)


def _resolve(graph: Graph, node: str, *, what: str = "node") -> str | None:
    """The graph's node for ``node`` (a dataset or job maps to its system at system level), or None
    when it exists but not at this date. Raises Invalid (malformed) or NotFound (never seen)."""
    kind, namespace, name = split_node_id(node, what=what)
    tl = graph.timeline
    if kind == "system":
        if name not in tl.systems and node not in graph.g:
            raise NotFound(f"no system with code {name!r}")
        if graph.level == "dataset":
            raise Invalid(
                f"{what} is a system: ask with level=system (dataset-level graphs hold datasets and jobs)",
                {what: ["a system node needs level=system"]},
            )
        return node if node in graph.g else None
    if node not in tl.nodes:
        raise NotFound(f"no lineage node {node!r} has been seen")
    if graph.level == "system":
        code = tl.nodes[node]["system"]
        if code is None:
            raise Invalid(f"{node!r} belongs to no catalogued system", {what: ["uncatalogued namespace"]})
        return f"system:{code}" if f"system:{code}" in graph.g else None
    return node if node in graph.g else None


def _check_direction(direction: str | None) -> str:
    value = DIRECTIONS.get((direction or "both").lower())
    if value is None:
        raise Invalid(
            "direction must be upstream, downstream or both (up, down)",
            {"direction": ["upstream|downstream|both"]},
        )
    return value


def neighbourhood(
    graph: Graph, node: str | None, direction: str | None = "both", depth: int | None = None
) -> list[str]:
    """The node ids of the query: the whole graph without ``node``, else the node and what lies
    upstream/downstream of it within ``depth`` edges (unbounded without). Raises Invalid, NotFound."""
    if depth is not None and depth < 0:
        raise Invalid("depth must be 0 or more", {"depth": ["negative"]})
    direction = _check_direction(direction)
    if not node:
        return sorted(graph.g.nodes)
    start = _resolve(graph, node)
    if start is None:
        return []
    found = {start}
    if direction in ("downstream", "both"):
        found |= set(nx.single_source_shortest_path_length(graph.g, start, cutoff=depth))
    if direction in ("upstream", "both"):
        found |= set(nx.single_source_shortest_path_length(graph.g.reverse(copy=False), start, cutoff=depth))
    return sorted(found)


def subgraph(
    session: Session,
    *,
    node: str | None = None,
    direction: str | None = "both",
    depth: int | None = None,
    level: str = "dataset",
    as_of=None,
) -> dict:
    """The contract's ``{"nodes", "edges"}`` for a graph query (sorted, so the same query gives the same
    answer), plus ``as_of`` and ``level``. Raises Invalid, NotFound."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    ids = neighbourhood(graph, node, direction, depth)
    keep = set(ids)
    if node:
        succ = graph.g._succ
        edges = sorted((s, t) for s in keep for t in succ[s] if t in keep)
    else:
        edges = sorted(graph.g.edges)
    return {
        "as_of": iso(moment),
        "level": level,
        "audit_head": graph.timeline.head,
        "nodes": [graph.node_dict(n) for n in ids],
        "edges": [graph.edge_dict(s, t) for s, t in edges],
    }


def _impact_parts(graph: Graph, sources: list[str]) -> dict:
    """The impact of ``sources`` on this graph, as JSON fragments (memoised per graph): derivation
    distances by a 0-1 breadth-first search over integer adjacency lists."""
    key = tuple(sources)
    with graph._lock:
        cached = graph._impacts.get(key)
    if cached is not None:
        return cached
    order, pos, succ, is_job, frags, systems_of = graph.index()
    n = len(order)
    dist = [-1] * n
    queue = collections.deque()
    for s in sources:
        dist[pos[s]] = 0
        queue.append(pos[s])
    while queue:
        here = queue.popleft()
        d = dist[here]
        if is_job[here]:  # a job's outputs are as far as the job
            for nxt in succ[here]:
                if dist[nxt] < 0 or d < dist[nxt]:
                    dist[nxt] = d
                    queue.appendleft(nxt)
        else:
            nd = d + 1
            for nxt in succ[here]:
                if dist[nxt] < 0 or nd < dist[nxt]:
                    dist[nxt] = nd
                    queue.append(nxt)
    for s in sources:
        dist[pos[s]] = -1
    datasets: dict[int, list[str]] = collections.defaultdict(list)
    jobs: dict[int, list[str]] = collections.defaultdict(list)
    systems: dict[str, list[int]] = {}
    for i in range(n):  # index order is id order, so each distance's bucket is sorted by id
        d = dist[i]
        if d < 0:
            continue
        if is_job[i]:
            jobs[d].append(frags[i] + str(d) + "}")
            continue
        datasets[d].append(frags[i] + str(d) + "}")
        code = systems_of[i]
        if code:
            entry = systems.get(code)
            if entry is None:
                systems[code] = [d, 1]
            else:
                entry[1] += 1
                if d < entry[0]:
                    entry[0] = d
    info = graph.timeline.systems
    system_items = sorted(
        (
            {
                "id": f"system:{code}",
                "code": code,
                "name": info.get(code, {}).get("name", code),
                "distance": d,
                "datasets": count,
            }
            for code, (d, count) in systems.items()
        ),
        key=lambda x: (x["distance"], x["id"]),
    )
    cached = {
        "datasets": ",".join(",".join(datasets[d]) for d in sorted(datasets)),
        "jobs": ",".join(",".join(jobs[d]) for d in sorted(jobs)),
        "systems": json.dumps(system_items, ensure_ascii=False),
        "counts": {
            "datasets": sum(map(len, datasets.values())),
            "jobs": sum(map(len, jobs.values())),
            "systems": len(system_items),
        },
    }
    with graph._lock:
        graph._impacts[key] = cached
        while len(graph._impacts) > 64:
            graph._impacts.popitem(last=False)
    return cached


def impact_json(session: Session, node: str, *, as_of=None) -> str:
    """``impact`` as JSON text, assembled from fragments (the hot path: no per-item serialisation)."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, "dataset")
    kind, _, code = split_node_id(node)
    if kind == "system":
        if code not in graph.timeline.systems:
            raise NotFound(f"no system with code {code!r}")
        sources = sorted(
            n for n, a in graph.g.nodes(data=True) if a["system"] == code and a["type"] == "dataset"
        )
    else:
        start = _resolve(graph, node)
        sources = [] if start is None else [start]
    parts = _impact_parts(graph, sources)
    head = json.dumps({"node": node, "as_of": iso(moment), "counts": parts["counts"]}, ensure_ascii=False)
    return (
        head[:-1]
        + f',"datasets":[{parts["datasets"]}],"jobs":[{parts["jobs"]}],"systems":{parts["systems"]}}}'
    )


def impact(session: Session, node: str, *, as_of=None) -> dict:
    """Everything downstream of ``node`` as of a date: datasets, jobs and systems with their distance
    (derivation steps: a job or a declared flow is one step; a system's distance is its nearest
    dataset's). A system node's impact starts from all of its datasets. Raises Invalid, NotFound."""
    return json.loads(impact_json(session, node, as_of=as_of))


def shortest_path(session: Session, source: str, target: str, *, level: str = "dataset", as_of=None) -> dict:
    """The shortest directed path source → target as of a date. Raises Invalid, NotFound (no such node,
    or no path)."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    a, b = _resolve(graph, source, what="source"), _resolve(graph, target, what="target")
    if a is None or b is None:
        raise NotFound(f"as of {iso(moment)} there is no path from {source!r} to {target!r}")
    try:
        path = nx.shortest_path(graph.g, a, b)
    except nx.NetworkXNoPath:
        raise NotFound(f"as of {iso(moment)} there is no path from {source!r} to {target!r}") from None
    return {
        "as_of": iso(moment),
        "level": level,
        "source": source,
        "target": target,
        "length": len(path) - 1,
        "path": [graph.node_dict(n) for n in path],
        "edges": [graph.edge_dict(s, t) for s, t in zip(path, path[1:], strict=False)],
    }


def cycles(session: Session, *, level: str = "dataset", as_of=None, limit: int = 1000) -> dict:
    """Directed cycles as of a date (each starting at its smallest id; at most ``limit``)."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    found = []
    for cycle in nx.simple_cycles(graph.g):
        i = cycle.index(min(cycle))
        found.append(cycle[i:] + cycle[:i])
        if len(found) >= limit:
            break
    found.sort()
    return {"as_of": iso(moment), "level": level, "count": len(found), "cycles": found}


def orphans(session: Session, *, level: str = "dataset", as_of=None) -> dict:
    """Nodes with no edge at all as of a date (a dataset no job reads or writes, a job with no datasets)."""
    moment = parse_time(as_of)
    graph = graph_at(session, moment, level)
    ids = sorted(n for n in graph.g.nodes if graph.g.degree(n) == 0)
    return {
        "as_of": iso(moment),
        "level": level,
        "count": len(ids),
        "nodes": [graph.node_dict(n) for n in ids],
    }


def uncatalogued(session: Session, *, as_of=None) -> list[dict]:
    """Datasets seen by ``as_of`` that match no catalog resource: a steward's to-do, by namespace and name.

    ``system`` is the system whose namespaces hold the dataset's namespace (None: no system either).
    """
    moment = parse_time(as_of)
    tl = timeline(session)
    out = [
        {
            "id": n,
            "namespace": a["namespace"],
            "name": a["name"],
            "system": a["system"],
            "first_seen": iso(a["first_seen"]),
        }
        for n, a in tl.nodes.items()
        if a["type"] == "dataset" and a["resource"] is None and a["first_seen"] <= moment
    ]
    return sorted(out, key=lambda x: (x["namespace"], x["name"]))


def node_detail(session: Session, node: str, *, as_of=None) -> dict:
    """One dataset or job: identity, system, resource, its latest facets (schema, columnLineage) and its
    direct neighbours as of a date. Raises Invalid, NotFound."""
    moment = parse_time(as_of)
    split_node_id(node, types=("dataset", "job"))
    row = session.execute(select(LineageNode).where(LineageNode.node_id == node)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no lineage node {node!r} has been seen")
    graph = graph_at(session, moment)
    tl = graph.timeline
    attrs = tl.nodes.get(node) or {}
    present = node in graph.g
    resource = tl.resources.get((row.namespace, row.name)) if row.type == "dataset" else None
    return {
        "id": node,
        "type": row.type,
        "namespace": row.namespace,
        "name": row.name,
        "system": attrs.get("system", tl.by_namespace.get(row.namespace)),
        "resource": resource["code"] if resource else None,
        "resource_name": resource["name"] if resource else None,
        "first_seen": iso(row.first_seen),
        "facets": row.facets or {},
        "as_of": iso(moment),
        "upstream": sorted(graph.g.predecessors(node)) if present else [],
        "downstream": sorted(graph.g.successors(node)) if present else [],
    }


def list_events(
    session: Session, *, job: str | None = None, page: int = 1, per_page: int = 50
) -> tuple[list, int]:
    """Stored events, newest event time first (optionally of one job node), with the total."""
    query = select(LineageEvent)
    if job:
        _, namespace, name = split_node_id(job, what="job", types=("job",))
        query = query.where(LineageEvent.job_namespace == namespace, LineageEvent.job_name == name)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.scalars(
        query.order_by(LineageEvent.event_time.desc(), LineageEvent.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return list(rows), total


def event_dict(row: LineageEvent, *, with_body: bool = False) -> dict:
    out = {
        "id": row.id,
        "kind": row.kind,
        "eventType": row.event_type,
        "eventTime": iso(row.event_time),
        "runId": row.run_id,
        "job": None if row.job_namespace is None else job_id(row.job_namespace, row.job_name),
        "producer": row.producer,
        "sha256": row.sha256,
        "actor": row.actor,
        "received_at": iso(row.received_at),
    }
    if with_body:
        out["event"] = json.loads(row.body)
    return out


def flow_dict(flow: LineageFlow) -> dict:
    return jsonable(flow.to_dict())
