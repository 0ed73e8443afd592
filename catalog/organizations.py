"""Organizations: the bureau and its participating units (建设/施工/监理/第三方评估); audited as ``organization``."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.models import ORGANIZATION_KINDS, DataResource, Organization, System
from registry import audit
from registry.db import Base
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import check_if_match
from registry.paging import Page, paginate

ENTITY = "organization"
EDITABLE = ("name", "name_en", "kind", "credit_code", "parent", "contact", "description")

#: the columns that refer to an organization by code (what they are, the column): checked before a delete
REFERENCES = (("systems (owner)", System.owner), ("data resources (provider)", DataResource.provider))
#: a column of a higher layer (traceability, review…) that holds an organization code declares itself with
#: ``mapped_column(..., info={"references": REFERENCE_INFO, "describe": "what it is"})``: delete checks it too
REFERENCE_INFO = "organization"


def referencing_columns() -> list[tuple[str, object]]:
    """Every (description, column) that may hold an organization code: the catalog's and every declared one."""
    declared = [
        (column.info.get("describe", f"{table.name}.{column.name}"), column)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.info.get("references") == REFERENCE_INFO
    ]
    return [*REFERENCES, *declared]


def get(session: Session, code: str) -> Organization:
    """The organization with this code. Raises NotFound."""
    org = session.scalar(select(Organization).where(Organization.code == code))
    if org is None:
        raise NotFound(f"no organization with code {code!r}")
    return org


def list_(
    session: Session, *, q: str | None = None, kind: str | None = None, page: int = 1, per_page: int = 50
) -> Page:
    """Organizations by code, optionally filtered by kind or a substring of code or name."""
    query = select(Organization).order_by(Organization.code)
    if kind:
        query = query.where(Organization.kind == kind)
    if q:
        like = f"%{q}%"
        query = query.where(
            or_(Organization.code.ilike(like), Organization.name.like(like), Organization.name_en.ilike(like))
        )
    return paginate(session, query, page, per_page)


def _check(session: Session, values: dict, code: str) -> None:
    errors = {}
    if "kind" in values and values["kind"] not in ORGANIZATION_KINDS:
        errors["kind"] = [f"one of {', '.join(ORGANIZATION_KINDS)}"]
    parent = values.get("parent")
    if parent:
        if parent == code:
            errors["parent"] = ["an organization cannot be its own parent"]
        elif session.scalar(select(Organization.id).where(Organization.code == parent)) is None:
            errors["parent"] = [f"no organization with code {parent!r}"]
    if errors:
        raise Invalid("the organization has invalid values", errors)


def create(session: Session, values: dict, *, actor: str, commit: bool = True) -> Organization:
    """Create an organization and audit it. Raises Conflict for a taken code, Invalid for bad values.

    ``commit=False`` leaves the commit to the caller (a bulk import that must be all-or-nothing).
    """
    code = values["code"]
    if session.scalar(select(Organization.id).where(Organization.code == code)) is not None:
        raise Conflict(f"an organization with code {code!r} already exists")
    values = {"kind": "other", **values}
    _check(session, values, code)
    org = Organization(code=code, **{k: values.get(k) for k in EDITABLE})
    session.add(org)
    audit.record_change(
        session, actor=actor, entity_type=ENTITY, entity_key=code, before=None, after=org.to_dict()
    )
    if commit:
        session.commit()
    return org


def update(
    session: Session,
    code: str,
    values: dict,
    *,
    actor: str,
    if_match: str | None = None,
    replace: bool = False,
    commit: bool = True,
) -> Organization:
    """Change an organization (PATCH, or PUT when ``replace``); checks ``if_match`` first.

    Raises NotFound, Stale (stale If-Match), Invalid.
    """
    org = get(session, code)
    before = org.to_dict()
    check_if_match(if_match, before)
    if values.get("code", code) != code:
        raise Invalid("the code of an organization cannot be changed", {"code": ["read-only"]})
    if replace:
        values = {k: values.get(k) for k in EDITABLE} | {"kind": values.get("kind") or "other"}
    _check(session, values, code)
    for key in EDITABLE:
        if key in values:
            setattr(org, key, values[key])
    after = org.to_dict()
    audit.record_change(session, actor=actor, entity_type=ENTITY, entity_key=code, before=before, after=after)
    if commit:
        session.commit()
    return org


def delete(session: Session, code: str, *, actor: str, if_match: str | None = None) -> None:
    """Delete an organization nobody refers to. Raises NotFound, Stale, Conflict (still referenced)."""
    org = get(session, code)
    before = org.to_dict()
    check_if_match(if_match, before)
    if session.scalar(select(Organization.id).where(Organization.parent == code).limit(1)) is not None:
        raise Conflict(f"organization {code!r} is the parent of other organizations")
    for describe, column in referencing_columns():
        if session.scalar(select(column).where(column == code).limit(1)) is not None:
            raise Conflict(f"organization {code!r} is still referenced by {describe}")
    session.delete(org)
    audit.record_change(session, actor=actor, entity_type=ENTITY, entity_key=code, before=before, after=None)
    session.commit()


def _snapshot(session: Session, key: str) -> dict | None:
    org = session.scalar(select(Organization).where(Organization.code == key))
    return None if org is None else org.to_dict()


def _snapshot_all(session: Session) -> dict[str, dict]:
    return {org.code: org.to_dict() for org in session.scalars(select(Organization))}


audit.register_entity(
    ENTITY, _snapshot, lambda s: s.scalars(select(Organization.code)), _snapshot_all, tables=("organization",)
)
