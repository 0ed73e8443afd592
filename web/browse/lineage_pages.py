"""The lineage page: the graph drawn as SVG (layered left to right), as_of/direction/depth/level controls, exports."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L

from lineage import queries, timeline
from lineage.columns import queries as column_queries
from lineage.columns.facet import split_field_id
from lineage.ids import iso, parse_time
from lineage.sql import dialect_choices
from lineage.sql.record import lineage_from_sql
from registry.errors import Invalid, NotFound
from web.browse.access import steward_required
from web.browse.graph_layout import layout
from web.browse.pages import bp, twin
from web.context import actor, db, session

DIRECTIONS = ("both", "downstream", "upstream")
LEVELS = ("system", "dataset", "column")
#: OpenLineage column-lineage transformation types and subtypes, as the pages say them
TRANSFORMATION_LABELS = {
    "DIRECT": L("直接"),
    "INDIRECT": L("间接"),
    "IDENTITY": L("原样"),
    "TRANSFORMATION": L("转换"),
    "AGGREGATION": L("聚合"),
    "JOIN": L("关联"),
    "FILTER": L("筛选"),
    "GROUP_BY": L("分组"),
    "SORT": L("排序"),
    "WINDOW": L("窗口"),
    "CONDITIONAL": L("条件"),
}
#: the SQL box's dialects first in the list (the bureau's databases), then sqlglot's others
SQL_DIALECTS = ("oracle", "dm", "mysql", "kingbase", "postgres", "tsql", "gbase", "oceanbase")
#: a bigger graph is not drawn (pick a node and a depth); the exports still hold all of it
MAX_DRAWN = 400
MAX_CHOICES = 2000
EXPORT_FORMATS = (
    ("graphml", "GraphML"),
    ("json", "JSON"),
    ("prov", "PROV-JSON"),
    ("csv", "CSV"),
    ("dot", "DOT"),
)


def query_graph(s, *, node=None, direction="both", depth=None, level="dataset", as_of=None) -> dict:
    """The contract's graph document (``{"nodes", "edges"}``) from the lineage service."""
    return queries.subgraph(s, node=node, direction=direction, depth=depth, level=level, as_of=as_of)


def uncatalogued(s) -> list:
    """Datasets seen in lineage that no catalog resource describes."""
    return queries.uncatalogued(s)


def parse_as_of(value: str | None) -> dt.datetime | None:
    """The date picker's date (or an ISO 8601 instant) read as the API reads it: ``lineage.ids.parse_time``,
    so a date alone is 00:00 UTC that day. None when empty; Invalid (in the page's language) otherwise."""
    if not value:
        return None
    try:
        return parse_time(value)
    except Invalid:
        raise Invalid(_("日期格式应为 YYYY-MM-DD"), {"as_of": [value]}) from None


def resource_names(s) -> dict[str, str]:
    """Catalog resource code → name, from the lineage service's cached view of the catalog."""
    return {r["code"]: r["name"] for r in timeline.timeline(s).resources.values()}


def drawing(graph: dict, focus: str | None = None, names: dict[str, str] | None = None):
    """Lay out a graph document for the SVG template; catalogued datasets carry their resource's name."""
    names = names or {}
    nodes = []
    for n in graph["nodes"]:
        kind = n.get("type", "")
        label, sub = n.get("name") or n["id"], n.get("system") or ""
        if kind == "system":
            sub = n["id"].removeprefix("system:")
        elif kind == "field":
            label, sub = n.get("field") or label, n.get("dataset_name") or ""
        elif kind == "dataset" and n.get("resource") in names:
            label, sub = names[n["resource"]], f"{n.get('name')} · {sub}" if sub else n.get("name")
        nodes.append(
            {
                "id": n["id"],
                "label": label,
                "sub": sub,
                "kind": kind,
                "uncatalogued": kind == "dataset" and not n.get("resource"),
                "resource": n.get("resource"),
                "focus": n["id"] == focus,
            }
        )
    return layout(nodes, graph["edges"])


