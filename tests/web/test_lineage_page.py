# ruff: noqa: F811 (the demo fixture imported from test_browse_pages is a parameter here)
"""The lineage page's pieces without a browser, on SQLite and PostgreSQL: crossing reduction and label
wrapping in the layered layout, jobs folded onto edges, as_of read in Asia/Shanghai, and the node picker
resolving Chinese names and pinyin (the page works without its script too)."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from dataclasses import replace
from zoneinfo import ZoneInfo

from tests.web.test_browse_pages import demo  # noqa: F401 (the demo app fixture, both databases)
from web.browse import graph_layout
from web.browse.graph_layout import layout, overlaps, text_width, wrap

CONTRACT = "dataset:szgws.gcjs:contract"


def _y_at(segment, x: float) -> float:
    """The height of a drawn segment at ``x``: the cubic the template draws between two layers
    (``C mid,y1 mid,y2 x2,y2``), solved for x by bisection."""
    x1, y1, x2, y2 = segment
    mid = (x1 + x2) / 2
    lo, hi = 0.0, 1.0
    for _ in range(40):
        t = (lo + hi) / 2
        u = 1 - t
        xt = u**3 * x1 + 3 * u * u * t * mid + 3 * u * t * t * mid + t**3 * x2
        lo, hi = (t, hi) if xt < x else (lo, t)
    t = (lo + hi) / 2
    u = 1 - t
    return u**3 * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t**3 * y2


def coordinate_crossings(drawn) -> int:
    """Edge crossings read off the drawing's coordinates: two curves between layers whose x ranges
    overlap cross when their vertical order at the two ends of the overlap differs."""
    segments = []
    for route in drawn.edges:
        for (x1, y1), (x2, y2) in zip(route.points, route.points[1:], strict=False):
            if abs(y2 - y1) >= 0.5 or abs(x2 - x1) > 1:
                segments.append((x1, y1, x2, y2))
    count = 0
    for i, a in enumerate(segments):
        for b in segments[i + 1 :]:
            lo, hi = max(a[0], b[0]) + 0.5, min(a[2], b[2]) - 0.5
            if hi - lo < 1:
                continue
            before, after = _y_at(a, lo) - _y_at(b, lo), _y_at(a, hi) - _y_at(b, hi)
            if before * after < 0 and abs(before) > 0.5 and abs(after) > 0.5:
                count += 1
    return count


def graph_of(app, level: str, **kw) -> dict:
    from lineage import queries

    with app.app_context():
        s = app.extensions["yima"].db.session()
        try:
            return queries.subgraph(s, level=level, **kw)
        finally:
            s.close()


def nodes_of(graph) -> list[dict]:
    return [
        {"id": n["id"], "label": n.get("name") or n["id"], "sub": n["id"], "kind": n["type"]}
        for n in graph["nodes"]
    ]


def test_lineage_layout_crossing_reduction_on_the_demo_system_graph(demo):  # noqa: F811
    graph = graph_of(demo, "system")
    unordered = layout(nodes_of(graph), graph["edges"], sweeps=0)  # input order: what a plain layering gives
    ordered = layout(nodes_of(graph), graph["edges"])
    before, after = coordinate_crossings(unordered), coordinate_crossings(ordered)
    assert before >= 7  # the issue counted 7 on the drawing the old barycentre pass gave
    assert after < before and after <= 1, (before, after)
    assert overlaps(ordered) == []
    # no two edges leave or enter a box at the same point (the bundle out of 不良行为记录 was one line)
    ends = [(r.points[0], "out") for r in ordered.edges] + [(r.points[-1], "in") for r in ordered.edges]
    assert len(ends) == len(set(ends))
    dataset = graph_of(demo, "dataset")
    assert coordinate_crossings(layout(nodes_of(dataset), dataset["edges"])) <= coordinate_crossings(
        layout(nodes_of(dataset), dataset["edges"], sweeps=0)
    )


def test_lineage_layout_crossing_count_matches_the_coordinates():
    nodes = [{"id": x, "label": x} for x in "abcdxy"]
    edges = [{"source": s, "target": t} for s, t in ("ay", "bx", "cy", "dx", "ax")]
    drawn = layout(nodes, edges, sweeps=0)
    order = {0: ["a", "b", "c", "d"], 1: ["x", "y"]}
    adj = {"a": ["y", "x"], "b": ["x"], "c": ["y"], "d": ["x"], "x": [], "y": []}
    assert graph_layout.crossings(order, adj) == coordinate_crossings(drawn) == 3
    assert coordinate_crossings(layout(nodes, edges)) == 0  # b, d, a, c over x, y


def test_lineage_layout_functions_stay_short():
    for name, fn in inspect.getmembers(graph_layout, inspect.isfunction):
        if fn.__module__ == graph_layout.__name__:
            assert len(inspect.getsource(fn).splitlines()) <= 60, name


def test_lineage_labels_wrap_instead_of_being_cut():
    assert wrap("数字资产交付与竣工移交系统") == ["数字资产交付与", "竣工移交系统"]
    assert "".join(wrap("attest_contractor_grade_record · CBSCZ")) == "attest_contractor_grade_record · CBSCZ"
    assert wrap("合同台账") == ["合同台账"]
    drawn = layout([{"id": "j", "label": "attest_contractor_grade_" * 3, "sub": "x" * 80}], [])
    box = drawn.nodes[0]
    assert "".join(box.lines) == "attest_contractor_grade_" * 3 and not any("…" in x for x in box.lines)
    assert all(text_width(x) <= box.w - 2 * graph_layout.PAD_X for x in box.lines)
    assert box.h > 2 * graph_layout.LINE_H


def test_lineage_system_graph_fits_a_1280_px_window(demo):  # noqa: F811
    from web.browse.lineage_pages import drawing, resource_names

    with demo.app_context():
        s = demo.extensions["yima"].db.session()
        drawn = drawing(graph_of(demo, "system"), None, resource_names(s))
        s.close()
    assert drawn.width <= 1230  # the box's width at 1280 px
    names = ["".join(b.lines) for b in drawn.nodes]
    assert "数字资产交付与竣工移交系统" in names


def test_lineage_jobs_fold_onto_edges(demo):  # noqa: F811
    from web.browse.lineage_pages import drawing, fold_jobs

    graph = graph_of(demo, "dataset")
    folded = fold_jobs(graph)
    jobs = [n for n in graph["nodes"] if n["type"] == "job"]
    assert jobs and not [n for n in folded["nodes"] if n["type"] == "job"]
    assert folded["folded"] == len(jobs)
    job_edges = [e for e in folded["edges"] if e["kind"] == "job"]
    names = {n["name"] for n in jobs}
    assert job_edges and all(set(e["jobs"]) <= names for e in job_edges)
    assert drawing(folded).width < 0.6 * drawing(graph).width
    # the focus stays a node even when it is a job
    job = jobs[0]["id"]
    assert job in {n["id"] for n in fold_jobs(graph, keep=job)["nodes"]}


def test_lineage_as_of_is_read_in_shanghai(demo):  # noqa: F811
    from web.browse.lineage_pages import display_zone, parse_as_of

    with demo.test_request_context("/lineage"):
        assert str(display_zone()) == "Asia/Shanghai"
        assert parse_as_of("2025-06-30") == dt.datetime(2025, 6, 29, 16, 0)
        assert parse_as_of("2025-06-30T08:00:00+00:00") == dt.datetime(2025, 6, 30, 8, 0)
    assert parse_as_of("2025-06-30", ZoneInfo("UTC")) == dt.datetime(2025, 6, 30, 0, 0)


def test_lineage_as_of_zone_is_configurable(demo, monkeypatch):  # noqa: F811
    from web.browse.lineage_pages import parse_as_of

    yima = demo.extensions["yima"]
    monkeypatch.setattr(yima, "config", replace(yima.config, timezone="Europe/London"))  # YIMA_TIMEZONE
    with demo.test_request_context("/lineage"):
        assert parse_as_of("2025-06-30") == dt.datetime(2025, 6, 29, 23, 0)  # BST


def test_lineage_page_resolves_names_without_script(demo):  # noqa: F811
    client = demo.test_client()
    html = client.get("/lineage", query_string={"find": "合同台账", "node": "", "level": "system"}).get_data(
        as_text=True
    )
    assert f'value="{CONTRACT}"' in html and 'class="node dataset focus"' in html
    html = client.get("/lineage", query_string={"find": "httz", "node": ""}).get_data(as_text=True)
    assert f'value="{CONTRACT}"' in html
    # the label of the node it holds keeps the node (a picked entry, or the page sent back unchanged)
    html = client.get(
        "/lineage", query_string={"find": "合同台账", "node": CONTRACT, "level": "dataset"}
    ).get_data(as_text=True)
    assert 'class="node dataset focus"' in html
    html = client.get("/lineage", query_string={"find": "没有这个", "node": ""}).get_data(as_text=True)
    assert "找不到名称、编号或拼音与“没有这个”相符的节点" in html and "graph-empty" not in html
    html = client.get("/lineage", query_string={"find": "没有这个", "as_of": "2020-01-01"}).get_data(
        as_text=True
    )
    assert "截至 2020-01-01，找不到" in html  # it may only appear later
    html = client.get("/lineage", query_string={"find": "", "node": CONTRACT}).get_data(as_text=True)
    assert 'class="node dataset focus"' not in html  # an emptied box: the whole view
    html = client.get("/lineage", query_string={"node": "system:GCJS", "level": "dataset"}).get_data(
        as_text=True
    )
    assert "是系统节点" in html and not re.search(r"role=\"alert\"[^<]*level=system", html)
