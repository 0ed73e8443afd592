"""A resource's revisions: every saved version (number, when, who, the full snapshot) and the diff between two.

Revisions are keyed by the resource's code, so they outlive a delete and a re-created code continues
the numbering. ``catalog.resources`` writes one with every create and change (``record``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog.models import DataResource, ResourceRevision
from registry.db import utcnow
from registry.errors import NotFound
from registry.jsonutil import jsonable
from registry.paging import Page, paginate


def next_number(session: Session, code: str) -> int:
    """The number the next revision of ``code`` gets (1 for a code never saved; a re-created code continues)."""
    previous = session.scalar(
        select(func.max(ResourceRevision.number)).where(ResourceRevision.resource_code == code)
    )
    return (previous or 0) + 1


def record(session: Session, resource: DataResource, action: str, actor: str, snapshot: dict) -> None:
    """Keep ``snapshot`` as revision ``resource.revision`` of the resource, in the caller's transaction."""
    session.add(
        ResourceRevision(
            resource_code=resource.code,
            number=resource.revision,
            at=utcnow(),
            actor=actor,
            action=action,
            snapshot=jsonable(snapshot),
        )
    )


def list_revisions(session: Session, code: str, *, page: int = 1, per_page: int = 50) -> Page:
    """Every saved version of a resource, newest first (also after the resource was deleted). Raises NotFound."""
    query = (
        select(ResourceRevision)
        .where(ResourceRevision.resource_code == code)
        .order_by(ResourceRevision.number.desc())
    )
    result = paginate(session, query, page, per_page)
    # a known code always has revisions: none means an unknown code
    if result.total == 0 and session.scalar(select(DataResource.id).where(DataResource.code == code)) is None:
        raise NotFound(f"no data resource with code {code!r}")
    return result


def get_revision(session: Session, code: str, number: int) -> ResourceRevision:
    """Revision ``number`` of a resource. Raises NotFound."""
    revision = session.scalar(
        select(ResourceRevision).where(
            ResourceRevision.resource_code == code, ResourceRevision.number == number
        )
    )
    if revision is None:
        raise NotFound(f"data resource {code!r} has no revision {number}")
    return revision


def revision_dict(revision: ResourceRevision, *, snapshot: bool = True) -> dict:
    """A revision as the API shows it: ``{"number", "at", "actor", "action", "snapshot"?}``."""
    out = {
        "number": revision.number,
        "at": jsonable(revision.at),
        "actor": revision.actor,
        "action": revision.action,
    }
    if snapshot:
        out["snapshot"] = revision.snapshot
    return out


def show_revision(session: Session, code: str, number: int, against: int | None = None) -> dict:
    """Revision ``number`` with its diff against ``against`` (default: the revision before it, if any).

    Raises NotFound for an unknown revision.
    """
    revision = get_revision(session, code, number)
    if against is None:
        against = session.scalar(
            select(func.max(ResourceRevision.number)).where(
                ResourceRevision.resource_code == code, ResourceRevision.number < number
            )
        )
    base = get_revision(session, code, against).snapshot if against is not None else {}
    return {**revision_dict(revision), "against": against, "diff": diff(base, revision.snapshot)}


def diff(old: dict, new: dict) -> list[dict]:
    """Differences between two resource snapshots: ``[{"path", "change": added|removed|changed|reordered,
    "before", "after"}]``.

    Top-level keys by name; ``fields`` per field name (``fields.<name>.<key>``, or the whole field when
    added or removed, and ``fields`` (order) when only their order changed).
    """
    return _top_level_changes(old, new) + _field_changes(old.get("fields") or [], new.get("fields") or [])


def _top_level_changes(old: dict, new: dict) -> list[dict]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key in ("fields", "revision"):
            continue
        a, b = old.get(key), new.get(key)
        if a != b:
            change = "added" if key not in old else "removed" if key not in new else "changed"
            out.append({"path": key, "change": change, "before": a, "after": b})
    return out


def _field_changes(old_fields: list[dict], new_fields: list[dict]) -> list[dict]:
    out = []
    fa = {f["name"]: f for f in old_fields}
    fb = {f["name"]: f for f in new_fields}
    for name in [f["name"] for f in old_fields] + [n for n in fb if n not in fa]:
        a, b = fa.get(name), fb.get(name)
        if a is None:
            out.append({"path": f"fields.{name}", "change": "added", "before": None, "after": b})
        elif b is None:
            out.append({"path": f"fields.{name}", "change": "removed", "before": a, "after": None})
        else:
            out.extend(
                {"path": f"fields.{name}.{k}", "change": "changed", "before": a.get(k), "after": b.get(k)}
                for k in sorted(set(a) | set(b))
                if a.get(k) != b.get(k)
            )
    order_a = [n for n in fa if n in fb]
    order_b = [n for n in fb if n in fa]
    if order_a != order_b:
        out.append({"path": "fields", "change": "reordered", "before": order_a, "after": order_b})
    return out
