"""Codes of a release: read one (with ancestors, children, attribute template, crosswalks), list and search them,
and add, edit or deprecate one, each change one audited change of its release (``standards.releases``)."""

from __future__ import annotations

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from registry.errors import Conflict, Invalid, NotFound
from registry.paging import MAX_PER_PAGE, Page, paginate
from standards import formats
from standards.crosswalks import find_crosswalks
from standards.formats import Scheme, get_scheme, parse_code
from standards.importer.checks import check_template, pinyin_initials
from standards.index import release_index
from standards.models import CODE_COLUMNS, Code, Release
from standards.releases import audit_release, check_code_list, get_release, release_summary

#: a code row's value columns, as selected for the API's code documents
_ROW_COLUMNS = tuple(getattr(Code, c) for c in CODE_COLUMNS)


def _code_dict(scheme_id: str, index, row: dict) -> dict:
    code = row["code"]
    entry = index.entries.get(code)
    return {
        "scheme": scheme_id,
        "release": index.release,
        "code": code,
        "name": row["name"],
        "name_en": row.get("name_en"),
        "level": row["level"],
        "parent": row["parent"],
        "ancestors": index.ancestors(code),
        "children": index.children.get(code, 0),
        "status": row["status"],
        "successor": row["successor"],
        "unit": row.get("unit"),
        "assignable": entry.assignable if entry else None,
        "attributes": (entry.template if entry else None) or [],
        "own_attributes": row.get("attributes") or [],
        "description": row.get("description"),
    }


def get_code(
    session: Session, scheme_id: str, code: str, release: str | None = None, *, crosswalks: bool = True
) -> dict:
    """One code with ancestors (root first), children count, effective attribute template, and its crosswalks.

    ``code`` may be typed as users type it (full-width, other separators). Raises NotFound.
    """
    scheme = get_scheme(scheme_id)
    rel = get_release(session, scheme.id, release)
    canonical = formats.canonical(scheme, code)
    row = (
        session.execute(select(*_ROW_COLUMNS).where(Code.release_id == rel.id, Code.code == canonical))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"{canonical} is not in {scheme.id} release {rel.release}")
    index = release_index(session, scheme.id, rel.release)
    result = _code_dict(scheme.id, index, dict(row))
    if crosswalks:
        result["crosswalks"] = find_crosswalks(session, scheme.id, canonical, release=rel.release)
    return result


