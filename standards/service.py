"""Code registry services: schemes, releases, imports, codes, deprecation, crosswalks — each change one audited transaction.

Every change to a release (import, publish, a code added, edited or deprecated) appends ONE audit entry for
the entity ``release`` (key ``scheme/release``) whose ``after`` is the release's summary, including a SHA-256
digest of all its codes, so ``yima audit verify`` catches a code row edited directly in the database.
Crosswalk changes are audited the same way as the entity ``crosswalk``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from registry import audit
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from registry.paging import MAX_PER_PAGE, clamp
from standards import importer
from standards.formats import Malformed, Scheme, all_schemes, get_scheme, parse_code
from standards.models import CROSSWALK_RELATIONS, Code, CodeScheme, Crosswalk, Release
from standards.validation import release_index

RELEASE = "release"
CROSSWALK = "crosswalk"
_CODE_COLUMNS = (
    "code",
    "parent",
    "level",
    "name",
    "name_en",
    "unit",
    "status",
    "successor",
    "attributes",
    "description",
)
_INVERSE = {"broader": "narrower", "narrower": "broader"}


# --- schemes and releases -------------------------------------------------------------------


def _scheme_row(session: Session, scheme: Scheme, create: bool = False) -> CodeScheme | None:
    row = session.scalar(select(CodeScheme).where(CodeScheme.scheme == scheme.id))
    if row is None and create:
        row = CodeScheme(scheme=scheme.id, name=scheme.name[:200], created_at=utcnow())
        session.add(row)
        session.flush()
    return row


def _release_rows(session: Session, scheme_id: str) -> list[tuple[Release, int]]:
    query = (
        select(Release, func.count(Code.id))
        .join(CodeScheme, CodeScheme.id == Release.scheme_id)
        .outerjoin(Code, Code.release_id == Release.id)
        .where(CodeScheme.scheme == scheme_id)
        .group_by(Release.id)
        .order_by(Release.created_at, Release.id)
    )
    return [(r, n) for r, n in session.execute(query)]


def _release_dict(release: Release, codes: int) -> dict:
    return {
        "release": release.release,
        "status": release.status,
        "codes": codes,
        "note": release.note,
        "created_at": release.created_at,
        "published_at": release.published_at,
    }


def _current(releases: list[tuple[Release, int]]) -> str | None:
    published = [r for r, _ in releases if r.status == "published"]
    if not published:
        return None
    return max(published, key=lambda r: (r.published_at, r.id)).release


def scheme_info(session: Session, scheme_id: str) -> dict:
    """A scheme's definition with its releases (``{"release", "status", "codes"}``) and current release.

    Raises NotFound for an unknown scheme.
    """
    scheme = get_scheme(scheme_id)
    releases = _release_rows(session, scheme.id)
    return {
        **scheme.to_dict(),
        "releases": [_release_dict(r, n) for r, n in releases],
        "current_release": _current(releases),
    }


def list_schemes(session: Session) -> list[dict]:
    """Every declared scheme with its releases and code counts (the contract's scheme list items)."""
    return [scheme_info(session, s.id) for s in all_schemes()]


def list_releases(session: Session, scheme_id: str) -> list[dict]:
    """The scheme's releases, oldest first. Raises NotFound for an unknown scheme."""
    get_scheme(scheme_id)
    return [_release_dict(r, n) for r, n in _release_rows(session, scheme_id)]


def get_release(
    session: Session, scheme_id: str, release: str | None = None, *, published_only: bool = False
) -> Release:
    """A release by name; without a name the current published one (else, unless ``published_only``, the newest
    draft). Raises NotFound."""
    scheme = get_scheme(scheme_id)
    query = (
        select(Release)
        .join(CodeScheme, CodeScheme.id == Release.scheme_id)
        .where(CodeScheme.scheme == scheme.id)
    )
    if release is not None:
        row = session.scalar(query.where(Release.release == release))
        if row is None:
            raise NotFound(f"scheme {scheme.id!r} has no release {release!r}")
        return row
    row = session.scalar(
        query.where(Release.status == "published")
        .order_by(Release.published_at.desc(), Release.id.desc())
        .limit(1)
    )
    if row is None and not published_only:
        row = session.scalar(query.order_by(Release.created_at.desc(), Release.id.desc()).limit(1))
    if row is None:
        raise NotFound(f"scheme {scheme.id!r} has no {'published ' if published_only else ''}release yet")
    return row


def _digest(session: Session, release_id: int) -> tuple[int, str]:
    rows = session.execute(
        select(*(getattr(Code, c) for c in _CODE_COLUMNS)).where(Code.release_id == release_id)
    ).all()
    lines = sorted(
        json.dumps(list(r), ensure_ascii=False, sort_keys=True, separators=(",", ":")) for r in rows
    )
    return len(lines), hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def release_summary(session: Session, release: Release, scheme_id: str) -> dict:
    """What an audit entry of a release records: status, code count, digest of every code, the last change."""
    count, digest = _digest(session, release.id)
    return {
        "scheme": scheme_id,
        "release": release.release,
        "status": release.status,
        "codes": count,
        "digest": digest,
        "change": release.last_change,
    }


def _audit_release(session, release, scheme_id, before, *, actor, action, change) -> dict:
    release.last_change = change
    release.version = (release.version or 0) + 1
    session.flush()
    after = release_summary(session, release, scheme_id)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type=RELEASE,
        entity_key=f"{scheme_id}/{release.release}",
        before=before,
        after=after,
    )
    return after


