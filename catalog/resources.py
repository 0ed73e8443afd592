"""Data resources (政务信息资源) and their fields (信息项): get, create, update, delete, and their checks.

Plain values in, ORM objects out. Every save keeps a revision (``catalog.revisions``), rewrites the
search text (``catalog.search``) and is one audit entry (entity ``resource``, registered here); a save
is committed here unless the caller commits itself (``commit=False``: the bulk import, all or nothing).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from catalog import categories, revisions, search
from catalog.models import (
    CONSTRAINT_KEYS,
    FIELD_TYPES,
    RESOURCE_STATUSES,
    DataResource,
    Organization,
    ResourceField,
    System,
)
from registry import audit
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import check_if_match, jsonable
from registry.messages import msg as message
from standards.formats import get_scheme

ENTITY = "resource"
#: the largest min_length/max_length (string lengths are 32-bit in the validator) and numeric bound
MAX_LENGTH = 2**31 - 1
INT64_MAX = 2**63 - 1
EDITABLE = (
    "name",
    "summary",
    "category",
    "provider",
    "system",
    "format",
    "share_type",
    "share_condition",
    "share_method",
    "open_to_public",
    "open_condition",
    "update_cycle",
    "published_on",
    "security_grade",
    "related",
    "tags",
    "steward",
    "status",
    "lineage",
    "fields",
)
DEFAULTS = {
    "share_type": "conditional",
    "open_to_public": False,
    "security_grade": "general",
    "status": "draft",
    "related": [],
    "tags": [],
    "fields": [],
    "lineage": None,
}
T = TypeVar("T")


# --- reading -------------------------------------------------------------------------------


def get_resource(session: Session, code: str, *, lock: bool = False) -> DataResource:
    """The resource with this code, fields loaded; ``lock`` holds its row until commit (PostgreSQL), so
    two stewards saving at once are applied one after the other. Raises NotFound."""
    query = select(DataResource).where(DataResource.code == code)
    if lock:
        query = query.with_for_update(key_share=True)
    resource = session.scalar(query)
    if resource is None:
        raise NotFound(f"no data resource with code {code!r}")
    return resource


def related_first(
    items: Iterable[T], existing: set[str], values: Callable[[T], dict] = lambda v: v
) -> list[T]:
    """``items`` (resources to create) in an order where each comes after the resources it lists as
    ``related``, counting ``existing`` codes as already there. A cycle is broken by taking the first
    waiting item as it is (its caller creates it without the missing links and adds them afterwards)."""
    ordered: list[T] = []
    placed = set(existing)
    pending = list(items)
    while pending:
        ready = [p for p in pending if set(values(p).get("related") or ()) <= placed | {values(p)["code"]}]
        if not ready:
            ready = [pending[0]]
        for p in ready:
            ordered.append(p)
            placed.add(values(p)["code"])
        pending = [p for p in pending if values(p)["code"] not in placed]
    return ordered


# --- checks --------------------------------------------------------------------------------


def scheme_exists(scheme_id: str) -> bool:
    """Whether the code registry declares this scheme (``standards.formats``)."""
    try:
        get_scheme(scheme_id)
    except (NotFound, KeyError, ValueError):
        return False
    return True


def _check_pattern(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a regular expression: {exc}"
    try:
        pl.Series([""]).str.contains(pattern)
    except Exception as exc:  # polars' regex engine (Rust) has no look-around or back-references
        return f"not supported by the validator's regular expressions: {str(exc).splitlines()[0]}"
    return None


def _type_problems(f: dict, ftype: str) -> list[str]:
    problems = []
    if ftype not in FIELD_TYPES:
        problems.append(f"type must be one of {', '.join(FIELD_TYPES)}")
    scheme = f.get("code_scheme")
    if scheme and not scheme_exists(scheme):
        problems.append(message("field.no_scheme", "code_scheme: no code scheme {scheme!r}", scheme=scheme))
    if scheme and ftype != "string":
        problems.append(
            message("field.code_string", "a code-valued field (code_scheme) must have type string")
        )
    return problems


def _length_and_bound_problems(c: dict, ftype: str) -> list[str]:
    problems = []
    if ("min_length" in c or "max_length" in c) and ftype != "string":
        problems.append(message("field.length_string", "min_length/max_length apply to string fields"))
    for key in ("min_length", "max_length"):
        v = c.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_LENGTH):
            problems.append(
                message(
                    "field.length_range",
                    "{key} must be a whole number from 0 to {max}",
                    key=key,
                    max=MAX_LENGTH,
                )
            )
    for key in ("minimum", "maximum"):
        v = c.get(key)
        if v is None:
            continue
        if ftype in ("integer", "number"):
            if isinstance(v, bool) or not isinstance(v, int | float):
                problems.append(f"{key} must be a number for a {ftype} field")
            elif not _in_range(v):
                problems.append(f"{key} must be a finite number within ±{INT64_MAX} (a 64-bit integer)")
        elif ftype in ("date", "datetime"):
            if not isinstance(v, str):
                problems.append(f"{key} must be an ISO 8601 string for a {ftype} field")
        else:
            problems.append(f"{key} applies to integer, number, date and datetime fields")
    lo, hi = c.get("minimum"), c.get("maximum")
    if lo is not None and hi is not None and type(lo) is type(hi) and lo > hi:
        problems.append(message("field.min_max", "minimum is greater than maximum"))
    return problems


def _constraint_problems(c: dict, ftype: str) -> list[str]:
    problems = []
    unknown = set(c) - set(CONSTRAINT_KEYS)
    if unknown:
        problems.append(f"unknown constraints {sorted(unknown)}; allowed: {', '.join(CONSTRAINT_KEYS)}")
    problems += _length_and_bound_problems(c, ftype)
    if c.get("pattern") is not None:
        msg = _check_pattern(c["pattern"]) if isinstance(c["pattern"], str) else "pattern must be a string"
        if msg:
            problems.append(f"pattern: {msg}")
    if "enum" in c and c["enum"] is not None and (not isinstance(c["enum"], list) or not c["enum"]):
        problems.append(message("field.enum_empty", "enum must be a non-empty list"))
    elif c.get("enum") and ftype in ("integer", "number"):
        if not all(isinstance(v, str) or isinstance(v, bool) or _in_range(v) for v in c["enum"]):
            problems.append(f"enum values must be finite numbers within ±{INT64_MAX} (a 64-bit integer)")
    return problems


def _in_range(value) -> bool:
    """Whether a numeric bound fits the validator's 64-bit integers and floats (no inf, no NaN)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return True  # not a number: its type is reported elsewhere
    return math.isfinite(value) and -INT64_MAX <= value <= INT64_MAX


