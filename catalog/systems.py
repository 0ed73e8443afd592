"""Information systems (信息系统): the bureau's systems, their owner and the OpenLineage namespaces they emit.

Every create, update and delete is one audit entry (entity ``system``); this module registers that
entity with the audit log.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog import search
from catalog.models import DataResource, Organization, System
from registry import audit
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import check_if_match
from registry.paging import Page, paginate

ENTITY = "system"
EDITABLE = ("name", "description", "owner", "namespaces")


def get_system(session: Session, code: str, *, lock: bool = False) -> System:
    """The system with this code (its row held until commit with ``lock``). Raises NotFound."""
    query = select(System).where(System.code == code)
    if lock:
        query = query.with_for_update(key_share=True)
    system = session.scalar(query)
    if system is None:
        raise NotFound(f"no system with code {code!r}")
    return system


def list_systems(
    session: Session, *, q: str | None = None, owner: str | None = None, page: int = 1, per_page: int = 50
) -> Page:
    """Systems by code, optionally filtered by owner or a substring of code or name."""
    query = select(System).order_by(System.code)
    if owner:
        query = query.where(System.owner == owner)
    if q:
        like = f"%{q}%"
        query = query.where(System.code.ilike(like) | System.name.like(like))
    return paginate(session, query, page, per_page)


def _namespace_clashes(session: Session, namespaces: list[str], code: str) -> list[str]:
    """The namespaces another system already owns, each as a message naming that system."""
    taken = {
        ns: other
        for other, owned in session.execute(select(System.code, System.namespaces).where(System.code != code))
        for ns in owned or ()
    }
    return [f"{ns!r} belongs to system {taken[ns]!r}" for ns in namespaces if ns in taken]


def _check_system(session: Session, values: dict, code: str) -> None:
    errors: dict[str, list[str]] = {}
    owner = values.get("owner")
    if owner and session.scalar(select(Organization.id).where(Organization.code == owner)) is None:
        errors["owner"] = [f"no organization with code {owner!r}"]
    namespaces = values.get("namespaces") or []
    if len(set(namespaces)) != len(namespaces):
        errors["namespaces"] = ["each namespace may be listed once"]
    elif namespaces:
        clash = _namespace_clashes(session, namespaces, code)
        if clash:
            errors["namespaces"] = clash
    if errors:
        raise Invalid("the system has invalid values", errors)


def create_system(session: Session, values: dict, *, actor: str, commit: bool = True) -> System:
    """Create a system and audit it. Raises Conflict (code taken), Invalid (unknown owner, namespace taken).

    ``commit=False`` leaves the commit to the caller (a bulk import that must be all-or-nothing).
    """
    code = values["code"]
    if session.scalar(select(System.id).where(System.code == code)) is not None:
        raise Conflict(f"a system with code {code!r} already exists")
    values = {"namespaces": [], **values}
    _check_system(session, values, code)
    system = System(code=code, **{k: values.get(k) for k in EDITABLE})
    system.namespaces = list(values.get("namespaces") or [])
    session.add(system)
    audit.record_change(
        session, actor=actor, entity_type=ENTITY, entity_key=code, before=None, after=system.to_dict()
    )
    if commit:
        session.commit()
    return system


def update_system(
    session: Session,
    code: str,
    values: dict,
    *,
    actor: str,
    if_match: str | None = None,
    replace: bool = False,
    commit: bool = True,
) -> System:
    """Change a system (PATCH, or PUT when ``replace``). Raises NotFound, Stale, Invalid.

    A new name is written into the search text of the system's resources (they are found by it).
    """
    system = get_system(session, code, lock=True)
    before = system.to_dict()
    check_if_match(if_match, before)
    if values.get("code", code) != code:
        raise Invalid("the code of a system cannot be changed", {"code": ["read-only"]})
    if replace:
        values = {k: values.get(k) for k in EDITABLE} | {"namespaces": values.get("namespaces") or []}
    _check_system(session, values, code)
    for key in EDITABLE:
        if key in values:
            setattr(system, key, list(values[key] or []) if key == "namespaces" else values[key])
    after = system.to_dict()
    if after["name"] != before["name"]:
        session.flush()
        for resource in session.scalars(select(DataResource).where(DataResource.system == code)):
            search.index_resource(session, resource, resource.to_dict())
    audit.record_change(session, actor=actor, entity_type=ENTITY, entity_key=code, before=before, after=after)
    if commit:
        session.commit()
    return system


def delete_system(session: Session, code: str, *, actor: str, if_match: str | None = None) -> None:
    """Delete a system no resource belongs to. Raises NotFound, Stale, Conflict."""
    system = get_system(session, code, lock=True)
    before = system.to_dict()
    check_if_match(if_match, before)
    used = session.scalar(select(func.count()).where(DataResource.system == code))
    if used:
        raise Conflict(f"system {code!r} still has {used} data resource(s); move or delete them first")
    session.delete(system)
    audit.record_change(session, actor=actor, entity_type=ENTITY, entity_key=code, before=before, after=None)
    session.commit()


def _snapshot(session: Session, key: str) -> dict | None:
    system = session.scalar(select(System).where(System.code == key))
    return None if system is None else system.to_dict()


audit.register_entity(ENTITY, _snapshot, lambda s: s.scalars(select(System.code)), tables=("system",))