def _check_code_list(scheme: Scheme) -> None:
    if not scheme.has_code_list:
        raise Invalid(f"scheme {scheme.id!r} has no code list: it validates format and check digit only")


def _release_name(release: str | None) -> str:
    release = (release or "").strip()
    if not release or len(release) > 64 or "/" in release or "->" in release:
        raise Invalid(
            "a release needs a name of 1 to 64 characters without '/' or '->'", {"release": ["invalid"]}
        )
    return release


def create_release(
    session: Session,
    scheme_id: str,
    release: str,
    *,
    actor: str,
    note: str | None = None,
    copy_from: str | None = None,
) -> dict:
    """Create a draft release (optionally a copy of another release's codes, to be revised). Audited.

    Raises NotFound (scheme, or ``copy_from``), Invalid (bad name, no code list), Conflict (name taken).
    """
    scheme = get_scheme(scheme_id)
    _check_code_list(scheme)
    release = _release_name(release)
    source = get_release(session, scheme.id, copy_from) if copy_from else None
    row = _scheme_row(session, scheme, create=True)
    if session.scalar(select(Release.id).where(Release.scheme_id == row.id, Release.release == release)):
        raise Conflict(f"scheme {scheme.id!r} already has a release {release!r}")
    rel = Release(
        scheme_id=row.id, release=release, status="draft", note=note, version=1, created_at=utcnow()
    )
    session.add(rel)
    session.flush()
    if source is not None:
        cols = [c for c in _CODE_COLUMNS] + ["pinyin"]
        session.execute(
            insert(Code).from_select(
                ["release_id", *cols],
                select(literal(rel.id).label("release_id"), *(getattr(Code, c) for c in cols)).where(
                    Code.release_id == source.id
                ),
            )
        )
    _audit_release(
        session,
        rel,
        scheme.id,
        None,
        actor=actor,
        action="create",
        change={"action": "create", "copy_from": copy_from},
    )
    session.commit()
    return _release_dict(rel, _digest(session, rel.id)[0])