def list_codes(
    session: Session,
    scheme_id: str,
    *,
    q: str | None = None,
    parent: str | None = None,
    status: str | None = None,
    release: str | None = None,
    roots: bool = False,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """A page of codes, by code: ``q`` matches a code prefix, a name substring (Chinese too) or pinyin
    initials (``gj`` finds 钢筋); ``parent`` lists a code's children, ``roots`` the top-level codes.
    ``extra["release"]`` names the release listed. Raises NotFound."""
    scheme = get_scheme(scheme_id)
    rel = get_release(session, scheme.id, release)
    query = select(*_ROW_COLUMNS).where(Code.release_id == rel.id)
    if q and q.strip():
        text = scheme.normalise(q)
        prefix = formats.canonical(scheme, text) if len(text) > 2 else text
        conditions = [
            Code.code.istartswith(prefix, autoescape=True),
            Code.name.icontains(text, autoescape=True),
            Code.name_en.icontains(text, autoescape=True),
        ]
        if text.isascii() and text.isalpha():
            conditions.append(Code.pinyin.contains(text.lower(), autoescape=True))
        query = query.where(or_(*conditions))
    if parent:
        query = query.where(Code.parent == formats.canonical(scheme, parent))
    elif roots:
        query = query.where(Code.parent.is_(None))
    if status:
        query = query.where(Code.status == status)
    result = paginate(session, query.order_by(Code.code), page, per_page, scalars=False)
    index = release_index(session, scheme.id, rel.release)
    result.items = [_code_dict(scheme.id, index, dict(r._mapping)) for r in result.items]
    result.extra = {"release": rel.release}
    return result


def children(
    session: Session, scheme_id: str, code: str | None = None, release: str | None = None
) -> list[dict]:
    """The direct children of ``code`` (or the top-level codes), for a lazily expanded tree."""
    return list_codes(
        session, scheme_id, parent=code, roots=code is None, release=release, per_page=MAX_PER_PAGE
    ).items


def _code_row(session: Session, scheme: Scheme, rel: Release, code: str) -> tuple[str, Code]:
    """The canonical spelling of ``code`` and its row in ``rel``. Raises NotFound."""
    canonical = formats.canonical(scheme, code)
    row = session.scalar(select(Code).where(Code.release_id == rel.id, Code.code == canonical))
    if row is None:
        raise NotFound(f"{canonical} is not in {scheme.id} release {rel.release}")
    return canonical, row


def _editable_release(session: Session, scheme_id: str, release: str | None) -> Release:
    scheme = get_scheme(scheme_id)
    check_code_list(scheme)
    return get_release(session, scheme.id, release)


def check_add_code(
    session: Session, scheme_id: str, values: dict, release: str | None = None
) -> tuple[Release, dict]:
    """Everything ``add_code`` checks, writing nothing: (the release, the row it would insert).

    Raises what add_code raises: NotFound, Invalid (malformed code, missing parent, bad template), Conflict.
    """
    scheme = get_scheme(scheme_id)
    rel = _editable_release(session, scheme.id, release)
    parsed = parse_code(scheme, values.get("code", ""))
    if session.scalar(select(Code.id).where(Code.release_id == rel.id, Code.code == parsed.code)):
        raise Conflict(f"{parsed.code} is already in {scheme.id} release {rel.release}")
    if not (values.get("name") or "").strip():
        raise Invalid("a code needs a name", {"name": ["required"]})
    roots = set(scheme.tables) if scheme.kind == "segmented" and scheme.table_is_root else set()
    if (
        parsed.parent
        and parsed.parent not in roots
        and not session.scalar(select(Code.id).where(Code.release_id == rel.id, Code.code == parsed.parent))
    ):
        raise Invalid(
            f"the parent {parsed.parent} of {parsed.code} is not in the release", {"code": ["missing_parent"]}
        )
    attributes = values.get("attributes") or None
    _template_or_invalid(attributes)
    return rel, {
        "release_id": rel.id,
        "code": parsed.code,
        "parent": parsed.parent,
        "level": parsed.level,
        "name": values["name"].strip(),
        "name_en": values.get("name_en"),
        "unit": values.get("unit"),
        "status": "active",
        "successor": None,
        "attributes": attributes,
        "description": values.get("description"),
        "pinyin": pinyin_initials(values["name"]),
    }


def add_code(
    session: Session,
    scheme_id: str,
    values: dict,
    *,
    actor: str,
    release: str | None = None,
    commit: bool = True,
) -> dict:
    """Add one code to a release (default: the current one). Its parent must exist. Audited.

    ``commit=False`` leaves the commit to the caller (an approved change request, applied with its
    transition) and returns only ``{"scheme", "release", "code"}``: the release index of an uncommitted
    change is never built, so it cannot be cached. Raises what ``check_add_code`` raises.
    """
    scheme = get_scheme(scheme_id)
    rel, row = check_add_code(session, scheme.id, values, release)
    before = release_summary(session, rel, scheme.id)
    session.execute(insert(Code), [row])
    audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="add_code",
        change={"action": "add_code", "code": row["code"]},
    )
    return _done(session, scheme.id, row["code"], rel.release, commit)


def _done(session: Session, scheme_id: str, code: str, release: str, commit: bool) -> dict:
    """What a code write returns: the code document once committed, else only its key (see ``add_code``)."""
    if not commit:
        return {"scheme": scheme_id, "release": release, "code": code}
    session.commit()
    return get_code(session, scheme_id, code, release, crosswalks=False)


def _template_or_invalid(attributes) -> None:
    if attributes is None:
        return
    try:
        check_template(attributes)
    except ValueError as exc:
        raise Invalid(f"not an attribute template: {exc}", {"attributes": [str(exc)]}) from None


#: what ``update_code`` may change
UPDATABLE = ("name", "name_en", "unit", "description", "attributes")


