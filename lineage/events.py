"""OpenLineage events: the checks an event passes before intake, and stored events read back."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage.ids import dataset_id, iso, job_id, split_node_id
from lineage.models import NODE_ID, LineageEvent
from registry.errors import Invalid, NotFound
from registry.paging import DEFAULT_PER_PAGE, Page, paginate

EVENT_KINDS = ("RunEvent", "DatasetEvent", "JobEvent")
RUN_STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
#: run states whose inputs and outputs become edges (a missing eventType counts as RUNNING)
OPENING_STATES = {"START", "RUNNING", "COMPLETE", None}


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
    #: what was assumed to read the event (an old spec, a time without a zone, …): said in the 201 body
    warnings: list[str] = field(default_factory=list)
    #: the parent job (namespace, name) the ``parent`` run facet names
    parent: tuple[str, str] | None = None


# --- the checks -----------------------------------------------------------------------------


#: the spec an event is validated against, whatever 1-x or 2-x version its ``schemaURL`` names
SPEC = "2-0-2"
_SPEC_VERSION = re.compile(r"/spec/(\d+)-(\d+)-(\d+)(?:/|$)")
_NAMED_KIND = re.compile(r"#/(?:\$defs|definitions)/(\w+)$")


def _kind_of(event: dict, errors: dict, warnings: list[str]) -> str | None:
    """The event's kind (from ``schemaURL``'s ``#/$defs/…`` or ``#/definitions/…``, else its shape).

    Compatibility: a ``schemaURL`` naming spec 1-x or 2-x is read as 2-0-2, a missing one is taken
    for 2-0-2; each assumption is added to ``warnings``. Another major version is refused."""
    url = event.get("schemaURL")
    named = None
    if url is None:
        warnings.append(f"no schemaURL: read as OpenLineage spec {SPEC}")
    elif not isinstance(url, str) or not url.strip():
        errors["schemaURL"] = ["must be a non-empty string"]
    else:
        match = _NAMED_KIND.search(url)
        if match and match.group(1) in EVENT_KINDS:
            named = match.group(1)
        version = _SPEC_VERSION.search(url)
        if version is None:
            warnings.append(f"schemaURL {url!r} names no OpenLineage spec version: read as {SPEC}")
        else:
            spec = "-".join(version.groups())
            if version.group(1) not in ("1", "2"):
                errors["schemaURL"] = [
                    f"OpenLineage spec {spec} is not accepted: send spec 1-x or 2-x (read as {SPEC})"
                ]
            elif spec != SPEC:
                warnings.append(f"schemaURL names OpenLineage spec {spec}: validated as {SPEC}")
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


def _check_event_time(event: dict, errors: dict, warnings: list[str]) -> dt.datetime | None:
    """``eventTime`` as naive UTC: a date-time; one without a time zone is read as UTC (a warning)."""
    raw_time = event.get("eventTime")
    if raw_time is None:
        errors["eventTime"] = ["required"]
        return None
    if not isinstance(raw_time, str):
        errors["eventTime"] = ["must be an ISO 8601 date-time string"]
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw_time.replace("z", "Z"))
    except ValueError:
        errors["eventTime"] = [f"not an ISO 8601 date-time: {raw_time!r}"]
        return None
    if "T" not in raw_time.upper():
        errors["eventTime"] = ["must be a date-time, e.g. 2025-05-01T08:00:00Z"]
        return None
    if parsed.tzinfo is None:  # the openlineage-python client lets a user send one
        warnings.append(f"eventTime {raw_time!r} has no time zone: read as UTC")
        return parsed
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def _check_job(event: dict, errors: dict) -> tuple[str, str] | None:
    j = event.get("job")
    if not isinstance(j, dict):
        errors["job"] = ["required: an object with namespace and name"]
        return None
    ns, name = _check_str(j, "namespace", "job.", errors), _check_str(j, "name", "job.", errors)
    _check_facets(j, "facets", "job.", errors)
    if not (ns and name):
        return None
    if len(job_id(ns, name)) > NODE_ID:
        errors["job.name"] = [f"namespace and name together exceed {NODE_ID} characters"]
    return ns, name


def _check_run(event: dict, errors: dict) -> tuple[str | None, str | None]:
    """A RunEvent's (runId as a UUID, eventType)."""
    run, run_id = event.get("run"), None
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
    return run_id, event_type