def publish_release(session: Session, scheme_id: str, release: str, *, actor: str) -> dict:
    """Publish a draft release: from now on it is the scheme's current release for validation. Audited.

    Raises NotFound, Conflict (already published), Invalid (no codes).
    """
    rel = get_release(session, scheme_id, release)
    if rel.status == "published":
        raise Conflict(f"{scheme_id} release {release!r} is already published")
    before = release_summary(session, rel, scheme_id)
    if before["codes"] == 0:
        raise Invalid(f"{scheme_id} release {release!r} has no codes; import some before publishing")
    rel.status = "published"
    rel.published_at = utcnow()
    after = _audit_release(
        session, rel, scheme_id, before, actor=actor, action="publish", change={"action": "publish"}
    )
    session.commit()
    return {**_release_dict(rel, after["codes"])}


# --- import ---------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do), and every bad row."""

    scheme: str
    release: str
    files: list[str]
    rows: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[importer.RowError] = field(default_factory=list)
    dry_run: bool = False
    published: bool = False
    created_release: bool = False
    digest: str | None = None

    def to_dict(self) -> dict:
        return {
            "scheme": self.scheme,
            "release": self.release,
            "files": self.files,
            "rows": self.rows,
            "added": self.added,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "errors": [e.to_dict() for e in self.errors],
            "dry_run": self.dry_run,
            "published": self.published,
            "created_release": self.created_release,
            "digest": self.digest,
        }