def _check_fields(fields: list[dict]) -> dict:
    """``{"fields[i]": [problems]}`` for the field definitions that have any."""
    errors: dict[str, list[str]] = {}
    seen = set()
    for i, f in enumerate(fields):
        problems = []
        name = f.get("name")
        if name in seen:
            problems.append(message("field.duplicate", "duplicate field name {name!r}", name=name))
        seen.add(name)
        ftype = f.get("type") or "string"
        problems += _type_problems(f, ftype)
        problems += _constraint_problems(f.get("constraints") or {}, ftype)
        if problems:
            errors[f"fields[{i}]"] = problems
    return errors


def _related_problems(session: Session, related: list[str], code: str) -> list[str]:
    problems = []
    if code in related:
        problems.append(message("related.self", "a resource cannot be related to itself"))
    if len(set(related)) != len(related):
        problems.append(message("related.once", "each related resource may be listed once"))
    known = set(session.scalars(select(DataResource.code).where(DataResource.code.in_(related))))
    missing = [r for r in related if r not in known and r != code]
    if missing:
        problems.append(f"no data resource with code {', '.join(map(repr, missing))}")
    return problems


def _lineage_clash(session: Session, lineage: dict, code: str) -> str | None:
    return session.scalar(
        select(DataResource.code).where(
            DataResource.lineage_namespace == lineage.get("namespace"),
            DataResource.lineage_name == lineage.get("name"),
            DataResource.code != code,
        )
    )