def check_update_code(
    session: Session, scheme_id: str, code: str, values: dict, release: str | None = None
) -> tuple[Release, Code, dict]:
    """Everything ``update_code`` checks, writing nothing: (the release, the code's row, the changes).

    Raises NotFound, Invalid as update_code does.
    """
    scheme = get_scheme(scheme_id)
    rel = _editable_release(session, scheme.id, release)
    _canonical, row = _code_row(session, scheme, rel, code)
    unknown = set(values) - set(UPDATABLE) - {"code"}
    if unknown:
        raise Invalid("these fields cannot be changed here", {k: ["unknown field"] for k in sorted(unknown)})
    if "name" in values and not (values["name"] or "").strip():
        raise Invalid("a code needs a name", {"name": ["required"]})
    if "attributes" in values:
        values = {**values, "attributes": values["attributes"] or None}
        _template_or_invalid(values["attributes"])
    if "name" in values:
        values = {**values, "name": values["name"].strip()}
    # what really changes: PATCH {} (or the values the code already has) changes nothing
    changes = {k: v for k, v in values.items() if k in UPDATABLE and getattr(row, k) != v}
    if "name" in changes:
        changes["pinyin"] = pinyin_initials(changes["name"])
    return rel, row, changes


def update_code(
    session: Session,
    scheme_id: str,
    code: str,
    values: dict,
    *,
    actor: str,
    release: str | None = None,
    commit: bool = True,
) -> dict:
    """Change a code's names, unit, description or attribute template. Audited. Raises NotFound, Invalid.

    Nothing to change (an empty patch, or the values the code already has) is no change: the code is
    returned as it is and no audit entry is written. ``commit=False`` as for ``add_code``.
    """
    scheme = get_scheme(scheme_id)
    rel, row, changes = check_update_code(session, scheme.id, code, values, release)
    canonical = row.code
    if not changes:
        return get_code(session, scheme.id, canonical, rel.release, crosswalks=False)
    before = release_summary(session, rel, scheme.id)
    changed = sorted(k for k in changes if k != "pinyin")
    was = {k: getattr(row, k) for k in changed}
    session.execute(update(Code).where(Code.id == row.id).values(**changes))
    session.expire(row)
    audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="update_code",
        change={
            "action": "update_code",
            "code": canonical,
            "fields": changed,
            # what changed, field by field (what a person reads in the audit history)
            "before": was,
            "after": {k: changes[k] for k in changed},
        },
    )
    return _done(session, scheme.id, canonical, rel.release, commit)


def check_deprecate_code(
    session: Session, scheme_id: str, code: str, successor: str | None = None, release: str | None = None
) -> tuple[Release, Code, str | None]:
    """Everything ``deprecate_code`` checks, writing nothing: (the release, the code's row, the successor).

    Raises NotFound, Invalid, Conflict as deprecate_code does.
    """
    scheme = get_scheme(scheme_id)
    rel = _editable_release(session, scheme.id, release)
    canonical, row = _code_row(session, scheme, rel, code)
    succ = None
    if successor:
        succ = parse_code(scheme, successor, "successor").code
        if succ == canonical:
            raise Invalid("a code cannot be its own successor", {"successor": ["unknown_successor"]})
        if not session.scalar(select(Code.id).where(Code.release_id == rel.id, Code.code == succ)):
            raise Invalid(f"the successor {succ} is not in the release", {"successor": ["unknown_successor"]})
    if row.status == "deprecated" and row.successor == succ:
        raise Conflict(f"{canonical} is already deprecated" + (f" in favour of {succ}" if succ else ""))
    return rel, row, succ


def deprecate_code(
    session: Session,
    scheme_id: str,
    code: str,
    *,
    actor: str,
    successor: str | None = None,
    release: str | None = None,
    commit: bool = True,
) -> dict:
    """Mark a code deprecated, pointing to its successor (which must be in the same release). Audited.

    Validation then reports it as ``deprecated`` with the successor. ``commit=False`` as for ``add_code``.
    Raises NotFound, Invalid, Conflict.
    """
    scheme = get_scheme(scheme_id)
    rel, row, succ = check_deprecate_code(session, scheme.id, code, successor, release)
    canonical = row.code
    before = release_summary(session, rel, scheme.id)
    session.execute(update(Code).where(Code.id == row.id).values(status="deprecated", successor=succ))
    session.expire(row)
    audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="deprecate",
        change={"action": "deprecate", "code": canonical, "successor": succ},
    )
    return _done(session, scheme.id, canonical, rel.release, commit)
