"""How column edges are stored since migration 0014 (a row per event and output, its edges packed):
an event that ends some of a row's edges splits the row and every edge keeps its own interval; the
migration packs existing rows and its downgrade gives them back; a field id readable two ways is
one field."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, column, create_engine, func, select, table, text

import migrations
from lineage.columns.facet import ColumnEdge, canonical
from lineage.columns.store import pack, unpack
from lineage.models import LineageColumnEdge
from tests.lineage.test_columns import chain, contributor, event, field, graph, inp, pairs, send
from tests.registry.test_migrations import empty_url

__all__ = ["chain", "contributor", "empty_url"]  # fixtures

_IDENTITY = canonical([{"type": "DIRECT", "subtype": "IDENTITY", "description": None, "masking": False}])
_FILTER = canonical([{"type": "INDIRECT", "subtype": "FILTER", "description": None, "masking": False}])


def _rows(db) -> list[tuple]:
    """(valid_to is None, event_id, closed_by, edge count, the edges' (source, target)) per stored row."""
    with db.session() as s:
        rows = s.scalars(select(LineageColumnEdge).order_by(LineageColumnEdge.id)).all()
        return [
            (
                r.valid_to is None,
                r.event_id,
                r.closed_by,
                r.edge_count,
                [(e.source, e.target) for e in unpack(r.edges, r.target_dataset)],
            )
            for r in rows
            if r.target_dataset == "dataset:ns:daily"
        ]


def test_an_event_ending_some_of_a_rows_edges_splits_it(client, contributor, chain, db):
    daily, _ = chain
    first = _rows(db)
    assert len(first) == 1 and first[0][0] and first[0][3] == 4  # the chain's daily event: one row
    opened_by = first[0][1]
    june = event(
        "load_daily",
        ["orders", "regions"],
        "daily",
        {
            "total": [inp("orders", "amount", "DIRECT/AGGREGATION")],
            "region": [inp("regions", "name", "DIRECT/IDENTITY")],
        },
        when="2025-06-01T00:00:00Z",
    )
    june_id = send(client, contributor, june)["id"]
    kept, new, ended = _rows(db)  # June's new row is written before the split
    assert kept == (True, opened_by, None, 1, [(field("orders", "amount"), field("daily", "total"))])
    assert ended[:4] == (False, opened_by, june_id, 3)  # same opening event, closed by June's
    assert sorted(ended[4]) == [
        (field("orders", "region"), "dataset:ns:daily"),
        (field("orders", "region"), field("daily", "region")),
        (field("orders", "status"), "dataset:ns:daily"),
    ]
    assert new == (True, june_id, None, 1, [(field("regions", "name"), field("daily", "region"))])
    may, now = pairs(graph(client, as_of="2025-05-15")), pairs(graph(client))
    assert (field("orders", "region"), field("daily", "region")) in may - now
    assert (field("orders", "amount"), field("daily", "total")) in may & now
    # the same facet again: nothing opens, nothing ends, no row is written
    again = event(
        "load_daily",
        ["orders", "regions"],
        "daily",
        {
            "total": [inp("orders", "amount", "DIRECT/AGGREGATION")],
            "region": [inp("regions", "name", "DIRECT/IDENTITY")],
        },
        when="2025-06-02T00:00:00Z",
    )
    assert send(client, contributor, again)["columns"] == {"opened": 0, "closed": 0}
    assert len(_rows(db)) == 3
    # a facet stating none of the open edges any more ends whole rows (no split)
    july = event(
        "load_daily", ["orders"], "daily", {"total": [inp("orders", "net")]}, when="2025-07-01T00:00:00Z"
    )
    assert send(client, contributor, july)["columns"] == {"opened": 1, "closed": 2}
    rows = _rows(db)
    assert [r[0] for r in rows] == [False, False, False, True]
    assert (
        pairs(graph(client))
        & {
            (field("orders", "amount"), field("daily", "total")),
            (field("regions", "name"), field("daily", "region")),
        }
        == set()
    )


def test_packed_edges_read_back_the_same():
    edges = [
        ColumnEdge.of("dataset:ns:a", "x", "dataset:ns:out", "p", _IDENTITY),
        ColumnEdge.of("dataset:ns:a", "y:z", "dataset:ns:out", "q", _IDENTITY),
        ColumnEdge.of("dataset:pg://h:5432:b", "列", "dataset:ns:out", "r:s", _FILTER),
        ColumnEdge.of("dataset:ns:a", "w", "dataset:ns:out", None, _FILTER),
        ColumnEdge.of("dataset:ns:a", "\ud800", "dataset:ns:out", "t", _IDENTITY),  # a lone surrogate
    ]
    assert unpack(pack(edges), "dataset:ns:out") == edges


def test_a_field_id_read_two_ways_is_one_field(client, contributor):
    """``datasetField:ns:a:b:c`` is field ``b:c`` of ``ns:a`` and field ``c`` of ``ns:a:b``."""
    send(client, contributor, event("j1", ["x"], "a", {"b:c": [inp("x", "f")]}, when="2025-05-01T00:00:00Z"))
    send(client, contributor, event("j2", ["y"], "a:b", {"c": [inp("y", "g")]}, when="2025-05-02T00:00:00Z"))
    g = graph(client)
    ids = [n["id"] for n in g["nodes"]]
    assert len(ids) == len(set(ids)) and ids.count("datasetField:ns:a:b:c") == 1
    assert pairs(g) == {
        (field("x", "f"), "datasetField:ns:a:b:c"),
        (field("y", "g"), "datasetField:ns:a:b:c"),
    }
    down = graph(client, node=field("y", "g"), direction="downstream")
    assert {n["id"] for n in down["nodes"]} == {field("y", "g"), "datasetField:ns:a:b:c"}
    r = client.get("/api/v1/lineage/impact", query_string={"node": field("x", "f")})
    assert r.status_code == 200, r.get_json()
    assert [f["id"] for f in r.get_json()["fields"]] == ["datasetField:ns:a:b:c"]


_OLD_COLUMNS = (
    "source",
    "target",
    "source_dataset",
    "source_field",
    "target_dataset",
    "target_field",
    "transformations",
    "job",
    "valid_from",
    "valid_to",
    "event_id",
    "closed_by",
    "flow_id",
)


def _old_row(src, sf, out, tf, trans, job, start, end=None, closed_by=None) -> dict:
    return {
        "source": f"datasetField:{src[8:]}:{sf}",
        "target": out if tf is None else f"datasetField:{out[8:]}:{tf}",
        "source_dataset": src,
        "source_field": sf,
        "target_dataset": out,
        "target_field": tf,
        "transformations": trans,
        "job": job,
        "valid_from": start,
        "valid_to": end,
        "event_id": None,
        "closed_by": closed_by,
        "flow_id": None,
    }


def test_migration_0014_packs_the_rows_and_its_downgrade_gives_them_back(empty_url):
    may, june = dt.datetime(2025, 5, 1), dt.datetime(2025, 6, 1)
    rows = [
        _old_row("dataset:ns:orders", "amount", "dataset:ns:daily", "total", _IDENTITY, "job:ns:j", may),
        _old_row(
            "dataset:ns:orders", "region", "dataset:ns:daily", "region", _IDENTITY, "job:ns:j", may, june, 7
        ),
        _old_row("dataset:ns:orders", "status", "dataset:ns:daily", None, _FILTER, "job:ns:j", may),
        _old_row("dataset:pg://h:5432:r", "名:x", "dataset:ns:daily", "region", _IDENTITY, "job:ns:j", june),
        _old_row("dataset:ns:daily", "total", "dataset:ns:monthly", "sum", _IDENTITY, None, may),
    ]
    migrations.upgrade(empty_url, "0013")
    engine = create_engine(empty_url)
    old = table(
        "lineage_column_edge",
        column("id", Integer),
        *(column(c, DateTime if c.startswith("valid_") else None) for c in _OLD_COLUMNS),
    )
    insert = old.insert()
    select_old = select(*(old.c[c] for c in _OLD_COLUMNS)).order_by(old.c.id)
    try:
        with engine.begin() as c:
            c.execute(insert, rows)
            before = c.execute(select_old).all()
        migrations.upgrade(empty_url, "0014")
        with engine.begin() as c:
            packed = c.execute(
                text(
                    "SELECT target_dataset, job, valid_from, valid_to, closed_by, edge_count, edges "
                    "FROM lineage_column_edge ORDER BY id"
                )
            ).all()
        shapes = [(r[0], r[1], r[3] is None, r[4], r[5]) for r in packed]
        assert shapes == [
            ("dataset:ns:daily", "job:ns:j", True, None, 2),  # amount → total, and the filter
            ("dataset:ns:daily", "job:ns:j", False, 7, 1),  # region, ended in June
            ("dataset:ns:daily", "job:ns:j", True, None, 1),  # June's row
            ("dataset:ns:monthly", None, True, None, 1),
        ]
        assert [e.target_field for e in unpack(packed[0][6], "dataset:ns:daily")] == ["total", None]
        assert unpack(packed[2][6], "dataset:ns:daily")[0].source == "datasetField:pg://h:5432:r:名:x"
        migrations.downgrade(empty_url, "0013")
        with engine.begin() as c:
            after = c.execute(select_old).all()
            c.execute(insert, rows[:1])  # ids go on after the rows written back
            assert c.execute(select(func.count()).select_from(old)).scalar() == 6
            assert c.execute(select(func.max(old.c.id))).scalar() == 6
        # the same rows; an interval's edges come together
        assert sorted(after) == sorted(before) and after[1] == before[2]
        migrations.upgrade(empty_url)
    finally:
        engine.dispose()