def import_codes(
    session: Session,
    scheme_id: str,
    release: str,
    tables: list[importer.Table],
    *,
    actor: str,
    publish: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import codes from parsed tables into ``release`` (created as a draft if absent): all rows or none.

    New codes are added, codes whose values differ are replaced, codes not in the files are kept. Parents
    are derived by the scheme's rule and must exist (in the files or the release); successors likewise.
    With ``dry_run`` nothing is written and the report lists every bad row. Without it, bad rows raise
    Invalid (422) with every row error, and nothing is written. One audit entry for the whole import.
    Raises NotFound (scheme), Invalid, Conflict (the release is published and ``publish`` is not asked).
    """
    scheme = get_scheme(scheme_id)
    _check_code_list(scheme)
    release = _release_name(release)
    report = ImportReport(scheme.id, release, [t.file for t in tables], dry_run=dry_run)
    report.rows = sum(len(t.rows) for t in tables)
    row = _scheme_row(session, scheme)
    rel = None
    if row is not None:
        rel = session.scalar(select(Release).where(Release.scheme_id == row.id, Release.release == release))
    if rel is not None and rel.status == "published":
        raise Conflict(
            f"{scheme.id} release {release!r} is published and cannot be re-imported; import into a new release"
        )
    existing: dict[str, tuple] = {}
    if rel is not None:
        for r in session.execute(
            select(*(getattr(Code, c) for c in _CODE_COLUMNS)).where(Code.release_id == rel.id)
        ):
            existing[r[0]] = tuple(r)
    good, errors = importer.check_rows(scheme, tables, existing)
    report.errors = errors
    if progress:
        progress(report.rows // 2)
    new_rows, replaced = [], []
    for r in good:
        values = r.values
        record = (
            r.code,
            r.parent,
            r.level,
            values["name"],
            values["name_en"],
            values["unit"],
            values["status"],
            values["successor"],
            values["attributes"],
            values["description"],
        )
        old = existing.get(r.code)
        if old is None:
            report.added += 1
        elif old != record:
            report.changed += 1
            replaced.append(r.code)
        else:
            report.unchanged += 1
            continue
        new_rows.append(
            {
                **dict(zip(_CODE_COLUMNS, record, strict=True)),
                "pinyin": importer.pinyin_initials(values["name"]),
            }
        )
    if dry_run:
        session.rollback()
        return report
    if errors:
        raise Invalid(
            f"{len(errors)} bad row(s) in {', '.join(report.files)}; nothing was imported",
            [str(e) for e in errors],
        )
    if rel is None:
        srow = _scheme_row(session, scheme, create=True)
        rel = Release(scheme_id=srow.id, release=release, status="draft", version=1, created_at=utcnow())
        session.add(rel)
        session.flush()
        report.created_release = True
        before = None
    else:
        before = release_summary(session, rel, scheme.id)
    for i in range(0, len(replaced), 500):
        session.execute(delete(Code).where(Code.release_id == rel.id, Code.code.in_(replaced[i : i + 500])))
    if new_rows:
        for row_ in new_rows:
            row_["release_id"] = rel.id
        session.execute(insert(Code), new_rows)
    if progress:
        progress(report.rows - report.rows // 2)
    if publish:
        if not new_rows and not existing:
            raise Invalid(f"{scheme.id} release {release!r} has no codes to publish")
        rel.status = "published"
        rel.published_at = utcnow()
        report.published = True
    after = _audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="import",
        change={
            "action": "import",
            "files": report.files,
            "added": report.added,
            "changed": report.changed,
            "published": publish,
        },
    )
    report.digest = after["digest"]
    session.commit()
    return report


def import_files(session: Session, scheme_id: str, release: str, paths: list, **kwargs) -> ImportReport:
    """``import_codes`` from CSV/XLSX files on disk. Raises Invalid for an unreadable file, as import_codes."""
    get_scheme(scheme_id)
    return import_codes(session, scheme_id, release, importer.read_files(paths), **kwargs)


# --- codes ----------------------------------------------------------------------------------


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


_ROW_COLUMNS = (
    Code.code,
    Code.parent,
    Code.level,
    Code.name,
    Code.name_en,
    Code.unit,
    Code.status,
    Code.successor,
    Code.attributes,
    Code.description,
)


def _normalised(scheme: Scheme, code: str) -> str:
    try:
        return scheme.parse(scheme.normalise(code)).code
    except Malformed:
        return code


def get_code(
    session: Session, scheme_id: str, code: str, release: str | None = None, *, crosswalks: bool = True
) -> dict:
    """One code with ancestors (root first), children count, effective attribute template, and its crosswalks.

    ``code`` may be typed as users type it (full-width, other separators). Raises NotFound.
    """
    scheme = get_scheme(scheme_id)
    rel = get_release(session, scheme.id, release)
    canonical = _normalised(scheme, code)
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
) -> dict:
    """A page of codes, by code: ``q`` matches a code prefix, a name substring (Chinese too) or pinyin initials
    (``gj`` finds 钢筋); ``parent`` lists a code's children, ``roots`` the top-level codes. Raises NotFound."""
    scheme = get_scheme(scheme_id)
    rel = get_release(session, scheme.id, release)
    query = select(*_ROW_COLUMNS).where(Code.release_id == rel.id)
    if q and q.strip():
        text = scheme.normalise(q)
        prefix = _normalised(scheme, text) if len(text) > 2 else text
        conditions = [
            Code.code.istartswith(prefix, autoescape=True),
            Code.name.icontains(text, autoescape=True),
            Code.name_en.icontains(text, autoescape=True),
        ]
        if text.isascii() and text.isalpha():
            conditions.append(Code.pinyin.contains(text.lower(), autoescape=True))
        query = query.where(or_(*conditions))
    if parent:
        query = query.where(Code.parent == _normalised(scheme, parent))
    elif roots:
        query = query.where(Code.parent.is_(None))
    if status:
        query = query.where(Code.status == status)
    page, per_page = clamp(page, per_page)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (
        session.execute(query.order_by(Code.code).offset((page - 1) * per_page).limit(per_page))
        .mappings()
        .all()
    )
    index = release_index(session, scheme.id, rel.release)
    return {
        "items": [_code_dict(scheme.id, index, dict(r)) for r in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
        "release": rel.release,
    }


def children(
    session: Session, scheme_id: str, code: str | None = None, release: str | None = None
) -> list[dict]:
    """The direct children of ``code`` (or the top-level codes), for a lazily expanded tree."""
    return list_codes(
        session, scheme_id, parent=code, roots=code is None, release=release, per_page=MAX_PER_PAGE
    )["items"]


def _editable_release(session: Session, scheme_id: str, release: str | None) -> Release:
    scheme = get_scheme(scheme_id)
    _check_code_list(scheme)
    return get_release(session, scheme.id, release)


def add_code(
    session: Session, scheme_id: str, values: dict, *, actor: str, release: str | None = None
) -> dict:
    """Add one code to a release (default: the current one). Its parent must exist. Audited.

    Raises NotFound, Invalid (malformed code, missing parent, bad template), Conflict (already there).
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
    before = release_summary(session, rel, scheme.id)
    session.execute(
        insert(Code),
        [
            {
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
                "pinyin": importer.pinyin_initials(values["name"]),
            }
        ],
    )
    _audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="add_code",
        change={"action": "add_code", "code": parsed.code},
    )
    session.commit()
    return get_code(session, scheme.id, parsed.code, rel.release, crosswalks=False)


def _template_or_invalid(attributes) -> None:
    if attributes is None:
        return
    try:
        importer._check_template(attributes)
    except ValueError as exc:
        raise Invalid(f"not an attribute template: {exc}", {"attributes": [str(exc)]}) from None


def update_code(
    session: Session, scheme_id: str, code: str, values: dict, *, actor: str, release: str | None = None
) -> dict:
    """Change a code's names, unit, description or attribute template. Audited. Raises NotFound, Invalid."""
    scheme = get_scheme(scheme_id)
    rel = _editable_release(session, scheme.id, release)
    canonical = _normalised(scheme, code)
    row = session.scalar(select(Code).where(Code.release_id == rel.id, Code.code == canonical))
    if row is None:
        raise NotFound(f"{canonical} is not in {scheme.id} release {rel.release}")
    allowed = {"name", "name_en", "unit", "description", "attributes"}
    unknown = set(values) - allowed - {"code"}
    if unknown:
        raise Invalid("these fields cannot be changed here", {k: ["unknown field"] for k in sorted(unknown)})
    if "name" in values and not (values["name"] or "").strip():
        raise Invalid("a code needs a name", {"name": ["required"]})
    if "attributes" in values:
        values = {**values, "attributes": values["attributes"] or None}
        _template_or_invalid(values["attributes"])
    before = release_summary(session, rel, scheme.id)
    changes = {k: v for k, v in values.items() if k in allowed}
    if "name" in changes:
        changes["pinyin"] = importer.pinyin_initials(changes["name"])
    session.execute(update(Code).where(Code.id == row.id).values(**changes))
    session.expire(row)
    _audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="update_code",
        change={
            "action": "update_code",
            "code": canonical,
            "fields": sorted(k for k in changes if k != "pinyin"),
        },
    )
    session.commit()
    return get_code(session, scheme.id, canonical, rel.release, crosswalks=False)


def deprecate_code(
    session: Session,
    scheme_id: str,
    code: str,
    *,
    actor: str,
    successor: str | None = None,
    release: str | None = None,
) -> dict:
    """Mark a code deprecated, pointing to its successor (which must be in the same release). Audited.

    Validation then reports it as ``deprecated`` with the successor. Raises NotFound, Invalid, Conflict.
    """
    scheme = get_scheme(scheme_id)
    rel = _editable_release(session, scheme.id, release)
    canonical = _normalised(scheme, code)
    row = session.scalar(select(Code).where(Code.release_id == rel.id, Code.code == canonical))
    if row is None:
        raise NotFound(f"{canonical} is not in {scheme.id} release {rel.release}")
    succ = None
    if successor:
        succ = parse_code(scheme, successor, "successor").code
        if succ == canonical:
            raise Invalid("a code cannot be its own successor", {"successor": ["unknown_successor"]})
        if not session.scalar(select(Code.id).where(Code.release_id == rel.id, Code.code == succ)):
            raise Invalid(f"the successor {succ} is not in the release", {"successor": ["unknown_successor"]})
    if row.status == "deprecated" and row.successor == succ:
        raise Conflict(f"{canonical} is already deprecated" + (f" in favour of {succ}" if succ else ""))
    before = release_summary(session, rel, scheme.id)
    session.execute(update(Code).where(Code.id == row.id).values(status="deprecated", successor=succ))
    session.expire(row)
    _audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="deprecate",
        change={"action": "deprecate", "code": canonical, "successor": succ},
    )
    session.commit()
    return get_code(session, scheme.id, canonical, rel.release, crosswalks=False)


