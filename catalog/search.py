"""Resource search: the per-resource search text (with pinyin), its maintenance on save, and the query with facets.

The database does the matching (SQLite FTS5 / PostgreSQL pg_trgm, both created by migration 0003); see
docs/catalog.md "Search" for the rules. ``index_resource`` is called by every resource and system save.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin
from sqlalchemy import (
    String,
    Text,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY as PG_ARRAY
from sqlalchemy.dialects.postgresql import array as pg_array
from sqlalchemy.orm import Session

from catalog.models import DataResource, ResourceSearch, System
from registry.paging import Page, clamp

#: the facets of a search, in the order they are returned
FACETS = ("category", "share_type", "security_grade", "system", "provider", "status")

_FTS = table("resource_fts", column("rowid"), column("resource_fts"))
_FTS_GRAMS = table("resource_fts_grams", column("rowid"), column("resource_fts_grams"))
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
#: C0 and C1 control characters (NUL included) and DEL: never part of a search term
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


# --- the search text -----------------------------------------------------------------------
# The two pinyin functions keep functools.lru_cache: they are pure (same text, same answer), so
# there is nothing to invalidate and no version to check (registry.cache is for data that changes).


@functools.lru_cache(maxsize=65536)
def pinyin_initials(text: str | None) -> str:
    """The pinyin initials of the Chinese characters in ``text``: 合同履约评价 → ``htlypj``."""
    return "".join(lazy_pinyin("".join(_HAN.findall(text or "")), style=Style.FIRST_LETTER))


@functools.lru_cache(maxsize=65536)
def pinyin_full(text: str | None) -> str:
    """The full pinyin of the Chinese characters in ``text``, without separators: 招标 → ``zhaobiao``."""
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
    """The tags as ``|tag1|tag2|`` (what an exact tag filter matches), or "" for none."""
    return "|" + "|".join(tags or ()) + "|" if tags else ""


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


def index_resource(session: Session, resource: DataResource, values: dict) -> None:
    """Rewrite the search row of a saved resource (``values`` is its ``to_dict()``), in the caller's transaction."""
    system_name = (
        session.scalar(select(System.name).where(System.code == resource.system)) if resource.system else None
    )
    session.execute(delete(ResourceSearch).where(ResourceSearch.resource_id == resource.id))
    session.execute(insert(ResourceSearch).values(**search_row(resource.id, values, system_name)))


def unindex_resource(session: Session, resource: DataResource) -> None:
    """Remove the search row of a resource about to be deleted."""
    session.execute(delete(ResourceSearch).where(ResourceSearch.resource_id == resource.id))


def reindex_all(session: Session) -> int:
    """Rebuild every resource's search text (after a change of the rules); returns how many."""
    n = 0
    for resource in session.scalars(select(DataResource)):
        index_resource(session, resource, resource.to_dict())
        n += 1
    session.commit()
    return n


# --- the query -----------------------------------------------------------------------------


def normalise_query(q: str | None) -> str:
    """What a search string is matched as: NFKC (full-width → ASCII), control characters (NUL, tabs…)
    as spaces, trimmed, lower case. No control character is in the indexed text; a NUL would end
    SQLite's FTS5 query early (an error) and PostgreSQL refuses it in text."""
    text = unicodedata.normalize("NFKC", q or "")
    return _CONTROL.sub(" ", text).strip().lower()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _term_condition(session: Session, term: str):
    """The condition on ``resource_search`` for one search term, answered by the database's own text index.

    3+ characters: substring match on the search text (SQLite FTS5 trigram phrase; PostgreSQL LIKE on
    the pg_trgm GIN index). 1–2 letters or characters: an exact lookup of that single character or
    pair among the resource's ``grams`` (FTS5 unicode61 token; PostgreSQL: an element of the grams
    split on spaces, via the array GIN index of migration 0010).
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
        # an exact element of the grams as an array: the GIN index ``resource_fts_grams`` (migration 0010)
        # answers it without a recheck, so the grams are never read from the rows; the separator is a
        # literal so that the expression is the index's own under any plan
        return func.string_to_array(rs.grams, literal_column("' '")).op("@>")(
            cast(pg_array([term]), PG_ARRAY(Text))
        )
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


#: the orders a search can come back in (``args["sort"]``; default relevance: name matches first)
SORTS = ("relevance", "code", "name")
_ORDER = {
    "relevance": lambda c: (c.rank, c.code),
    "code": lambda c: (c.code,),
    "name": lambda c: (c.name, c.code),
}


def _search_statement(session: Session, args: dict, page: int, per_page: int):
    """One statement: the match is evaluated once into a materialized CTE; the facet counts and the
    page's ids come back together (a few dozen rows, whatever the number of matches): rows
    ``(facet, value, n)`` and ``("", id, rank)`` for the page.

    PostgreSQL counts every facet in one pass over the matches (``GROUPING SETS``: one hash table per
    facet); SQLite has no grouping sets, and reads the matches once per facet.
    """
    conds, textual = _search_conditions(session, args)
    q = normalise_query(args.get("q"))
    source = ResourceSearch if textual else DataResource
    key = ResourceSearch.resource_id if textual else DataResource.id
    rank = (
        case((ResourceSearch.name.like(f"%{_like_escape(q)}%", escape="\\"), 0), else_=1) if q else literal(1)
    )
    sort = args.get("sort") if args.get("sort") in SORTS else "relevance"
    matched = (
        select(
            key.label("id"),
            source.code.label("code"),
            source.name.label("name"),
            rank.label("rank"),
            *(getattr(source, f) for f in FACETS),
        )
        .where(*conds)
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    if session.get_bind().dialect.name == "postgresql":
        parts = [_facets_in_one_pass(matched)]
    else:
        parts = [
            select(literal(f).label("facet"), matched.c[f].label("value"), func.count().label("n")).group_by(
                matched.c[f]
            )
            for f in FACETS
        ]
    ranked = (
        select(matched.c.id, matched.c.rank)
        .order_by(*_ORDER[sort](matched.c))
        .offset((page - 1) * per_page)
        .limit(per_page)
        .subquery()
    )
    parts.append(
        select(literal("").label("facet"), cast(ranked.c.id, String), ranked.c.rank).select_from(ranked)
    )
    return union_all(*parts)


def _facets_in_one_pass(matched):
    """``(facet, value, n)`` for every facet from one scan of ``matched`` (PostgreSQL ``GROUPING SETS``).
    ``GROUPING(…)`` tells the sets apart (a NULL system is a value, not the absence of a column): in
    the set of facet i every bit but bit (5 − i) is set."""
    columns = [matched.c[f] for f in FACETS]
    mask = func.grouping(*columns)
    last = len(FACETS) - 1
    full = (1 << len(FACETS)) - 1
    facet = case(*((mask == full - (1 << (last - i)), literal(f)) for i, f in enumerate(FACETS)))
    value = case(*((mask == full - (1 << (last - i)), cast(c, String)) for i, c in enumerate(columns)))
    return select(facet.label("facet"), value.label("value"), func.count().label("n")).group_by(
        func.grouping_sets(*columns)
    )


def _memory_for_matches(session: Session) -> None:
    """On PostgreSQL, room for the matched rows (id, code, rank, facets: ~100 bytes each) for this
    transaction: at the default 4 MB a broad term (50,000 matches) spills the CTE to a temporary file."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL work_mem = '32MB'"))


