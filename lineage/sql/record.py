"""Lineage from SQL, recorded: a script analysed with the catalog's field lists as its schema, and
what it reads and writes sent through intake as OpenLineage events like any other (audited, in
``as_of``, in exports). ``analyse`` itself stays a pure function; this module is its database side."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import DataResource, ResourceField
from lineage import intake
from lineage.ids import job_id, split_node_id
from lineage.sql.analyse import analyse
from lineage.sql.model import StatementLineage
from lineage.sql.parse import resolve_dialect
from registry.errors import Invalid

PRODUCER = "urn:yima:lineage:sql"
RUN_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
SQL_FACET_URL = "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
JOB_TYPE_URL = "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
#: a job named after the dataset a statement writes, when the caller names none
DEFAULT_JOB_PREFIX = "sql/"


def catalog_schema(session: Session, namespace: str) -> dict[str, list[str]]:
    """The field lists of the catalog resources in ``namespace``: lineage name → field names in order
    (what lets ``SELECT *`` expand and an INSERT without columns map by position)."""
    rows = session.execute(
        select(DataResource.lineage_name, ResourceField.name)
        .join(ResourceField, ResourceField.resource_id == DataResource.id)
        .where(DataResource.lineage_namespace == namespace)
        .order_by(DataResource.lineage_name, ResourceField.position)
    )
    schema: dict[str, list[str]] = {}
    for name, field in rows:
        schema.setdefault(name, []).append(field)
    return schema


def job_node(job: str | None, namespace: str) -> str | None:
    """The job node for ``job``: an id ``job:NS:NAME`` as given, or a bare NAME in ``namespace``.
    Raises Invalid."""
    if not job:
        return None
    if job.startswith("job:"):
        split_node_id(job, what="job", types=("job",))
        return job
    if ":" in job:
        raise Invalid("job must be a job id job:NS:NAME or a bare name", {"job": ["not a job"]})
    return job_id(namespace, job)


def lineage_from_sql(
    session: Session,
    scripts: Iterable[tuple[str | None, str]],
    *,
    dialect: str,
    namespace: str,
    job: str | None = None,
    default_schema: str | None = None,
    record: bool = True,
    actor: str,
) -> dict:
    """Analyse each ``(file name or None, sql)`` script and, with ``record``, record its lineage.

    Tables that are catalogued resources in ``namespace`` are qualified with their field lists.
    Recording sends one COMPLETE RunEvent through intake: for ``job`` (all statements together), or,
    without one, per written dataset (job ``sql/<dataset>``, so a changed definition replaces the
    old one). A statement that cannot be parsed has ``error`` set and records nothing; the others
    still do. Returns ``{"job", "dialect", "namespace", "statements", "events"}``. Raises Invalid
    (unknown dialect, no namespace, empty input, a bad job)."""
    resolve_dialect(dialect)
    if not isinstance(namespace, str) or not namespace.strip():
        raise Invalid("a namespace is needed to name the datasets", {"namespace": ["missing"]})
    jid = job_node(job, namespace)
    schema = catalog_schema(session, namespace)
    analysed: list[tuple[str | None, StatementLineage]] = []
    for name, sql in scripts:
        for st in analyse(
            sql, dialect=dialect, namespace=namespace, default_schema=default_schema, schema=schema
        ):
            analysed.append((name, st))
    groups = _groups(analysed, jid, namespace)
    events = []
    if record:
        for group_job, members in groups.items():
            body = _event(group_job, [st for _, st in members], dialect)
            summary, created = intake.ingest(session, body, actor=actor)
            events.append(
                {"id": summary["id"], "job": group_job, "sha256": summary["sha256"], "created": created}
            )
    job_of = {id(st): j for j, members in groups.items() for _, st in members}
    statements = []
    for name, st in analysed:
        item = st.as_dict() | {"job": job_of.get(id(st)), "recorded": record and id(st) in job_of}
        if name is not None:
            item["file"] = name
        statements.append(item)
    only = jid or (next(iter(groups)) if len(groups) == 1 else None)
    return {
        "job": only,
        "dialect": dialect,
        "namespace": namespace,
        "statements": statements,
        "events": events,
    }


def _groups(analysed, jid: str | None, namespace: str) -> dict[str, list]:
    """Job id → the statements it records: all under ``jid``, or each statement under the job of the
    dataset it writes. Unparsed statements, and (without a job) statements that write nothing, are in
    no group."""
    groups: dict[str, list] = {}
    for name, st in analysed:
        if st.error or not (st.inputs or st.outputs):
            continue
        if jid:
            groups.setdefault(jid, []).append((name, st))
        elif st.outputs:
            output = st.outputs[0][len(f"dataset:{namespace}:") :]
            groups.setdefault(job_id(namespace, DEFAULT_JOB_PREFIX + output), []).append((name, st))
        else:
            st.warnings.append(
                "reads only and no job was given: nothing recorded (give a job to record its reads)"
            )
    return groups


def _dataset(node: str, namespace: str) -> dict:
    return {"namespace": namespace, "name": node[len(f"dataset:{namespace}:") :]}


def _merge_facets(into: dict | None, facet: dict) -> dict:
    """Two statements writing one dataset: every field's inputs and every dataset-wide input of both."""
    if into is None:
        return facet
    for name, spec in facet["fields"].items():
        into["fields"].setdefault(name, {"inputFields": []})["inputFields"].extend(spec["inputFields"])
    into["dataset"].extend(facet["dataset"])
    return into


def _event(jid: str, statements: list[StatementLineage], dialect: str) -> dict:
    """One COMPLETE RunEvent for a job's statements: their inputs and outputs, each output's
    ``columnLineage`` facet, the job's ``sql`` and ``jobType`` facets."""
    _, namespace, name = split_node_id(jid, what="job", types=("job",))
    inputs, outputs, facets = [], [], {}
    for st in statements:
        inputs += [i for i in st.inputs if i not in inputs]
        outputs += [o for o in st.outputs if o not in outputs]
        facet = st.column_lineage_facet(PRODUCER)
        if facet is not None and (facet["fields"] or facet["dataset"]):
            facets[st.outputs[0]] = _merge_facets(facets.get(st.outputs[0]), facet)
    ns = statements[0].namespace
    out_items = []
    for o in outputs:
        item = _dataset(o, ns)
        if o in facets:
            item["facets"] = {"columnLineage": facets[o]}
        out_items.append(item)
    query = ";\n".join(st.sql.strip().rstrip(";") for st in statements) + ";"
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "eventType": "COMPLETE",
        "eventTime": now,
        "producer": PRODUCER,
        "schemaURL": RUN_URL,
        "run": {"runId": str(uuid.uuid4())},
        "job": {
            "namespace": namespace,
            "name": name,
            "facets": {
                "sql": {
                    "_producer": PRODUCER,
                    "_schemaURL": SQL_FACET_URL,
                    "query": query,
                    "dialect": dialect,
                },
                "jobType": {
                    "_producer": PRODUCER,
                    "_schemaURL": JOB_TYPE_URL,
                    "processingType": "BATCH",
                    "integration": "SQL",
                    "jobType": "QUERY",
                },
            },
        },
        "inputs": [_dataset(i, ns) for i in inputs],
        "outputs": out_items,
    }