# --- crosswalks -----------------------------------------------------------------------------


def _crosswalk_key(fs: str, fr: str, ts: str, tr: str) -> str:
    return f"{fs}/{fr}->{ts}/{tr}"


def _crosswalk_summary(session: Session, from_id: int, to_id: int) -> dict | None:
    rows = session.execute(
        select(Crosswalk.from_code, Crosswalk.to_code, Crosswalk.relation).where(
            Crosswalk.from_release_id == from_id, Crosswalk.to_release_id == to_id
        )
    ).all()
    if not rows:
        return None
    lines = sorted("\t".join(r) for r in rows)
    return {"mappings": len(lines), "digest": hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()}


def set_crosswalk(
    session: Session,
    from_scheme: str,
    to_scheme: str,
    mappings: list[dict],
    *,
    actor: str,
    from_release: str | None = None,
    to_release: str | None = None,
    replace: bool = False,
) -> dict:
    """Add mappings ``{"from", "to", "relation"?}`` between two releases (or replace them all). Audited.

    Both codes must exist in their releases; relation is exact (default), broader, narrower, related or
    successor. Raises NotFound (scheme/release) and Invalid listing every bad mapping; nothing is written then.
    """
    fs, ts = get_scheme(from_scheme), get_scheme(to_scheme)
    frel = get_release(session, fs.id, from_release)
    trel = get_release(session, ts.id, to_release)
    if frel.id == trel.id:
        raise Invalid("a crosswalk maps between two different releases")
    fidx = release_index(session, fs.id, frel.release)
    tidx = release_index(session, ts.id, trel.release)
    errors, pairs = [], {}
    for i, m in enumerate(mappings):
        if not isinstance(m, dict):
            errors.append(f"mapping {i}: an object with from, to and relation is expected")
            continue
        a, b = _normalised(fs, str(m.get("from") or "")), _normalised(ts, str(m.get("to") or ""))
        relation = m.get("relation") or "exact"
        if a not in fidx.entries:
            errors.append(f"mapping {i}: {a!r} is not in {fs.id} release {frel.release}")
        if b not in tidx.entries:
            errors.append(f"mapping {i}: {b!r} is not in {ts.id} release {trel.release}")
        if relation not in CROSSWALK_RELATIONS:
            errors.append(f"mapping {i}: relation must be one of {', '.join(CROSSWALK_RELATIONS)}")
        pairs[(a, b)] = relation
    if errors:
        raise Invalid(f"{len(errors)} bad mapping(s); nothing was changed", errors)
    if not pairs and not replace:
        raise Invalid("no mappings given", {"mappings": ["required"]})
    before = _crosswalk_summary(session, frel.id, trel.id)
    scope = (Crosswalk.from_release_id == frel.id, Crosswalk.to_release_id == trel.id)
    if replace:
        session.execute(delete(Crosswalk).where(*scope))
    else:
        for (a, b), _relation in pairs.items():
            session.execute(delete(Crosswalk).where(*scope, Crosswalk.from_code == a, Crosswalk.to_code == b))
    if pairs:
        session.execute(
            insert(Crosswalk),
            [
                {
                    "from_release_id": frel.id,
                    "from_code": a,
                    "to_release_id": trel.id,
                    "to_code": b,
                    "relation": r,
                }
                for (a, b), r in pairs.items()
            ],
        )
    session.flush()
    after = _crosswalk_summary(session, frel.id, trel.id)
    key = _crosswalk_key(fs.id, frel.release, ts.id, trel.release)
    if after != before:
        audit.record(
            session,
            actor=actor,
            action="replace" if replace else "map",
            entity_type=CROSSWALK,
            entity_key=key,
            before=before,
            after=after,
        )
    session.commit()
    return {
        "from_scheme": fs.id,
        "from_release": frel.release,
        "to_scheme": ts.id,
        "to_release": trel.release,
        "mappings": (after or {}).get("mappings", 0),
    }