@bp.route("/lineage")
def lineage():
    args = request.args
    node = args.get("node") or None
    level = args.get("level") or ("dataset" if node and not node.startswith("system:") else "system")
    if node and node.startswith("datasetField:"):
        level = "column"
    if level not in LEVELS:
        level = "system"
    direction = args.get("direction") if args.get("direction") in DIRECTIONS else "both"
    depth_raw = args.get("depth", "")
    depth = int(depth_raw) if depth_raw.isdigit() and int(depth_raw) > 0 else None
    as_of_raw = args.get("as_of") or ""
    as_of = parse_as_of(as_of_raw)
    s = session()
    error = None
    try:
        graph = query_graph(s, node=node, direction=direction, depth=depth, level=level, as_of=as_of)
    except (NotFound, Invalid) as exc:  # shown beside the controls, so the steward can fix the choice
        error, graph = exc.message, {"nodes": [], "edges": []}
    # the node picker: at column level the datasets (each draws its fields), not every field
    pick_level = "dataset" if level == "column" else level
    everything = query_graph(s, level=pick_level, as_of=as_of) if node or level == "column" else graph
    params = {
        "node": node,
        "direction": direction if node else None,
        "depth": depth,
        "level": level,
        "as_of": iso(as_of),
    }
    return render_template(
        "lineage.html",
        graph=graph,
        drawn=drawing(graph, node, resource_names(s)) if len(graph["nodes"]) <= MAX_DRAWN else None,
        choices=sorted(everything["nodes"], key=lambda n: (n.get("type", ""), n.get("name") or n["id"]))[
            :MAX_CHOICES
        ],
        too_big=len(graph["nodes"]) > MAX_DRAWN,
        node=node,
        level=level,
        direction=direction,
        depth=depth,
        as_of=as_of_raw[:10],
        error=error,
        exports=[
            (fmt, label, twin("/api/v1/lineage/export", format=fmt, **params))
            for fmt, label in EXPORT_FORMATS
        ],
        json_twin=twin("/api/v1/lineage/graph", **params),
    )


# --- column lineage on a resource's page ----------------------------------------------------


def transformation_text(transformations: list[dict]) -> str:
    """``直接 · 聚合``, several joined by ``；``, masking said (``脱敏``)."""
    parts = []
    for t in transformations:
        words = [str(TRANSFORMATION_LABELS.get(t.get("type"), t.get("type") or ""))]
        if t.get("subtype"):
            words.append(str(TRANSFORMATION_LABELS.get(t["subtype"], t["subtype"])))
        if t.get("masking"):
            words.append(_("脱敏"))
        parts.append(" · ".join(w for w in words if w))
    return "；".join(parts)


def _other(node: str) -> dict:
    if node.startswith("datasetField:"):
        dataset, field = split_field_id(node)
        return {"id": node, "label": f"{dataset.rpartition(':')[2]}.{field}"}
    return {"id": node, "label": node.rpartition(":")[2]}


def field_lineage_rows(s, resource: dict) -> dict | None:
    """The resource's fields (the catalog's first, then any only lineage knows) with their upstream
    and downstream fields and how; ``dataset`` lists the inputs that shape the whole dataset. None
    when the resource has no lineage identity or no column lineage."""
    identity = resource.get("lineage")
    if not identity:
        return None
    node = f"dataset:{identity['namespace']}:{identity['name']}"
    try:
        found = column_queries.field_lineage(s, node)
    except (NotFound, Invalid):
        return None
    if not found:
        return None

    def side(edges: list[dict]) -> list[dict]:
        return [_other(e["other"]) | {"how": transformation_text(e["transformations"])} for e in edges]

    titles = {f["name"]: f.get("title") for f in resource.get("fields", [])}
    names = [n for n in titles if n in found] + sorted(n for n in found if n is not None and n not in titles)
    rows = [
        {
            "name": n,
            "title": titles.get(n),
            "id": f"datasetField:{identity['namespace']}:{identity['name']}:{n}",
            "upstream": side(found[n]["upstream"]),
            "downstream": side(found[n]["downstream"]),
        }
        for n in names
    ]
    wide = found.get(None, {"upstream": []})
    return {"node": node, "rows": rows, "dataset": side(wide["upstream"])}


# --- the SQL box: lineage from SQL, previewed then recorded ----------------------------------


@bp.route("/lineage/sql", methods=["GET", "POST"])
@steward_required
def lineage_sql():
    form = request.form if request.method == "POST" else request.args
    values = {
        "sql": form.get("sql") or "",
        "dialect": form.get("dialect") or "oracle",
        "namespace": (form.get("namespace") or "").strip(),
        "job": (form.get("job") or "").strip() or None,
    }
    result, error, recorded = None, None, False
    if request.method == "POST":
        recorded = form.get("action") == "record"
        try:
            with db().writer() as w:
                result = lineage_from_sql(
                    w,
                    [(None, values["sql"])],
                    dialect=values["dialect"],
                    namespace=values["namespace"],
                    job=values["job"],
                    record=recorded,
                    actor=actor(),
                )
        except Invalid as exc:
            error, recorded = exc.message, False
    for st in (result or {}).get("statements", []):
        for c in st["columns"]:
            c["how"] = transformation_text([c["transformation"]])
        for c in st["indirect"]:
            c["how"] = transformation_text([c["transformation"]])
    dialects = list(SQL_DIALECTS) + [d for d in dialect_choices() if d not in SQL_DIALECTS]
    return render_template(
        "lineage_sql.html",
        values=values,
        dialects=dialects,
        result=result,
        error=error,
        recorded=recorded and bool(result and result["events"]),
    ), (422 if error else 200)