def _parent_job(event: dict, warnings: list[str]) -> tuple[str, str] | None:
    """The (namespace, name) of the job the ``parent`` run facet names, if it names one."""
    run = event.get("run")
    facet = (run.get("facets") or {}).get("parent") if isinstance(run, dict) else None
    if not isinstance(facet, dict) or not facet:
        return None
    job = facet.get("job")
    ns, name = (job.get("namespace"), job.get("name")) if isinstance(job, dict) else (None, None)
    if not (isinstance(ns, str) and ns.strip() and isinstance(name, str) and name.strip()):
        warnings.append("run.facets.parent names no job (namespace and name): not linked")
        return None
    if len(job_id(ns, name)) > NODE_ID:
        warnings.append(f"run.facets.parent's job is longer than {NODE_ID} characters: not linked")
        return None
    return ns, name


def validate_event(event) -> ParsedEvent:
    """Check an OpenLineage RunEvent, DatasetEvent or JobEvent against spec 2-0-2; return what intake
    needs, with ``warnings`` naming what was assumed (a 1-x or other 2-x ``schemaURL``, a missing one,
    an ``eventTime`` without a zone).

    Raises Invalid naming every problem (``errors`` maps a path such as ``inputs[0].name`` to reasons).
    """
    if not isinstance(event, dict):
        raise Invalid("an OpenLineage event must be a JSON object")
    errors: dict[str, list[str]] = {}
    warnings: list[str] = []
    kind = _kind_of(event, errors, warnings)
    producer = _check_str(event, "producer", "", errors)
    when = _check_event_time(event, errors, warnings)
    event_type = run_id = job = None
    inputs = outputs = datasets = []
    if kind in ("RunEvent", "JobEvent"):
        job = _check_job(event, errors)
        inputs = _check_datasets(event, "inputs", errors)
        outputs = _check_datasets(event, "outputs", errors)
    if kind == "RunEvent":
        run_id, event_type = _check_run(event, errors)
    elif kind == "DatasetEvent":
        checked = _check_dataset(event.get("dataset"), "dataset.", errors)
        datasets = [checked] if checked else []
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in list(errors.items())[:5])
        raise Invalid(f"the OpenLineage {kind} is malformed: {summary}", errors)
    parent = _parent_job(event, warnings) if kind == "RunEvent" else None
    return ParsedEvent(
        kind, event_type, when, run_id, job, inputs, outputs, datasets, producer, warnings, parent
    )


def load_event_body(body: bytes | str) -> tuple[dict, str]:
    """Decode a request body into the event and its text. Raises Invalid for non-JSON."""
    try:
        text_ = body.decode("utf-8") if isinstance(body, bytes) else body
        return json.loads(text_), text_
    except (UnicodeDecodeError, ValueError) as exc:
        raise Invalid(f"the body is not valid JSON: {exc}") from None


# --- stored events --------------------------------------------------------------------------


def list_events(
    session: Session, *, job: str | None = None, page: int = 1, per_page: int = DEFAULT_PER_PAGE
) -> Page:
    """Stored events, newest event time first (optionally of one job node), one page. Raises Invalid
    for a malformed job id."""
    query = select(LineageEvent)
    if job:
        _, namespace, name = split_node_id(job, what="job", types=("job",))
        query = query.where(LineageEvent.job_namespace == namespace, LineageEvent.job_name == name)
    query = query.order_by(LineageEvent.event_time.desc(), LineageEvent.id.desc())
    return paginate(session, query, page, per_page)


def get_event(session: Session, event_id: int) -> LineageEvent:
    """The stored event with this id. Raises NotFound."""
    row = session.get(LineageEvent, event_id)
    if row is None:
        raise NotFound(f"no lineage event with id {event_id}")
    return row


def event_dict(row: LineageEvent, *, with_body: bool = False) -> dict:
    """A stored event as the API shows it; ``with_body`` adds the event exactly as it was sent."""
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
        "warnings": list(row.warnings or []),
    }
    if with_body:
        out["event"] = json.loads(row.body)
    return out
