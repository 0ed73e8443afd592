"""The lineage page: the graph drawn as SVG (layered left to right), as_of/direction/depth/level controls, exports."""

from __future__ import annotations

import datetime as dt

from flask import render_template, request
from flask_babel import gettext as _

from lineage import queries, timeline
from lineage.ids import iso, parse_time
from registry.errors import Invalid, NotFound
from web.browse.graph_layout import layout
from web.browse.pages import bp, twin
from web.context import session

DIRECTIONS = ("both", "downstream", "upstream")
LEVELS = ("system", "dataset")
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
    everything = query_graph(s, level=level, as_of=as_of) if node else graph
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
