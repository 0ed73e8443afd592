"""The per-release code index: every code of a release in memory, built with one Core query, and its cache.

``release_index(session, scheme, release)`` answers from the cache while the release's version is
unchanged (one cheap query per call); every audited change bumps the version, so the next call
rebuilds. The validator (``standards.validation``) and the code pages read codes through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.cache import VersionedCache
from registry.errors import NotFound
from registry.messages import msg as message
from standards.formats import Scheme, get_scheme
from standards.models import Code, CodeScheme, Release

NO_ERRORS: list = []  # shared by every valid result: results are read-only


@dataclass
class Entry:
    """What the hot path needs about one code."""

    name: str
    status: str
    successor: str | None
    level: int
    parent: str | None
    assignable: bool
    template: list | None  # effective attribute template (own merged over ancestors')


class ReleaseIndex:
    """Every code of one release, keyed by canonical code, plus precomputed result fragments."""

    def __init__(self, scheme: Scheme, release_id: int | None, release: str | None, version, rows):
        self.scheme = scheme
        self.release_id = release_id
        self.release = release
        self.version = version
        own: dict[str, tuple] = {}
        for code, name, status, successor, level, parent, attributes in rows:
            own[code] = (name, status, successor, level, parent, attributes)
        self.children: dict[str, int] = {}
        for row in own.values():
            if row[4] is not None:
                self.children[row[4]] = self.children.get(row[4], 0) + 1
        self.entries: dict[str, Entry] = {}
        templates: dict[str, list | None] = {}
        for code in own:
            self.entries[code] = self._entry(code, own, templates)
        # what a result for a known code is, apart from index and input
        self.fragments: dict[str, dict] = {}
        for code, e in self.entries.items():
            self.fragments[code] = _fragment(scheme, code, e)
        self._json_fragments: dict[str, tuple[bytes, bool, bytes]] | None = None

    def json_fragments(self) -> dict[str, tuple[bytes, bool, bytes]]:
        """Each known code's result as JSON after ``"input"`` (``,"code":…}``), and whether it is valid."""
        if self._json_fragments is None:
            out = {}
            for code, frag in self.fragments.items():
                rest = b"," + orjson.dumps(frag)[1:]
                # the third item serves the commonest input, the canonical code itself, with no encoding at all
                out[code] = (rest, frag["valid"], b'"input":' + orjson.dumps(code) + rest)
            self._json_fragments = out
        return self._json_fragments

    def _entry(self, code: str, own: dict, templates: dict) -> Entry:
        name, status, successor, level, parent, attributes = own[code]
        return Entry(
            name,
            status,
            successor,
            level,
            parent,
            self.scheme.assignable(level),
            self._template(code, own, templates),
        )

    def _template(self, code: str, own: dict, templates: dict) -> list | None:
        if code in templates:
            return templates[code]
        chain = []
        cur, seen = code, set()
        while cur is not None and cur in own and cur not in seen:
            seen.add(cur)
            chain.append(cur)
            cur = own[cur][4]
        merged: dict[str, dict] = {}
        for c in reversed(chain):
            for attr in own[c][5] or ():
                merged[attr["name"]] = attr
        result = list(merged.values()) or None
        templates[code] = result
        return result

    def ancestors(self, code: str) -> list[dict]:
        """From the root down to the parent, as ``{"code", "name"}``."""
        out = []
        entry = self.entries.get(code)
        parent = entry.parent if entry else None
        seen = set()
        while parent is not None and parent not in seen:
            seen.add(parent)
            p = self.entries.get(parent)
            out.append({"code": parent, "name": p.name if p else None})
            parent = p.parent if p else None
        out.reverse()
        return out


def _fragment(scheme: Scheme, code: str, e: Entry) -> dict:
    if e.status == "deprecated":
        msg = (
            message(
                "code.deprecated_use",
                "{code} is deprecated; use {successor} instead",
                code=code,
                successor=e.successor,
            )
            if e.successor
            else message("code.deprecated", "{code} is deprecated", code=code)
        )
        return {
            "code": code,
            "valid": False,
            "status": "deprecated",
            "name": e.name,
            "successor": e.successor,
            "errors": [{"type": "deprecated", "message": msg}],
        }
    if not e.assignable:
        levels = ", ".join(map(str, scheme.assignable_levels or ()))
        return {
            "code": code,
            "valid": False,
            "status": e.status,
            "name": e.name,
            "successor": None,
            "errors": [
                {
                    "type": "not_assignable",
                    "message": message(
                        "code.not_assignable_named",
                        "{code} ({name}) is a level-{level} category; items carry codes of level {levels}",
                        code=code,
                        name=e.name,
                        level=e.level,
                        levels=levels,
                    ),
                }
            ],
        }
    return {
        "code": code,
        "valid": True,
        "status": "active",
        "name": e.name,
        "successor": None,
        "errors": NO_ERRORS,
    }


#: keyed by (database URL, scheme, release id); an entry serves while its version is current: the release's
#: change counter and creation time (read from the database on every request, which is what keeps several
#: processes coherent) and the scheme definition it was built with. At most 64 releases are kept.
_CACHE: VersionedCache[ReleaseIndex] = VersionedCache(size=64)


def _resolve(session: Session, scheme: Scheme, release: str | None):
    """(release id, name, version, created_at) of the named release, or of the current published one; None if none."""
    query = (
        select(Release.id, Release.release, Release.version, Release.created_at)
        .join(CodeScheme, CodeScheme.id == Release.scheme_id)
        .where(CodeScheme.scheme == scheme.id)
    )
    if release is not None:
        row = session.execute(query.where(Release.release == release)).first()
        if row is None:
            raise NotFound(f"scheme {scheme.id!r} has no release {release!r}")
        return row
    return session.execute(
        query.where(Release.status == "published")
        .order_by(Release.published_at.desc(), Release.id.desc())
        .limit(1)
    ).first()


def release_index(session: Session, scheme_id: str, release: str | None = None) -> ReleaseIndex:
    """The cached index of a release (the current published one unless named). Raises NotFound.

    A scheme without a code list (or an optional one with no published release) gets an empty index with
    ``release`` None: the format alone is checked. One cheap query per call when the index is current.
    """
    scheme = get_scheme(scheme_id)
    row = _resolve(session, scheme, release) if scheme.has_code_list else None
    if row is None:
        if scheme.code_list is True:
            raise NotFound(
                f"scheme {scheme.id!r} has no published release yet; import and publish one "
                f"(yima standards import {scheme.id} FILE --release R --publish)"
            )
        return _CACHE.get(("", scheme.id, None), id(scheme), lambda: ReleaseIndex(scheme, None, None, 0, []))
    release_id, name, number, created_at = row

    def build() -> ReleaseIndex:
        rows = session.execute(
            select(
                Code.code, Code.name, Code.status, Code.successor, Code.level, Code.parent, Code.attributes
            ).where(Code.release_id == release_id)
        ).all()
        return ReleaseIndex(scheme, release_id, name, (number, created_at), rows)

    # the creation time tells apart two releases that reuse an id (a re-created or truncated database);
    # id(scheme) a reloaded definition (the cached index holds its scheme, so the id is not reused meanwhile)
    key = (str(session.get_bind().url), scheme.id, release_id)
    return _CACHE.get(key, (number, created_at, id(scheme)), build)


def clear_cache() -> None:
    """Forget every cached index (tests; a scheme definition reloaded)."""
    _CACHE.clear()
