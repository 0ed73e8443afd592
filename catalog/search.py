"""Resource search: the per-resource search text (with pinyin), its maintenance on save, and the query with facets.

The database does the matching (SQLite FTS5 / PostgreSQL pg_trgm, created by migrations 0003 and 0010; the
indexes of a broad match by 0012); see
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
    bindparam,
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
from sqlalchemy.orm import Session, joinedload

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


def _term_value(sqlite: bool, term: str, form: str = "index"):
    """What the condition of one search term (``_term_condition``) compares with: its bound value."""
    if len(term) >= 3:
        return '"' + term.replace('"', '""') + '"' if sqlite else f"%{_like_escape(term)}%"
    if term.isalnum():
        if sqlite:
            return f'"{term}"'
        return f"% {term} %" if form == "scan" else [term]
    return f"%{_like_escape(term)}%"


def _term_kind(term: str) -> int:
    """Which statement a term's condition is (``_term_condition``): 3+ characters, a short alphanumeric
    term, anything else short."""
    return 0 if len(term) >= 3 else 1 if term.isalnum() else 2


def _bound(name: str | None, value, type_=None):
    """A bound value: named (``name``) in a statement kept for reuse (``_ordinary_statement``), else anonymous."""
    return literal(value, type_) if name is None else bindparam(name, value, type_=type_)


def _term_condition(session: Session, term: str, form: str = "index", name: str | None = None):
    """The condition on ``resource_search`` for one search term, answered by the database's own text index.

    3+ characters: substring match on the search text (SQLite FTS5 trigram phrase; PostgreSQL LIKE on
    the pg_trgm GIN index). 1–2 letters or characters: an exact lookup of that single character or
    pair among the resource's ``grams`` (FTS5 unicode61 token; PostgreSQL: an element of the grams
    split on spaces, via the array GIN index of migration 0010).
    Anything else short (punctuation) falls back to LIKE over the search table.

    ``form`` (the same rows either way): ``"index"`` as above; ``"scan"`` for a broad match read by
    a scan rather than driven from the index (SQLite: the FTS rowids are probed, ``resource_id + 0``,
    while a covering index of ``resource_search`` is read; PostgreSQL: the pair as
    ``grams LIKE '% 工程 %'``, which the planner can estimate from the column's statistics, where the
    array containment has none). ``name``: the value's bound parameter's name (``_bound``).
    """
    rs = ResourceSearch
    sqlite = session.get_bind().dialect.name == "sqlite"
    key = rs.resource_id + 0 if form == "scan" else rs.resource_id
    kind = _term_kind(term)
    value = _term_value(sqlite, term, form)
    if kind == 0:
        if sqlite:
            return key.in_(select(_FTS.c.rowid).where(_FTS.c.resource_fts.op("MATCH")(_bound(name, value))))
        return rs.text.like(_bound(name, value), escape="\\")
    if kind == 1:
        if sqlite:
            return key.in_(
                select(_FTS_GRAMS.c.rowid).where(
                    _FTS_GRAMS.c.resource_fts_grams.op("MATCH")(_bound(name, value))
                )
            )
        if form == "scan":
            # the grams are " a b ab … ": an element is a space-delimited token (alphanumeric: no LIKE wildcard)
            return rs.grams.like(_bound(name, value))
        # an exact element of the grams as an array: the GIN index ``resource_fts_grams`` (migration 0010)
        # answers it without a recheck, so the grams are never read from the rows; the separator is a
        # literal so that the expression is the index's own under any plan
        return func.string_to_array(rs.grams, literal_column("' '")).op("@>")(
            cast(_bound(name, value, PG_ARRAY(Text)), PG_ARRAY(Text))
        )
    return rs.text.like(_bound(name, value), escape="\\")


def _search_conditions(
    session: Session, args: dict, form: str = "index", named: bool = False
) -> tuple[list, bool]:
    """The WHERE conditions of a search, and whether it is a text search (``form``: see ``_term_condition``;
    ``named``: each value a named bound parameter, as ``_ordinary_values`` names them).

    A text search (``q`` or ``tag``) reads ``resource_search`` alone (it carries the filter columns);
    a plain listing reads ``data_resource`` and its indexes.
    """
    conds = []
    for i, term in enumerate(normalise_query(args.get("q")).split()):
        conds.append(_term_condition(session, term, form, f"term_{i}" if named else None))
    tag = (args.get("tag") or "").strip()
    if tag:
        conds.append(ResourceSearch.tags.like(_bound("tag" if named else None, _tag_value(tag)), escape="\\"))
    textual = bool(conds)
    source = ResourceSearch if textual else DataResource
    for key in FACETS:
        value = args.get(key)
        if value:
            column_ = getattr(source, key)
            conds.append(
                column_ == (bindparam(f"facet_{key}", value, type_=column_.type) if named else value)
            )
    return conds, textual


def _tag_value(tag: str) -> str:
    return f"%|{_like_escape(tag)}|%"


#: the orders a search can come back in (``args["sort"]``; default relevance: name matches first)
SORTS = ("relevance", "code", "name")
_ORDER = {
    "relevance": lambda c: (c.rank, c.code),
    "code": lambda c: (c.code,),
    "name": lambda c: (c.name, c.code),
}


def _search_statement(
    session: Session, args: dict, page: int, per_page: int, cap: int | None = None, named: bool = False
):
    """One statement: the match is evaluated once into a materialized CTE; the facet counts and the
    page's ids come back together (a few dozen rows, whatever the number of matches): rows
    ``(facet, value, n)`` and ``("", id, rank)`` for the page (PostgreSQL: the facet is its ``GROUPING``
    mask and the page's is -1; ``_collect`` reads both).

    PostgreSQL counts every facet in one pass over the matches (``GROUPING SETS``: one hash table per
    facet); SQLite has no grouping sets, and reads the matches once per facet. ``cap``: at most that
    many matches are read (PostgreSQL: a search that reaches it is broad, and is answered again).
    ``named``: the values are named bound parameters (``_ordinary_statement`` keeps the statement).
    """
    conds, textual = _search_conditions(session, args, named=named)
    q = normalise_query(args.get("q"))
    source = ResourceSearch if textual else DataResource
    key = ResourceSearch.resource_id if textual else DataResource.id
    rank = (
        case(
            (ResourceSearch.name.like(_bound("rank_q" if named else None, _rank_value(q)), escape="\\"), 0),
            else_=1,
        )
        if q
        else literal(1)
    )
    sort = args.get("sort") if args.get("sort") in SORTS else "relevance"
    matched = (
        select(
            key.label("id"),
            source.code.label("code"),
            *([source.name.label("name")] if sort == "name" else []),  # the CTE is kept narrow
            rank.label("rank"),
            *(getattr(source, f) for f in FACETS),
        )
        .where(*conds)
        # a constant in the SQL, not a parameter: a prepared statement's generic plan, costed for an
        # unknown LIMIT, would otherwise win over the index plan (and scan the table)
        .limit(literal_column(str(int(cap))) if cap else None)
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
        .offset(bindparam("page_offset", (page - 1) * per_page) if named else (page - 1) * per_page)
        .limit(bindparam("page_limit", per_page) if named else per_page)
        .subquery()
    )
    page_facet = literal_column("-1") if session.get_bind().dialect.name == "postgresql" else literal("")
    parts.append(
        select(page_facet.label("facet"), cast(ranked.c.id, String), ranked.c.rank).select_from(ranked)
    )
    if cap:
        # a search that reaches the cap is broad: its facets and page are not counted or sorted here
        # (a one-time filter skips them), only how many rows were read comes back
        counted = select(func.count().label("n")).select_from(matched).cte("counted")  # counted once
        read = select(counted.c.n).scalar_subquery()
        parts = [part.where(read < cap) for part in parts]
        parts.append(select(literal_column(str(_READ_MASK)), cast(literal(None), String), read))
    return union_all(*parts)


def _rank_value(q: str) -> str:
    return f"%{_like_escape(q)}%"


#: the ordinary statement of each search shape (``_ordinary_shape``), kept: building one and computing
#: its cache key cost ~1.6 ms, a sixth of a typical search; its values are bound by name per search
_ORDINARY: dict[tuple, object] = {}
_ORDINARY_MAX = 512


def _ordinary_shape(session: Session, args: dict, cap: int | None) -> tuple:
    """What the ordinary statement's SQL depends on; everything else is a bound value."""
    terms = normalise_query(args.get("q")).split()
    sort = args.get("sort") if args.get("sort") in SORTS else "relevance"
    return (
        session.get_bind().dialect.name,
        tuple(_term_kind(t) for t in terms),
        bool((args.get("tag") or "").strip()),
        tuple(bool(args.get(f)) for f in FACETS),
        sort,
        cap,
    )


def _ordinary_values(session: Session, args: dict, page: int, per_page: int) -> dict:
    """The bound values of the ordinary statement, by the names ``_search_statement(named=True)`` gives."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    q = normalise_query(args.get("q"))
    values = {f"term_{i}": _term_value(sqlite, t) for i, t in enumerate(q.split())}
    tag = (args.get("tag") or "").strip()
    if tag:
        values["tag"] = _tag_value(tag)
    values.update({f"facet_{f}": args[f] for f in FACETS if args.get(f)})
    if q:
        values["rank_q"] = _rank_value(q)
    values["page_offset"], values["page_limit"] = (page - 1) * per_page, per_page
    return values


def _ordinary_statement(session: Session, args: dict, page: int, per_page: int, cap: int | None = None):
    """``_search_statement`` as (statement, its values): the statement of the search's shape, kept."""
    shape = _ordinary_shape(session, args, cap)
    statement = _ORDINARY.get(shape)
    if statement is None:
        if len(_ORDINARY) >= _ORDINARY_MAX:
            _ORDINARY.clear()
        statement = _ORDINARY[shape] = _search_statement(session, args, page, per_page, cap, named=True)
    return statement, _ordinary_values(session, args, page, per_page)


def _facets_in_one_pass(matched, names: tuple[str, ...] = FACETS):
    """``(mask, value, n)`` for every column ``names`` of ``matched`` (the facets) from one scan of it
    (PostgreSQL ``GROUPING SETS``). ``GROUPING(…)`` tells the sets apart (a NULL system is a value, not
    the absence of a column): in the set of column i every bit but bit (n − 1 − i) is set
    (``_MASKS``); the value is the one column of the set that is not NULL for being outside it. The
    statement stays small (one GROUPING and one COALESCE): SQLAlchemy builds and keys it per search."""
    columns = [matched.c[f] for f in names]
    value = func.coalesce(*(cast(c, String) for c in columns))
    return select(
        func.grouping(*columns).label("facet"), value.label("value"), func.count().label("n")
    ).group_by(func.grouping_sets(*columns))


def _masks(names: tuple[str, ...]) -> dict[int, str]:
    full, last = (1 << len(names)) - 1, len(names) - 1
    return {full - (1 << (last - i)): name for i, name in enumerate(names)}


# --- broad matches ---------------------------------------------------------------------------
# A term that matches most of the catalog (工程 in a catalog of 工程 resources) makes the ordinary
# statement materialize and sort every row. Such a search is answered differently: the facets are
# counted straight from the match (no materialized copy; SQLite reads a covering index of the facet
# columns instead of every wide search row), and the page is read in code order from an index,
# stopping as soon as it is full. Both answers are the same rows and counts; only the plan differs.

#: a text search is broad when it matches this many rows or more (PostgreSQL: the ordinary
#: statement reads at most one more, and a search that reaches it is answered by the broad path) …
BROAD_MIN = 5000
#: … and (SQLite, where the broad path reads an index of every row) this share of the rows or more
BROAD_SHARE = 0.25
#: the extra "facet" of a broad search on PostgreSQL with the table's rows (the planner's count)
ROWS = "_rows"
#: the extra "facet" of a capped ordinary statement: how many matches it read (up to the cap)
READ = "_read"


def _may_be_broad(args: dict) -> bool:
    """A search by ``q`` without a tag filter (the tags are in neither broad index)."""
    return bool(normalise_query(args.get("q")).split()) and not (args.get("tag") or "").strip()


def _fts_count(session: Session, term: str) -> int | None:
    """SQLite: how many resources the FTS5 index finds for one term (None: a term it does not answer)."""
    if len(term) >= 3:
        fts, phrase = _FTS.c.resource_fts, '"' + term.replace('"', '""') + '"'
        source = _FTS
    elif term.isalnum():
        fts, phrase, source = _FTS_GRAMS.c.resource_fts_grams, f'"{term}"', _FTS_GRAMS
    else:
        return None
    return session.scalar(select(func.count()).select_from(source).where(fts.op("MATCH")(phrase)))


def _sqlite_is_broad(session: Session, args: dict) -> bool:
    """SQLite: whether a search is broad (``BROAD_MIN`` and ``BROAD_SHARE``), from each term's count
    in its FTS index (exact and cheap: no row is read), longest term first, stopping at the first
    narrow one."""
    if not _may_be_broad(args):
        return False
    counts = []
    for term in sorted(set(normalise_query(args.get("q")).split()), key=len, reverse=True):
        n = _fts_count(session, term)
        if n is None or n < BROAD_MIN:
            return False
        counts.append(n)
    rows = session.scalar(select(func.count()).select_from(ResourceSearch))
    return min(counts) >= BROAD_SHARE * rows


def _broad_facets_statement(session: Session, args: dict):
    """Rows ``(facet, value, n)`` of a broad search. PostgreSQL: ``GROUPING SETS`` straight over the
    index-driven match (no materialized copy). SQLite: the matching rows are counted per combination
    of the six facet values while the covering index ``resource_fts_facets`` is read in its order
    (the FTS rowids probed, no temporary sort), then each facet sums those few combinations."""
    rs = ResourceSearch
    columns = [getattr(rs, f) for f in FACETS]
    if session.get_bind().dialect.name == "postgresql":
        # one more set: how many names contain ``q`` (the first rank), which tells the page where to read
        conds, _ = _search_conditions(session, args)
        matched = select(*columns, _named(args).label(NAMED)).where(*conds).subquery("matched")
        rows = literal_column(
            "(SELECT reltuples::bigint FROM pg_class WHERE oid = 'resource_search'::regclass)"
        )
        return union_all(
            _facets_in_one_pass(matched, (*FACETS, NAMED)),
            select(literal_column(str(_ROWS_MASK)), cast(literal(None), String), rows),
        )
    conds, _ = _search_conditions(session, args, "scan")
    combos = (
        select(*columns, func.count().label("n")).where(*conds).group_by(*columns).cte("combos")
    ).prefix_with("MATERIALIZED")
    return union_all(
        *(
            select(
                literal(f).label("facet"), combos.c[f].label("value"), func.sum(combos.c.n).label("n")
            ).group_by(combos.c[f])
            for f in FACETS
        )
    )


#: the extra "facet" of a broad search on PostgreSQL: the matches whose name contains ``q`` (value "true")
NAMED = "_named"


def _named(args: dict):
    """Whether a resource's name contains the whole ``q``: the first rank of the relevance order."""
    return ResourceSearch.name.like(f"%{_like_escape(normalise_query(args.get('q')))}%", escape="\\")


def _walk_statement(session: Session, args: dict, extra: tuple, offset: int, limit: int):
    """The ids of matching rows in code order (``resource_fts_code``: the walk stops when the page is full)."""
    conds, _ = _search_conditions(session, args, "scan")
    rs = ResourceSearch
    return select(rs.resource_id).where(*conds, *extra).order_by(rs.code).offset(offset).limit(limit)


def _broad_page(
    session: Session, args: dict, offset: int, limit: int, total: int, named: int | None, rows: float | None
) -> list[tuple[int, int]]:
    """``(id, rank)`` of one page of a broad search, in the order of ``_ORDER``: names containing ``q``
    first, then the others, both by code. Each part is a walk in code order, except on PostgreSQL
    (which knows both parts' sizes, ``named`` of ``total``, and the table's ``rows``) where a part too
    sparse or a page too deep for a walk to end soon is sorted from the text index instead."""
    if offset >= total:
        return []
    sort = args.get("sort") if args.get("sort") in SORTS else "relevance"
    rs = ResourceSearch
    if sort == "name":
        conds, _ = _search_conditions(session, args)
        stmt = select(rs.resource_id).where(*conds).order_by(rs.name, rs.code).offset(offset).limit(limit)
        return [(rid, 1) for rid in session.scalars(stmt)]

    def part(extra: tuple, start: int, count: int, size: int | None, rank: int) -> list[tuple[int, int]]:
        if count <= 0 or (size is not None and start >= size):
            return []
        # a walk reads about (start + count) · rows / size rows; sorting the part reads size rows
        if size is None or rows is None or (start + count) * rows * 4 <= size * size:
            stmt = _walk_statement(session, args, extra, start, count)
        else:
            conds, _ = _search_conditions(session, args)
            stmt = select(rs.resource_id).where(*conds, *extra).order_by(rs.code).offset(start).limit(count)
        return [(rid, rank) for rid in session.scalars(stmt)]

    if sort == "code":
        return part((), offset, limit, total, 1)
    name_match = _named(args)
    if named is not None:
        page = part((name_match,), offset, limit, named, 0)
        return page + part((~name_match,), max(0, offset - named), limit - len(page), total - named, 1)
    first = part((name_match,), 0, offset + limit, None, 0)
    page = first[offset:]
    if len(first) < offset + limit:  # every name match is in ``first``: the others follow them
        page += part((~name_match,), max(0, offset - len(first)), limit - len(page), None, 1)
    return page


# --- running it ----------------------------------------------------------------------------


def _plan_for_memory(session: Session) -> None:
    """On PostgreSQL, cost a random page like a sequential one for this transaction (``random_page_cost``
    1.1 instead of 4): the search tables are read from shared buffers, and at the default the planner
    scans and LIKEs all 50,000 rows (34 ms) rather than take the text index for a term in 10% of them
    (13 ms). One round trip, as the ``SET LOCAL work_mem`` it replaces."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT set_config('random_page_cost', '1.1', true)"))


#: PostgreSQL's facet column is the ``GROUPING`` mask: which facet (or ``NAMED``) a row counts; the page's
#: rows are -1 and the broad statement's table rows -2 (SQLite's facet column is the facet's name)
_MASKS = {**_masks(FACETS), **_masks((*FACETS, NAMED)), -1: "", -2: ROWS, -3: READ}
_ROWS_MASK, _READ_MASK = -2, -3


def _collect(result) -> tuple[dict[str, dict], dict[int, int], int | None, float | None, int | None]:
    """The facets, page ``{id: rank}``, name matches (``NAMED``), table rows (``ROWS``) and rows read by
    a capped statement (``READ``) of a result."""
    facets: dict[str, dict] = {f: {} for f in FACETS}
    page_ids: dict[int, int] = {}
    named = rows = read = None
    for facet, value, n in result:
        if isinstance(facet, int):
            facet = _MASKS[facet]
        if facet == NAMED:
            named = (named or 0) + (int(n) if value == "true" else 0)
        elif facet == ROWS:
            rows = float(n) if n is not None and n > 0 else None
        elif facet == READ:
            read = int(n)
        elif facet:
            facets[facet][value if value is not None else ""] = int(n)
        else:
            page_ids[int(value)] = n
    return facets, page_ids, named, rows, read


def _is_broad(session: Session, args: dict) -> bool:
    """Whether the search takes the broad path (PostgreSQL: its capped ordinary statement is run)."""
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_is_broad(session, args)
    if not _may_be_broad(args):
        return False
    read = _collect(session.execute(*_ordinary_statement(session, args, 1, 1, cap=BROAD_MIN + 1)))[4]
    return (read or 0) > BROAD_MIN


def explain_search(session: Session, args: dict, analyze: bool = False) -> list[str]:
    """The database's plan for the search ``args`` (first page), one line per item: PostgreSQL's
    ``EXPLAIN`` (``ANALYZE, BUFFERS`` if asked: the statement runs), SQLite's ``EXPLAIN QUERY PLAN``.
    A broad search (``BROAD_MIN``) has two statements, headed ``-- facets`` and ``-- page`` (its first
    walk). What the benchmark prints and the query-shape test reads."""
    page, per_page = clamp(args.get("page"), args.get("per_page"))
    _plan_for_memory(session)
    if _is_broad(session, args):
        walk = _walk_statement(session, args, (_named(args),), 0, page * per_page)
        labelled = [("-- facets", _broad_facets_statement(session, args)), ("-- page", walk)]
    else:
        cap = (
            BROAD_MIN + 1 if session.get_bind().dialect.name == "postgresql" and _may_be_broad(args) else None
        )
        statement, values = _ordinary_statement(session, args, page, per_page, cap)
        labelled = [("", statement.params(values))]
    sqlite = session.get_bind().dialect.name == "sqlite"
    lines = []
    for label, statement in labelled:
        compiled = statement.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        if label:
            lines.append(label)
        if sqlite:
            lines += [
                row[-1] for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled))
            ]
        else:
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN "
            lines += [row[0] for row in session.connection().exec_driver_sql(prefix + str(compiled))]
    return lines


def search_resources(session: Session, args: dict) -> Page:
    """Resources matching ``q`` (Chinese substrings, pinyin initials; terms split on spaces are ANDed) and
    the filters ``category, share_type, security_grade, system, provider, status, tag``: one page of
    them (``DataResource`` items), the total, and ``extra["facets"]`` (counts per value of each filter
    over the whole result, most frequent first).

    Resources whose name contains ``q`` come first, then by code. A broad search (``BROAD_MIN``)
    gets the same answer from other statements: see "broad matches" above.
    """
    page, per_page = clamp(args.get("page"), args.get("per_page"))
    _plan_for_memory(session)
    if session.get_bind().dialect.name == "sqlite":
        broad = _sqlite_is_broad(session, args)
        capped = False
    else:  # found out from the ordinary statement itself, read up to one match past BROAD_MIN
        broad, capped = False, _may_be_broad(args)
    if not broad:
        cap = BROAD_MIN + 1 if capped else None
        facets, page_ids, named, rows, read = _collect(
            session.execute(*_ordinary_statement(session, args, page, per_page, cap))
        )
        broad = capped and (read or 0) > BROAD_MIN
    if broad:
        facets, _, named, rows, _ = _collect(session.execute(_broad_facets_statement(session, args)))
    total = sum(facets[FACETS[0]].values())
    if broad:
        page_ids = dict(_broad_page(session, args, (page - 1) * per_page, per_page, total, named, rows))
    for f in FACETS:
        facets[f] = dict(sorted(facets[f].items(), key=lambda kv: (-kv[1], kv[0])))
    items = []
    if page_ids:
        order = {rid: i for i, rid in enumerate(page_ids)}  # the statement's order (rank, or the sort asked)
        # the fields in the same round trip (a join) rather than selectin's second statement
        page_items = select(DataResource).where(DataResource.id.in_(list(page_ids)))
        items = list(session.scalars(page_items.options(joinedload(DataResource.fields))).unique())
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