def find_crosswalks(
    session: Session, scheme_id: str, code: str, *, release: str | None = None, to_scheme: str | None = None
) -> list[dict]:
    """Every mapping of a code, in both directions, each seen from this code: ``{"scheme", "release", "code",
    "name", "relation", "direction": "outgoing"|"incoming"}``. Raises NotFound (scheme/release)."""
    scheme = get_scheme(scheme_id)
    rel = get_release(session, scheme.id, release)
    canonical = _normalised(scheme, code)
    names = {
        r.id: (s, r.release)
        for r, s in session.execute(
            select(Release, CodeScheme.scheme).join(CodeScheme, CodeScheme.id == Release.scheme_id)
        )
    }
    rows = (
        session.execute(
            select(Crosswalk).where(
                or_(
                    (Crosswalk.from_release_id == rel.id) & (Crosswalk.from_code == canonical),
                    (Crosswalk.to_release_id == rel.id) & (Crosswalk.to_code == canonical),
                )
            )
        )
        .scalars()
        .all()
    )
    out = []
    for cw in rows:
        outgoing = cw.from_release_id == rel.id and cw.from_code == canonical
        other_id, other_code = (
            (cw.to_release_id, cw.to_code) if outgoing else (cw.from_release_id, cw.from_code)
        )
        other_scheme, other_release = names[other_id]
        if to_scheme and other_scheme != to_scheme:
            continue
        try:
            entry = release_index(session, other_scheme, other_release).entries.get(other_code)
        except NotFound:
            entry = None
        out.append(
            {
                "scheme": other_scheme,
                "release": other_release,
                "code": other_code,
                "name": entry.name if entry else None,
                "relation": cw.relation if outgoing else _INVERSE.get(cw.relation, cw.relation),
                "direction": "outgoing" if outgoing else "incoming",
            }
        )
    out.sort(key=lambda m: (m["scheme"], m["release"], m["code"]))
    return out


