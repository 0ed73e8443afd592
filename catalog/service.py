"""Catalog services: systems and data resources (with fields), revisions and diffs, and search.

Plain values in, ORM objects out; every write is audited in its own transaction (``audit.record``)
and committed here unless the caller asks to commit itself (``commit=False``, used by the bulk import
so that a whole file lands in one transaction or not at all).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin
from sqlalchemy import String, case, cast, column, delete, func, insert, literal, select, table, union_all
from sqlalchemy.orm import Session, object_session

from catalog import categories, organizations
from catalog.models import (
    CONSTRAINT_KEYS,
    FIELD_TYPES,
    RESOURCE_STATUSES,
    DataResource,
    Organization,
    ResourceField,
    ResourceRevision,
    ResourceSearch,
    System,
)
from registry import audit
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.jsonutil import check_if_match, jsonable
from registry.paging import Page, clamp, paginate

SYSTEM = "system"
RESOURCE = "resource"
SYSTEM_EDITABLE = ("name", "description", "owner", "namespaces")
RESOURCE_EDITABLE = (
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
RESOURCE_DEFAULTS = {
    "share_type": "conditional",
    "open_to_public": False,
    "security_grade": "general",
    "status": "draft",
    "related": [],
    "tags": [],
    "fields": [],
    "lineage": None,
}
#: the facets of a search, in the order they are returned
FACETS = ("category", "share_type", "security_grade", "system", "provider", "status")


# --- systems -------------------------------------------------------------------------------


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


def _check_system(session: Session, values: dict, code: str) -> None:
    errors: dict[str, list[str]] = {}
    owner = values.get("owner")
    if owner and session.scalar(select(Organization.id).where(Organization.code == owner)) is None:
        errors["owner"] = [f"no organization with code {owner!r}"]
    namespaces = values.get("namespaces") or []
    if len(set(namespaces)) != len(namespaces):
        errors["namespaces"] = ["each namespace may be listed once"]
    elif namespaces:
        taken = {
            ns: other
            for other, owned in session.execute(
                select(System.code, System.namespaces).where(System.code != code)
            )
            for ns in owned or ()
        }
        clash = [f"{ns!r} belongs to system {taken[ns]!r}" for ns in namespaces if ns in taken]
        if clash:
            errors["namespaces"] = clash
    if errors:
        raise Invalid("the system has invalid values", errors)


def create_system(session: Session, values: dict, *, actor: str, commit: bool = True) -> System:
    """Create a system and audit it. Raises Conflict (code taken), Invalid (unknown owner, namespace taken)."""
    code = values["code"]
    if session.scalar(select(System.id).where(System.code == code)) is not None:
        raise Conflict(f"a system with code {code!r} already exists")
    values = {"namespaces": [], **values}
    _check_system(session, values, code)
    system = System(code=code, **{k: values.get(k) for k in SYSTEM_EDITABLE})
    system.namespaces = list(values.get("namespaces") or [])
    session.add(system)
    audit.record_change(
        session, actor=actor, entity_type=SYSTEM, entity_key=code, before=None, after=system.to_dict()
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
    """Change a system (PATCH, or PUT when ``replace``). Raises NotFound, Stale, Invalid."""
    system = get_system(session, code, lock=True)
    before = system.to_dict()
    check_if_match(if_match, before)
    if values.get("code", code) != code:
        raise Invalid("the code of a system cannot be changed", {"code": ["read-only"]})
    if replace:
        values = {k: values.get(k) for k in SYSTEM_EDITABLE} | {"namespaces": values.get("namespaces") or []}
    _check_system(session, values, code)
    for key in SYSTEM_EDITABLE:
        if key in values:
            setattr(system, key, list(values[key] or []) if key == "namespaces" else values[key])
    after = system.to_dict()
    if after["name"] != before["name"]:  # resources are found by their system's name too
        session.flush()
        for resource in session.scalars(select(DataResource).where(DataResource.system == code)):
            _index(session, resource, resource.to_dict())
    audit.record_change(session, actor=actor, entity_type=SYSTEM, entity_key=code, before=before, after=after)
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
    audit.record_change(session, actor=actor, entity_type=SYSTEM, entity_key=code, before=before, after=None)
    session.commit()


# --- resources: reading --------------------------------------------------------------------


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


def normalise_query(q: str | None) -> str:
    """What a search string is matched as: NFKC (full-width → ASCII), trimmed, lower case."""
    return unicodedata.normalize("NFKC", q or "").strip().lower()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_FTS = table("resource_fts", column("rowid"), column("resource_fts"))
_FTS_GRAMS = table("resource_fts_grams", column("rowid"), column("resource_fts_grams"))


def _term_condition(session: Session, term: str):
    """The condition on ``resource_search`` for one search term, answered by the database's own text index.

    3+ characters: substring match on the search text (SQLite FTS5 trigram phrase; PostgreSQL LIKE on
    the pg_trgm GIN index). 1–2 letters or characters: an exact lookup of that single character or
    pair among the resource's ``grams`` (FTS5 unicode61 token; PostgreSQL: the space-delimited word
    in ``grams`` via its pg_trgm GIN index).
    Anything else short (punctuation) falls back to LIKE over the search table.
    """
    rs = ResourceSearch
    sqlite = session.get_bind().dialect.name == "sqlite"
    if len(term) >= 3:
        if sqlite:
            phrase = '"' + term.replace('"', '""') + '"'
            return rs.resource_id.in_(select(_FTS.c.rowid).where(_FTS.c.resource_fts.op("MATCH")(phrase)))
        return rs.text.like(f"%{_like_escape(term)}%", escape="\\")
    if term.isalnum():
        if sqlite:
            return rs.resource_id.in_(
                select(_FTS_GRAMS.c.rowid).where(_FTS_GRAMS.c.resource_fts_grams.op("MATCH")(f'"{term}"'))
            )
        # " 工程 " as a whole word of the padded grams: pg_trgm takes the padded trigrams of the word
        return rs.grams.like(f"% {term} %")
    return rs.text.like(f"%{_like_escape(term)}%", escape="\\")


def _search_conditions(session: Session, args: dict) -> tuple[list, bool]:
    """The WHERE conditions of a search, and whether it is a text search.

    A text search (``q`` or ``tag``) reads ``resource_search`` alone (it carries the filter columns);
    a plain listing reads ``data_resource`` and its indexes.
    """
    conds = []
    for term in normalise_query(args.get("q")).split():
        conds.append(_term_condition(session, term))
    tag = (args.get("tag") or "").strip()
    if tag:
        conds.append(ResourceSearch.tags.like(f"%|{_like_escape(tag)}|%", escape="\\"))
    textual = bool(conds)
    source = ResourceSearch if textual else DataResource
    for key in FACETS:
        value = args.get(key)
        if value:
            conds.append(getattr(source, key) == value)
    return conds, textual


def search_resources(session: Session, args: dict) -> dict:
    """Resources matching ``q`` (Chinese substrings, pinyin initials; terms split on spaces are ANDed) and
    the filters ``category, share_type, security_grade, system, provider, status, tag``; one page of
    them, the total, and ``facets`` (counts per value of each filter over the whole result).

    Resources whose name contains ``q`` come first, then by code. Returns ``{"items": [DataResource],
    "total", "page", "per_page", "facets"}``.
    """
    page, per_page = clamp(args.get("page"), args.get("per_page"))
    conds, textual = _search_conditions(session, args)
    q = normalise_query(args.get("q"))
    source = ResourceSearch if textual else DataResource
    key = ResourceSearch.resource_id if textual else DataResource.id
    rank = (
        case((ResourceSearch.name.like(f"%{_like_escape(q)}%", escape="\\"), 0), else_=1) if q else literal(1)
    )
    # one statement: the match is evaluated once into a materialized CTE; facet counts and the page's
    # ids come back together (a few dozen rows, whatever the number of matches)
    matched = (
        select(
            key.label("id"),
            source.code.label("code"),
            rank.label("rank"),
            *(getattr(source, f) for f in FACETS),
        )
        .where(*conds)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    parts = [
        select(literal(f).label("facet"), matched.c[f].label("value"), func.count().label("n")).group_by(
            matched.c[f]
        )
        for f in FACETS
    ]
    ranked = (
        select(matched.c.id, matched.c.rank)
        .order_by(matched.c.rank, matched.c.code)
        .offset((page - 1) * per_page)
        .limit(per_page)
        .subquery()
    )
    parts.append(
        select(literal("").label("facet"), cast(ranked.c.id, String), ranked.c.rank).select_from(ranked)
    )
    facets: dict[str, dict] = {f: {} for f in FACETS}
    page_ids: dict[int, int] = {}
    for facet, value, n in session.execute(union_all(*parts)):
        if facet:
            facets[facet][value if value is not None else ""] = n
        else:
            page_ids[int(value)] = n
    total = sum(facets[FACETS[0]].values())
    for f in FACETS:
        facets[f] = dict(sorted(facets[f].items(), key=lambda kv: (-kv[1], kv[0])))
    items = []
    if page_ids:
        items = list(session.scalars(select(DataResource).where(DataResource.id.in_(list(page_ids)))))
        items.sort(key=lambda r: (page_ids[r.id], r.code))
    return {"items": items, "total": total, "page": page, "per_page": per_page, "facets": facets}


# --- the search text -----------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


@functools.lru_cache(maxsize=65536)
def pinyin_initials(text: str | None) -> str:
    """The pinyin initials of the Chinese characters in ``text``: 合同履约评价 → ``htlypj``."""
    return "".join(lazy_pinyin("".join(_HAN.findall(text or "")), style=Style.FIRST_LETTER))


@functools.lru_cache(maxsize=65536)
def pinyin_full(text: str | None) -> str:
    return "".join(lazy_pinyin("".join(_HAN.findall(text or ""))))


def search_text(values: dict, system_name: str | None = None) -> str:
    """The text a resource is found by: code, name, summary, tags, field names and titles, its system's
    name, and the pinyin (initials and full) of the name, tags, field titles and system name; NFKC,
    lower case, one part per line."""
    fields = values.get("fields") or []
    tags = values.get("tags") or []
    titles = [f.get("title") or "" for f in fields]
    parts = [
        values.get("code") or "",
        values.get("name") or "",
        values.get("summary") or "",
        " ".join(tags),
        " ".join(f.get("name") or "" for f in fields),
        " ".join(titles),
        pinyin_initials(values.get("name")),
        pinyin_full(values.get("name")),
        " ".join(pinyin_initials(t) for t in tags),
        " ".join(pinyin_initials(t) for t in titles if t),
        system_name or "",
        pinyin_initials(system_name),
    ]
    return unicodedata.normalize("NFKC", "\n".join(p for p in parts if p)).lower()


def grams_text(text: str) -> str:
    """Every distinct letter or character of ``text`` and every pair of neighbouring ones (within runs of
    letters, digits and Chinese characters), space-separated: what 1–2 character queries look up."""
    out: set[str] = set()
    for run in re.findall(r"\w+", text):
        run = run.replace("_", "")
        out.update(run)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return " " + " ".join(sorted(out)) + " "


def tags_text(tags) -> str:
    return "|" + "|".join(tags or ()) + "|" if tags else ""


def _index(session: Session, resource: DataResource, values: dict) -> None:
    system_name = (
        session.scalar(select(System.name).where(System.code == resource.system)) if resource.system else None
    )
    session.execute(delete(ResourceSearch).where(ResourceSearch.resource_id == resource.id))
    session.execute(insert(ResourceSearch).values(**search_row(resource.id, values, system_name)))


def search_row(resource_id: int, values: dict, system_name: str | None = None) -> dict:
    """The ``resource_search`` row of a resource (also used by bulk loaders)."""
    text = search_text(values, system_name)
    return {
        "resource_id": resource_id,
        "text": text,
        "tags": tags_text(values.get("tags")),
        "grams": grams_text(text),
        "code": values["code"],
        "name": unicodedata.normalize("NFKC", values.get("name") or "").lower(),
        **{f: values.get(f) for f in FACETS},
    }


# --- resources: checks ---------------------------------------------------------------------


def scheme_exists(scheme_id: str) -> bool:
    """Whether the code registry declares this scheme (``standards.formats``)."""
    try:
        from standards.formats import get_scheme
    except ImportError:  # a build without the code registry
        return False
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
        import polars as pl

        pl.Series([""]).str.contains(pattern)
    except Exception as exc:  # polars' regex engine (Rust) has no look-around or back-references
        return f"not supported by the validator's regular expressions: {str(exc).splitlines()[0]}"
    return None


def _check_fields(fields: list[dict]) -> dict:
    errors: dict[str, list[str]] = {}
    seen = set()
    for i, f in enumerate(fields):
        where = f"fields[{i}]"
        problems = []
        name = f.get("name")
        if name in seen:
            problems.append(f"duplicate field name {name!r}")
        seen.add(name)
        ftype = f.get("type") or "string"
        if ftype not in FIELD_TYPES:
            problems.append(f"type must be one of {', '.join(FIELD_TYPES)}")
        scheme = f.get("code_scheme")
        if scheme and not scheme_exists(scheme):
            problems.append(f"code_scheme: no code scheme {scheme!r}")
        if scheme and ftype != "string":
            problems.append("a code-valued field (code_scheme) must have type string")
        c = f.get("constraints") or {}
        unknown = set(c) - set(CONSTRAINT_KEYS)
        if unknown:
            problems.append(f"unknown constraints {sorted(unknown)}; allowed: {', '.join(CONSTRAINT_KEYS)}")
        if ("min_length" in c or "max_length" in c) and ftype != "string":
            problems.append("min_length/max_length apply to string fields")
        for key in ("min_length", "max_length"):
            if key in c and c[key] is not None and (not isinstance(c[key], int) or c[key] < 0):
                problems.append(f"{key} must be a whole number ≥ 0")
        for key in ("minimum", "maximum"):
            v = c.get(key)
            if v is None:
                continue
            if ftype in ("integer", "number"):
                if isinstance(v, bool) or not isinstance(v, int | float):
                    problems.append(f"{key} must be a number for a {ftype} field")
            elif ftype in ("date", "datetime"):
                if not isinstance(v, str):
                    problems.append(f"{key} must be an ISO 8601 string for a {ftype} field")
            else:
                problems.append(f"{key} applies to integer, number, date and datetime fields")
        lo, hi = c.get("minimum"), c.get("maximum")
        if lo is not None and hi is not None and type(lo) is type(hi) and lo > hi:
            problems.append("minimum is greater than maximum")
        if c.get("pattern") is not None:
            msg = (
                _check_pattern(c["pattern"]) if isinstance(c["pattern"], str) else "pattern must be a string"
            )
            if msg:
                problems.append(f"pattern: {msg}")
        if "enum" in c and c["enum"] is not None and (not isinstance(c["enum"], list) or not c["enum"]):
            problems.append("enum must be a non-empty list")
        if problems:
            errors[where] = problems
    return errors


def _check_resource(session: Session, values: dict, code: str) -> None:
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
    related = values.get("related") or []
    if related:
        problems = []
        if code in related:
            problems.append("a resource cannot be related to itself")
        if len(set(related)) != len(related):
            problems.append("each related resource may be listed once")
        known = set(session.scalars(select(DataResource.code).where(DataResource.code.in_(related))))
        missing = [r for r in related if r not in known and r != code]
        if missing:
            problems.append(f"no data resource with code {', '.join(map(repr, missing))}")
        if problems:
            errors["related"] = problems
    if values.get("status") and values["status"] not in RESOURCE_STATUSES:
        errors["status"] = [f"one of {', '.join(RESOURCE_STATUSES)}"]
    lineage = values.get("lineage")
    if lineage:
        clash = session.scalar(
            select(DataResource.code).where(
                DataResource.lineage_namespace == lineage.get("namespace"),
                DataResource.lineage_name == lineage.get("name"),
                DataResource.code != code,
            )
        )
        if clash:
            errors["lineage"] = [f"resource {clash!r} already has this lineage identity"]
    field_errors = _check_fields(values.get("fields") or [])
    errors.update(field_errors)
    if errors:
        raise Invalid("the data resource has invalid values", errors)


def _apply(resource: DataResource, values: dict) -> None:
    for key in RESOURCE_EDITABLE:
        if key not in values:
            continue
        value = values[key]
        if key == "lineage":
            resource.lineage_namespace = value.get("namespace") if value else None
            resource.lineage_name = value.get("name") if value else None
        elif key == "fields":
            session = object_session(resource)
            if session is not None and resource.fields:
                resource.fields.clear()  # delete the old rows first: a kept name would clash with itself
                session.flush()
            resource.fields = [
                ResourceField(
                    position=i,
                    name=f["name"],
                    title=f.get("title"),
                    type=f.get("type") or "string",
                    required=bool(f.get("required")),
                    unique=bool(f.get("unique")),
                    code_scheme=f.get("code_scheme"),
                    constraints={k: v for k, v in (f.get("constraints") or {}).items() if v is not None},
                    description=f.get("description"),
                )
                for i, f in enumerate(value or [])
            ]
        elif key == "published_on":
            resource.published_on = dt.date.fromisoformat(value) if isinstance(value, str) else value
        elif key in ("related", "tags"):
            setattr(resource, key, list(value or []))
        else:
            setattr(resource, key, value)
    if resource.status == "published" and resource.published_on is None:
        resource.published_on = dt.date.today()


def _revise(session: Session, resource: DataResource, action: str, actor: str, snapshot: dict) -> None:
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


# --- resources: writing --------------------------------------------------------------------


def create_resource(session: Session, values: dict, *, actor: str, commit: bool = True) -> DataResource:
    """Create a resource with its fields, revision 1, search text and one audit entry.

    Raises Conflict (code taken), Invalid (a reference that does not exist, bad field definitions).
    """
    code = values["code"]
    if session.scalar(select(DataResource.id).where(DataResource.code == code)) is not None:
        raise Conflict(f"a data resource with code {code!r} already exists")
    values = {**RESOURCE_DEFAULTS, **values}
    _check_resource(session, values, code)
    previous = session.scalar(
        select(func.max(ResourceRevision.number)).where(ResourceRevision.resource_code == code)
    )
    resource = DataResource(code=code, revision=(previous or 0) + 1)
    _apply(resource, values)
    session.add(resource)
    session.flush()
    after = resource.to_dict()
    _index(session, resource, after)
    _revise(session, resource, "create", actor, after)
    audit.record_change(session, actor=actor, entity_type=RESOURCE, entity_key=code, before=None, after=after)
    if commit:
        session.commit()
    return resource


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
    before = resource.to_dict()
    check_if_match(if_match, before)
    if values.get("code", code) != code:
        raise Invalid("the code of a data resource cannot be changed", {"code": ["read-only"]})
    if replace:
        values = {k: values.get(k, RESOURCE_DEFAULTS.get(k)) for k in RESOURCE_EDITABLE}
    values = {k: v for k, v in values.items() if k in RESOURCE_EDITABLE}
    if values.get("status") == "draft" and before["status"] != "draft":
        raise Invalid(
            "a published or retired resource cannot go back to draft",
            {"status": ["draft → published → retired"]},
        )
    _check_resource(session, values, code)
    candidate = {**before, **{k: v for k, v in jsonable(values).items()}}
    if "fields" in values:
        candidate["fields"] = [_field_dict(f) for f in values["fields"] or []]
    if candidate == before:
        return resource
    _apply(resource, values)
    resource.revision = before["revision"] + 1
    session.flush()
    session.expire(resource, ["fields"])
    after = resource.to_dict()
    _index(session, resource, after)
    _revise(session, resource, "update", actor, after)
    audit.record_change(
        session, actor=actor, entity_type=RESOURCE, entity_key=code, before=before, after=after
    )
    if commit:
        session.commit()
    return resource


def _field_dict(f: dict) -> dict:
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
    session.execute(delete(ResourceSearch).where(ResourceSearch.resource_id == resource.id))
    session.delete(resource)
    audit.record_change(
        session, actor=actor, entity_type=RESOURCE, entity_key=code, before=before, after=None
    )
    session.commit()


# --- revisions -----------------------------------------------------------------------------


def list_revisions(session: Session, code: str, *, page: int = 1, per_page: int = 50) -> Page:
    """Every saved version of a resource, newest first (also after the resource was deleted). Raises NotFound."""
    query = (
        select(ResourceRevision)
        .where(ResourceRevision.resource_code == code)
        .order_by(ResourceRevision.number.desc())
    )
    result = paginate(session, query, page, per_page)
    if result.total == 0:
        get_resource(session, code)  # NotFound for an unknown code; a known one always has revisions
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
    """Revision ``number`` with its diff against ``against`` (default: the revision before it, if any)."""
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
    """Differences between two resource snapshots: ``[{"path", "change": added|removed|changed, "before", "after"}]``.

    Top-level keys by name; ``fields`` per field name (``fields.<name>.<key>``, or the whole field when
    added or removed, and ``fields`` (order) when only their order changed).
    """
    out = []
    for key in sorted(set(old) | set(new)):
        if key in ("fields", "revision"):
            continue
        a, b = old.get(key), new.get(key)
        if a != b:
            change = "added" if key not in old else "removed" if key not in new else "changed"
            out.append({"path": key, "change": change, "before": a, "after": b})
    fa = {f["name"]: f for f in old.get("fields") or []}
    fb = {f["name"]: f for f in new.get("fields") or []}
    for name in [f["name"] for f in old.get("fields") or []] + [n for n in fb if n not in fa]:
        a, b = fa.get(name), fb.get(name)
        if a is None:
            out.append({"path": f"fields.{name}", "change": "added", "before": None, "after": b})
        elif b is None:
            out.append({"path": f"fields.{name}", "change": "removed", "before": a, "after": None})
        else:
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    out.append(
                        {
                            "path": f"fields.{name}.{k}",
                            "change": "changed",
                            "before": a.get(k),
                            "after": b.get(k),
                        }
                    )
    order_a = [n for n in fa if n in fb]
    order_b = [n for n in fb if n in fa]
    if order_a != order_b:
        out.append({"path": "fields", "change": "reordered", "before": order_a, "after": order_b})
    return out


# --- audit and references --------------------------------------------------------------------


def _system_snapshot(session: Session, key: str) -> dict | None:
    system = session.scalar(select(System).where(System.code == key))
    return None if system is None else system.to_dict()


def _resource_snapshot(session: Session, key: str) -> dict | None:
    resource = session.scalar(
        select(DataResource).where(DataResource.code == key).execution_options(populate_existing=True)
    )
    return None if resource is None else resource.to_dict()


audit.register_entity(SYSTEM, _system_snapshot, lambda s: s.scalars(select(System.code)), tables=("system",))
audit.register_entity(
    RESOURCE,
    _resource_snapshot,
    lambda s: s.scalars(select(DataResource.code)),
    tables=("data_resource", "resource_field"),
)


def _org_used_by_systems(session: Session, code: str) -> bool:
    return session.scalar(select(System.id).where(System.owner == code).limit(1)) is not None


def _org_used_by_resources(session: Session, code: str) -> bool:
    return session.scalar(select(DataResource.id).where(DataResource.provider == code).limit(1)) is not None


if not any(describe == "systems (owner)" for describe, _ in organizations.REFERENCES):
    organizations.REFERENCES.append(("systems (owner)", _org_used_by_systems))
    organizations.REFERENCES.append(("data resources (provider)", _org_used_by_resources))


def reindex_all(session: Session) -> int:
    """Rebuild every resource's search text (after a change of the rules); returns how many."""
    n = 0
    for resource in session.scalars(select(DataResource)):
        _index(session, resource, resource.to_dict())
        n += 1
    session.commit()
    return n


__all__ = [
    "FACETS",
    "create_resource",
    "create_system",
    "delete_resource",
    "delete_system",
    "diff",
    "get_resource",
    "get_system",
    "list_revisions",
    "list_systems",
    "search_resources",
    "search_text",
    "show_revision",
    "update_resource",
    "update_system",
]