def _reference_errors(session: Session, values: dict) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "category" in values and not categories.exists(values["category"]):
        errors["category"] = [f"no category {values['category']!r} in the catalog's category tree"]
    provider = values.get("provider")
    if "provider" in values and (
        not provider or session.scalar(select(Organization.id).where(Organization.code == provider)) is None
    ):
        errors["provider"] = [f"no organization with code {provider!r}"]
    system = values.get("system")
    if system and session.scalar(select(System.id).where(System.code == system)) is None:
        errors["system"] = [f"no system with code {system!r}"]
    return errors


def _check_resource(session: Session, values: dict, code: str) -> None:
    errors = _reference_errors(session, values)
    related = values.get("related") or []
    if related:
        problems = _related_problems(session, related, code)
        if problems:
            errors["related"] = problems
    if values.get("status") and values["status"] not in RESOURCE_STATUSES:
        errors["status"] = [f"one of {', '.join(RESOURCE_STATUSES)}"]
    lineage = values.get("lineage")
    if lineage:
        clash = _lineage_clash(session, lineage, code)
        if clash:
            errors["lineage"] = [
                message(
                    "lineage.identity_taken",
                    "resource {code!r} already has this lineage identity",
                    code=clash,
                )
            ]
    errors.update(_check_fields(values.get("fields") or []))
    if errors:
        raise Invalid("the data resource has invalid values", errors)


# --- writing -------------------------------------------------------------------------------


def _field_dict(f: dict) -> dict:
    """A field definition as stored and shown (defaults filled in, empty constraints dropped)."""
    return {
        "name": f["name"],
        "title": f.get("title"),
        "type": f.get("type") or "string",
        "required": bool(f.get("required")),
        "unique": bool(f.get("unique")),
        "code_scheme": f.get("code_scheme"),
        "constraints": {k: v for k, v in (f.get("constraints") or {}).items() if v is not None},
        "description": f.get("description"),
    }


def _replace_fields(resource: DataResource, fields: list[dict] | None) -> None:
    session = object_session(resource)
    if session is not None and resource.fields:
        resource.fields.clear()  # delete the old rows first: a kept name would clash with itself
        session.flush()
    resource.fields = [ResourceField(position=i, **_field_dict(f)) for i, f in enumerate(fields or [])]


def _apply(resource: DataResource, values: dict) -> None:
    for key in EDITABLE:
        if key not in values:
            continue
        value = values[key]
        if key == "lineage":
            resource.lineage_namespace = value.get("namespace") if value else None
            resource.lineage_name = value.get("name") if value else None
        elif key == "fields":
            _replace_fields(resource, value)
        elif key == "published_on":
            resource.published_on = dt.date.fromisoformat(value) if isinstance(value, str) else value
        elif key in ("related", "tags"):
            setattr(resource, key, list(value or []))
        else:
            setattr(resource, key, value)
    if resource.status == "published" and resource.published_on is None:
        resource.published_on = dt.date.today()


def _saved(session: Session, resource: DataResource, action: str, actor: str, before: dict | None) -> None:
    """What every save does once the row is written: search text, revision, audit entry."""
    after = resource.to_dict()
    search.index_resource(session, resource, after)
    revisions.record(session, resource, action, actor, after)
    audit.record_change(
        session, actor=actor, entity_type=ENTITY, entity_key=resource.code, before=before, after=after
    )


def check_create(session: Session, values: dict) -> dict:
    """Everything ``create_resource`` checks, writing nothing; returns the values with defaults filled in.

    Raises Conflict (code taken), Invalid (a reference that does not exist, bad field definitions).
    """
    code = values["code"]
    if session.scalar(select(DataResource.id).where(DataResource.code == code)) is not None:
        raise Conflict(f"a data resource with code {code!r} already exists")
    values = {**DEFAULTS, **values}
    _check_resource(session, values, code)
    return values


