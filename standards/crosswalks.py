"""Crosswalks: mappings from the codes of one release to the codes of another (SKOS relations), set and read.

Each set of mappings between two releases is one audited entity ``crosswalk`` (key
``from/release->to/release``, registered here) whose state is a digest of its mappings. A mapping
read from its target shows the inverse relation (``broader`` ↔ ``narrower``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from registry import audit
from registry.errors import Invalid, NotFound
from standards import formats
from standards.formats import Scheme, get_scheme
from standards.index import release_index
from standards.models import CROSSWALK_RELATIONS, CodeScheme, Crosswalk, Release
from standards.releases import get_release

ENTITY = "crosswalk"
_INVERSE = {"broader": "narrower", "narrower": "broader"}


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
    pairs = _checked_pairs(session, (fs, frel), (ts, trel), mappings)
    if not pairs and not replace:
        raise Invalid("no mappings given", {"mappings": ["required"]})
    before = _crosswalk_summary(session, frel.id, trel.id)
    _write_pairs(session, frel.id, trel.id, pairs, replace)
    after = _crosswalk_summary(session, frel.id, trel.id)
    if after != before:
        audit.record(
            session,
            actor=actor,
            action="replace" if replace else "map",
            entity_type=ENTITY,
            entity_key=_crosswalk_key(fs.id, frel.release, ts.id, trel.release),
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


def _checked_pairs(
    session: Session, source: tuple[Scheme, Release], target: tuple[Scheme, Release], mappings: list
) -> dict[tuple[str, str], str]:
    """``(from code, to code) → relation`` in canonical spelling. Raises Invalid listing every bad mapping."""
    (fs, frel), (ts, trel) = source, target
    fidx = release_index(session, fs.id, frel.release)
    tidx = release_index(session, ts.id, trel.release)
    errors, pairs = [], {}
    for i, m in enumerate(mappings):
        if not isinstance(m, dict):
            errors.append(f"mapping {i}: an object with from, to and relation is expected")
            continue
        a = formats.canonical(fs, str(m.get("from") or ""))
        b = formats.canonical(ts, str(m.get("to") or ""))
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
    return pairs


def _write_pairs(session: Session, from_id: int, to_id: int, pairs: dict, replace: bool) -> None:
    scope = (Crosswalk.from_release_id == from_id, Crosswalk.to_release_id == to_id)
    if replace:
        session.execute(delete(Crosswalk).where(*scope))
    else:
        for a, b in pairs:
            session.execute(delete(Crosswalk).where(*scope, Crosswalk.from_code == a, Crosswalk.to_code == b))
    if pairs:
        rows = [
            {"from_release_id": from_id, "from_code": a, "to_release_id": to_id, "to_code": b, "relation": r}
            for (a, b), r in pairs.items()
        ]
        session.execute(insert(Crosswalk), rows)
    session.flush()


def find_crosswalks(
    session: Session, scheme_id: str, code: str, *, release: str | None = None, to_scheme: str | None = None
) -> list[dict]:
    """Every mapping of a code, in both directions, each seen from this code: ``{"scheme", "release", "code",
    "name", "relation", "direction": "outgoing"|"incoming"}``. Raises NotFound (scheme/release)."""
    scheme = get_scheme(scheme_id)
    rel = get_release(session, scheme.id, release)
    canonical = formats.canonical(scheme, code)
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


audit.register_entity(ENTITY, _crosswalk_snapshot, _crosswalk_keys, tables=("code_crosswalk",))
