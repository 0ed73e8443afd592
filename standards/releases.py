"""Code schemes and their releases: list, create (optionally as a copy), publish, and each release's audited summary.

Every change to a release (created, imported, published, a code added, edited or deprecated) is ONE
audit entry for the entity ``release`` (key ``scheme/release``, registered here) whose ``after`` is the
release's summary, including a SHA-256 digest of all its codes, so ``yima audit verify`` catches a
code row edited directly in the database.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db import utcnow
from registry.errors import Conflict, Invalid, NotFound
from standards.formats import Scheme, all_schemes, get_scheme
from standards.models import CODE_COLUMNS, Code, CodeScheme, Release

ENTITY = "release"


def scheme_row(session: Session, scheme: Scheme, create: bool = False) -> CodeScheme | None:
    """The database row of a scheme (created with ``create`` when it has none yet)."""
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
        select(*(getattr(Code, c) for c in CODE_COLUMNS)).where(Code.release_id == release_id)
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


def audit_release(
    session: Session,
    release: Release,
    scheme_id: str,
    before: dict | None,
    *,
    actor: str,
    action: str,
    change: dict,
) -> dict:
    """Record a change of a release: bump its version (the cache key), audit its new summary; returns it."""
    release.last_change = change
    release.version = (release.version or 0) + 1
    session.flush()
    after = release_summary(session, release, scheme_id)
    audit.record(
        session,
        actor=actor,
        action=action,
        entity_type=ENTITY,
        entity_key=f"{scheme_id}/{release.release}",
        before=before,
        after=after,
    )
    return after


def check_code_list(scheme: Scheme) -> None:
    """Raise Invalid for a scheme that checks format only (it has no releases to change)."""
    if not scheme.has_code_list:
        raise Invalid(f"scheme {scheme.id!r} has no code list: it validates format and check digit only")


def release_name(release: str | None) -> str:
    """A release name, trimmed; raises Invalid unless 1–64 characters without '/' or '->' (keys use them)."""
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
    check_code_list(scheme)
    release = release_name(release)
    source = get_release(session, scheme.id, copy_from) if copy_from else None
    row = scheme_row(session, scheme, create=True)
    if session.scalar(select(Release.id).where(Release.scheme_id == row.id, Release.release == release)):
        raise Conflict(f"scheme {scheme.id!r} already has a release {release!r}")
    rel = Release(
        scheme_id=row.id, release=release, status="draft", note=note, version=1, created_at=utcnow()
    )
    session.add(rel)
    session.flush()
    if source is not None:
        cols = [c for c in CODE_COLUMNS] + ["pinyin"]
        session.execute(
            insert(Code).from_select(
                ["release_id", *cols],
                select(literal(rel.id).label("release_id"), *(getattr(Code, c) for c in cols)).where(
                    Code.release_id == source.id
                ),
            )
        )
    audit_release(
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
    after = audit_release(
        session, rel, scheme_id, before, actor=actor, action="publish", change={"action": "publish"}
    )
    session.commit()
    return {**_release_dict(rel, after["codes"])}


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


audit.register_entity(ENTITY, _release_snapshot, _release_keys, tables=("code_release", "code"))
