"""The shape of the search query: the database's text index answers the match, never a per-row function
over the whole table (the plan, read with EXPLAIN, on PostgreSQL and SQLite)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, text

from catalog import search
from catalog.demo import load_organizations
from catalog.models import DataResource, ResourceSearch
from catalog.search import explain_search, search_resources, search_row

ROWS = 3000
SUBJECTS = ("招标公告", "合同台账", "钢筋进场复检", "竣工移交清单", "进度月报")


@pytest.fixture
def many(db):
    """3,000 resources whose names all contain 工程 (the broad pair) and one subject each."""
    load_organizations(db, "test")
    now = dt.datetime(2025, 1, 1)
    rows, search = [], []
    for i in range(ROWS):
        subject = SUBJECTS[i % len(SUBJECTS)]
        row = {
            "id": i + 1,
            "code": f"R{i:05d}",
            "name": f"第{i}号工程{subject}",
            "summary": f"{subject}数据",
            "category": ("A0101", "B0101", "C0101")[i % 3],
            "provider": "SZGWS",
            "system": None,
            "share_type": "conditional",
            "open_to_public": False,
            "security_grade": ("general", "important")[i % 2],
            "related": [],
            "tags": [],
            "status": "published",
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }
        rows.append(row)
        search.append(search_row(i + 1, {**row, "fields": []}))
    with db.writer() as s:
        s.execute(insert(DataResource), rows)
        s.execute(insert(ResourceSearch), search)
        s.commit()
    if db.dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE resource_search"))
    return db


def _plan(db, q: str, seqscan: bool = True) -> str:
    with db.session() as s:
        if not seqscan:
            # on a table this small a sequential scan is the planner's fair choice; without it, a
            # condition no index can answer still falls back to one, so the plan says which can
            s.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(explain_search(s, {"q": q}))


def test_search_plan_uses_the_text_index_for_long_and_short_terms(many):
    if many.dialect == "postgresql":
        long_plan, broad_plan = _plan(many, "招标公告", seqscan=False), _plan(many, "工程", seqscan=False)
        assert "resource_fts_trgm" in long_plan, long_plan
        # the broad pair (every row) is answered by the exact array index: no grams split or LIKE-d per
        # row (over 50,000 rows the planner takes it unprompted: the benchmark prints that plan)
        assert "resource_fts_grams" in broad_plan, broad_plan
        for plan in (long_plan, broad_plan):
            assert "Seq Scan on resource_search" not in plan, plan
            assert "Filter: (string_to_array" not in plan and "Filter: (grams" not in plan, plan
    else:
        long_plan, broad_plan = _plan(many, "招标公告"), _plan(many, "工程")
        assert "resource_fts VIRTUAL TABLE INDEX" in long_plan, long_plan
        assert "resource_fts_grams VIRTUAL TABLE INDEX" in broad_plan, broad_plan
        assert "SCAN resource_search" not in long_plan + broad_plan


def test_search_totals_and_facets_agree_with_the_rows(many):
    with many.session() as s:
        broad = search_resources(s, {"q": "工程", "per_page": 5})
        narrow = search_resources(s, {"q": "招标公告 工程", "per_page": 5})
    assert broad.total == ROWS and [r.code for r in broad.items] == [f"R{i:05d}" for i in range(5)]
    assert broad.extra["facets"]["category"] == {"A0101": 1000, "B0101": 1000, "C0101": 1000}
    assert broad.extra["facets"]["security_grade"] == {"general": 1500, "important": 1500}
    assert narrow.total == ROWS // len(SUBJECTS)
    assert sum(narrow.extra["facets"]["status"].values()) == narrow.total


def test_searches_of_one_shape_each_get_their_own_values(many):
    """The statement of a search's shape is kept and reused (``_ordinary_statement``): each search binds
    its own terms, filters and page, never the first one's."""
    with many.session() as s:
        answers = {
            (subject, grade, page): search_resources(
                s, {"q": subject, "security_grade": grade, "page": page, "per_page": 7}
            )
            for subject in SUBJECTS[:3]
            for grade in ("general", "important")
            for page in (1, 2)
        }
    for (subject, grade, page), found in answers.items():
        names = [r.name for r in found.items]
        assert len(names) == 7 and all(subject in n for n in names), (subject, names)
        assert {r.security_grade for r in found.items} == {grade}
        assert found.total == ROWS // len(SUBJECTS) // 2
        other = answers[(subject, grade, 3 - page)]
        assert not {r.code for r in found.items} & {r.code for r in other.items}  # pages differ


@pytest.fixture
def broad_at_1000(monkeypatch):
    """A match of 1,000 rows or more (a third of ``many`` or more) counts as broad."""
    monkeypatch.setattr(search, "BROAD_MIN", 1000)


def test_a_broad_match_is_counted_from_an_index_and_paged_by_a_walk_in_code_order(many, broad_at_1000):
    plan = _plan(many, "工程", seqscan=many.dialect != "postgresql")
    facets, page = plan.split("-- page")
    assert plan.startswith("-- facets"), plan
    if many.dialect == "postgresql":
        # the facets straight from the exact array index (no materialized copy of 3,000 rows), the
        # page from the code index, stopping after the page: no sort of the matches
        assert "resource_fts_grams" in facets and "CTE" not in facets, facets
        assert "Index Scan using resource_fts_code" in page and "Sort" not in page, page
    else:
        # every row's facets from the covering index (no lookup of the wide search rows, no sort of them)
        assert "COVERING INDEX resource_fts_facets" in facets, facets
        assert "INTEGER PRIMARY KEY" not in facets and "MATERIALIZE matched" not in facets, facets
        assert "COVERING INDEX resource_fts_code" in page and "TEMP B-TREE" not in page, page
    # a narrow term keeps the ordinary statement
    assert "-- facets" not in _plan(many, "招标公告")


@pytest.mark.parametrize(
    "args",
    [
        {"q": "工程"},
        {"q": "工程", "page": 7, "per_page": 50},
        {"q": "工程", "sort": "code", "page": 3, "per_page": 7},
        {"q": "工程", "sort": "name", "per_page": 9},
        {"q": "工程", "security_grade": "important", "page": 2},
        {"q": "工程 号", "per_page": 1000, "page": 3},  # past the last page
        {"q": "gc", "page": 2},  # pinyin: every row matches, no name contains it (all rank 1)
        # every code has a 0 (R0xxxx), 723 names have one: they come first, then the 2,277 others
        {"q": "0", "page": 2, "per_page": 50},
        {"q": "0", "page": 8, "per_page": 100},  # a page across the two ranks
        {"q": "0", "page": 3, "per_page": 1000},  # the second rank only
    ],
)
def test_a_broad_search_answers_what_the_ordinary_statement_answers(many, broad_at_1000, monkeypatch, args):
    with many.session() as s:
        assert search._is_broad(s, args)
        broad = search.search_resources(s, args)
        monkeypatch.setattr(search, "BROAD_MIN", 10**9)
        assert not search._is_broad(s, args)
        ordinary = search.search_resources(s, args)
    assert broad.total == ordinary.total and broad.extra == ordinary.extra
    assert [r.code for r in broad.items] == [r.code for r in ordinary.items]
