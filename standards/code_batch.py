"""Adding many new codes to a release as ONE audited change: the rows of a spreadsheet of proposed codes.

Rows are read by ``standards.importer.reader`` (the headers of ``yima standards import``) and checked by the
importer's own row checks (``standards.importer.checks``); unlike an import, a code already in the release
is a bad row (``exists``), not a replacement, and the release may be published (as for ``add_code``).
All rows or none. A change request of many rows is applied through ``add_codes``.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from registry.errors import Invalid
from standards.formats import get_scheme
from standards.importer.checks import CheckedRow, RowError, check_rows, pinyin_initials
from standards.importer.reader import Table
from standards.models import Code, Release
from standards.releases import audit_release, check_code_list, get_release, release_summary


def check_new_codes(
    session: Session, scheme_id: str, tables: list[Table], release: str | None = None
) -> tuple[Release, list[CheckedRow], list[RowError]]:
    """Check rows of new codes against the scheme, each other and ``release`` (default: the current one),
    writing nothing: (the release, the good rows, every bad row). Raises NotFound, Invalid (no code list)."""
    scheme = get_scheme(scheme_id)
    check_code_list(scheme)
    rel = get_release(session, scheme.id, release)
    existing = {c: True for c in session.scalars(select(Code.code).where(Code.release_id == rel.id))}
    good, errors = check_rows(scheme, tables, existing)
    for row in good:
        if row.code in existing:
            message = f"{row.code} is already in {scheme.id} release {rel.release}"
            errors.append(RowError(row.source.file, row.source.row, "code", "exists", message))
    if not any(t.rows for t in tables):
        errors.append(RowError(tables[0].file if tables else "-", 1, "code", "required", "there are no rows"))
    errors.sort(key=lambda e: (e.file, e.row))
    return rel, [r for r in good if r.code not in existing], errors


def add_codes(
    session: Session,
    scheme_id: str,
    tables: list[Table],
    *,
    actor: str,
    release: str | None = None,
    commit: bool = True,
) -> dict:
    """Add every row of ``tables`` as a new code of ``release``, all or none, in one audit entry of the
    release (action ``add_codes``). Returns ``{"scheme", "release", "added", "codes"}``.

    ``commit=False`` leaves the commit to the caller (an approved change request). Raises NotFound,
    Invalid (with every bad row, as ``RowError`` strings; nothing is written).
    """
    scheme = get_scheme(scheme_id)
    rel, good, errors = check_new_codes(session, scheme.id, tables, release)
    if errors:
        raise Invalid(f"{len(errors)} bad row(s); no code was added", [str(e) for e in errors])
    before = release_summary(session, rel, scheme.id)
    session.execute(insert(Code), [_row(rel.id, r) for r in good])
    codes = [r.code for r in good]
    audit_release(
        session,
        rel,
        scheme.id,
        before,
        actor=actor,
        action="add_codes",
        change={"action": "add_codes", "count": len(codes), "codes": codes},
    )
    if commit:
        session.commit()
    return {"scheme": scheme.id, "release": rel.release, "added": len(codes), "codes": codes}


def _row(release_id: int, r: CheckedRow) -> dict:
    v = r.values
    return {
        "release_id": release_id,
        "code": r.code,
        "parent": r.parent,
        "level": r.level,
        "name": v["name"],
        "name_en": v["name_en"],
        "unit": v["unit"],
        "status": v["status"],
        "successor": v["successor"],
        "attributes": v["attributes"],
        "description": v["description"],
        "pinyin": pinyin_initials(v["name"]),
    }