def create_resource(session: Session, values: dict, *, actor: str, commit: bool = True) -> DataResource:
    """Create a resource with its fields, revision 1, search text and one audit entry.

    Raises Conflict (code taken), Invalid (a reference that does not exist, bad field definitions).
    """
    values = check_create(session, values)
    code = values["code"]
    resource = DataResource(code=code, revision=revisions.next_number(session, code))
    _apply(resource, values)
    session.add(resource)
    session.flush()
    _saved(session, resource, "create", actor, None)
    if commit:
        session.commit()
    return resource


def _update_values(values: dict, before: dict, replace: bool) -> dict:
    """The editable values a PATCH (or a PUT with ``replace``) sets. Raises Invalid for a read-only change."""
    code = before["code"]
    if values.get("code", code) != code:
        raise Invalid("the code of a data resource cannot be changed", {"code": ["read-only"]})
    if replace:
        values = {k: values.get(k, DEFAULTS.get(k)) for k in EDITABLE}
    values = {k: v for k, v in values.items() if k in EDITABLE}
    if values.get("status") == "draft" and before["status"] != "draft":
        raise Invalid(
            "a published or retired resource cannot go back to draft",
            {"status": ["draft → published → retired"]},
        )
    return values


def check_update(
    session: Session, resource: DataResource, values: dict, *, replace: bool = False
) -> tuple[dict, dict, dict]:
    """Everything ``update_resource`` checks, writing nothing: (the resource as it is, the values it would
    set, the resource as it would be). Raises Invalid."""
    before = resource.to_dict()
    values = _update_values(values, before, replace)
    _check_resource(session, values, resource.code)
    candidate = {**before, **jsonable(values)}
    if "fields" in values:
        candidate["fields"] = [_field_dict(f) for f in values["fields"] or []]
    return before, values, candidate


def update_resource(
    session: Session,
    code: str,
    values: dict,
    *,
    actor: str,
    if_match: str | None = None,
    replace: bool = False,
    commit: bool = True,
) -> DataResource:
    """Change a resource (PATCH: the keys given; PUT with ``replace``: the whole object, defaults for the rest).

    A change that alters anything keeps a new revision and one audit entry; an identical save changes
    nothing. ``fields``, when given, replaces the whole field list. Raises NotFound, Stale, Invalid.
    """
    resource = get_resource(session, code, lock=True)
    check_if_match(if_match, resource.to_dict())
    before, values, candidate = check_update(session, resource, values, replace=replace)
    if candidate == before:
        return resource
    _apply(resource, values)
    resource.revision = before["revision"] + 1
    session.flush()
    session.expire(resource, ["fields"])
    _saved(session, resource, "update", actor, before)
    if commit:
        session.commit()
    return resource


def delete_resource(session: Session, code: str, *, actor: str, if_match: str | None = None) -> None:
    """Delete a resource no other resource lists as related (its revisions are kept).

    Raises NotFound, Stale, Conflict.
    """
    resource = get_resource(session, code, lock=True)
    before = resource.to_dict()
    check_if_match(if_match, before)
    referrers = [
        other
        for other, related in session.execute(select(DataResource.code, DataResource.related))
        if code in (related or ())
    ]
    if referrers:
        raise Conflict(f"data resource {code!r} is listed as related by {', '.join(sorted(referrers))}")
    search.unindex_resource(session, resource)
    session.delete(resource)
    audit.record_change(session, actor=actor, entity_type=ENTITY, entity_key=code, before=before, after=None)
    session.commit()


def _snapshot(session: Session, key: str) -> dict | None:
    resource = session.scalar(
        select(DataResource).where(DataResource.code == key).execution_options(populate_existing=True)
    )
    return None if resource is None else resource.to_dict()


audit.register_entity(
    ENTITY,
    _snapshot,
    lambda s: s.scalars(select(DataResource.code)),
    tables=("data_resource", "resource_field"),
)