# --- audit state ----------------------------------------------------------------------------


def _release_snapshot(session: Session, key: str) -> dict | None:
    scheme_id, _, name = key.partition("/")
    rel = session.scalar(
        select(Release)
        .join(CodeScheme, CodeScheme.id == Release.scheme_id)
        .where(CodeScheme.scheme == scheme_id, Release.release == name)
    )
    return None if rel is None else release_summary(session, rel, scheme_id)


def _release_keys(session: Session):
    return [
        f"{s}/{r}"
        for s, r in session.execute(
            select(CodeScheme.scheme, Release.release).join(Release, Release.scheme_id == CodeScheme.id)
        )
    ]


def _crosswalk_snapshot(session: Session, key: str) -> dict | None:
    left, _, right = key.partition("->")
    ids = []
    for part in (left, right):
        scheme_id, _, name = part.partition("/")
        rid = session.scalar(
            select(Release.id)
            .join(CodeScheme, CodeScheme.id == Release.scheme_id)
            .where(CodeScheme.scheme == scheme_id, Release.release == name)
        )
        if rid is None:
            return None
        ids.append(rid)
    return _crosswalk_summary(session, *ids)


def _crosswalk_keys(session: Session):
    names = {
        r.id: (s, r.release)
        for r, s in session.execute(
            select(Release, CodeScheme.scheme).join(CodeScheme, CodeScheme.id == Release.scheme_id)
        )
    }
    pairs = session.execute(select(Crosswalk.from_release_id, Crosswalk.to_release_id).distinct()).all()
    return [_crosswalk_key(*names[a], *names[b]) for a, b in pairs]


audit.register_entity(RELEASE, _release_snapshot, _release_keys, tables=("code_release", "code"))
audit.register_entity(CROSSWALK, _crosswalk_snapshot, _crosswalk_keys, tables=("code_crosswalk",))