def _matched_and_page(session: Session, args: dict, page: int, per_page: int):
    _memory_for_matches(session)
    return session.execute(_search_statement(session, args, page, per_page))


def explain_search(session: Session, args: dict, analyze: bool = False) -> list[str]:
    """The database's plan for the search ``args`` (first page), one line per item: PostgreSQL's
    ``EXPLAIN`` (``ANALYZE, BUFFERS`` if asked: the statement runs), SQLite's ``EXPLAIN QUERY PLAN``.
    What the benchmark prints and the query-shape test reads."""
    page, per_page = clamp(args.get("page"), args.get("per_page"))
    _memory_for_matches(session)
    compiled = _search_statement(session, args, page, per_page).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    sql = str(compiled)
    if session.get_bind().dialect.name == "sqlite":
        return [row[-1] for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
    return [row[0] for row in session.connection().exec_driver_sql(prefix + sql)]


def search_resources(session: Session, args: dict) -> Page:
    """Resources matching ``q`` (Chinese substrings, pinyin initials; terms split on spaces are ANDed) and
    the filters ``category, share_type, security_grade, system, provider, status, tag``: one page of
    them (``DataResource`` items), the total, and ``extra["facets"]`` (counts per value of each filter
    over the whole result, most frequent first).

    Resources whose name contains ``q`` come first, then by code.
    """
    page, per_page = clamp(args.get("page"), args.get("per_page"))
    facets: dict[str, dict] = {f: {} for f in FACETS}
    page_ids: dict[int, int] = {}
    for facet, value, n in _matched_and_page(session, args, page, per_page):
        if facet:
            facets[facet][value if value is not None else ""] = n
        else:
            page_ids[int(value)] = n
    total = sum(facets[FACETS[0]].values())
    for f in FACETS:
        facets[f] = dict(sorted(facets[f].items(), key=lambda kv: (-kv[1], kv[0])))
    items = []
    if page_ids:
        order = {rid: i for i, rid in enumerate(page_ids)}  # the statement's order (rank, or the sort asked)
        items = list(session.scalars(select(DataResource).where(DataResource.id.in_(list(page_ids)))))
        items.sort(key=lambda r: order[r.id])
    return Page(items, total, page, per_page, extra={"facets": facets})


def suggest_query(session: Session, q: str | None) -> str | None:
    """A likely intended search for a ``q`` that found nothing (合通 → 合同): among the words of the
    indexed names, tags and field titles as long as ``q``, one that sounds the same (toneless pinyin)
    or differs by one character; the most frequent wins. None when nothing is close."""
    text = normalise_query(q)
    if not 2 <= len(text) <= 6 or not _HAN.search(text):
        return None
    sound = pinyin_full(text)
    n = len(text)
    counts: dict[str, int] = {}
    for name, tags in session.execute(select(ResourceSearch.name, ResourceSearch.tags)):
        for source in (name or "", *(tags or "").split("|")):
            for i in range(len(source) - n + 1):
                gram = source[i : i + n]
                if _HAN.fullmatch(gram[0]) and gram != text:
                    counts[gram] = counts.get(gram, 0) + 1
    best = None
    for gram, count in counts.items():
        if pinyin_full(gram) == sound and sound:
            score = (0, -count)
        elif sum(a != b for a, b in zip(gram, text, strict=True)) == 1:
            score = (1, -count)
        else:
            continue
        if best is None or score < best[0]:
            best = (score, gram)
    return best[1] if best else None
