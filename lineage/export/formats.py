"""The export formats: GraphML, node-link JSON, W3C PROV-JSON, CSV edge list and DOT, byte-for-byte repeatable."""

from __future__ import annotations

import csv
import io
import json

from lineage.export import graphml, prov
from lineage.export.common import TRANSFORMATION_ATTRS, flat_transformation, label, level_of
from registry.errors import Invalid

#: format → (file name, media type)
FORMATS = {
    "graphml": ("lineage.graphml", "application/graphml+xml; charset=utf-8"),
    "json": ("lineage.json", "application/json; charset=utf-8"),
    "prov": ("lineage.prov.json", "application/json; charset=utf-8"),
    "csv": ("lineage.csv", "text/csv; charset=utf-8"),
    "dot": ("lineage.dot", "text/vnd.graphviz; charset=utf-8"),
}


def file_name(fmt: str) -> str:
    return _check(fmt)[0]


def media_type(fmt: str) -> str:
    return _check(fmt)[1]


def _check(fmt: str) -> tuple[str, str]:
    if fmt not in FORMATS:
        raise Invalid(f"format must be one of {', '.join(FORMATS)}", {"format": [f"one of {list(FORMATS)}"]})
    return FORMATS[fmt]


def render(fmt: str, graph: dict, query: dict) -> bytes:
    """The file for a graph answer (``subgraph``'s ``{"as_of", "level", "nodes", "edges"}``).

    Nodes and edges are sorted and nothing but ``as_of`` and the query describe when it was made,
    so the same graph gives the same bytes. Raises Invalid for an unknown format.
    """
    _check(fmt)
    nodes = sorted(graph["nodes"], key=lambda n: n["id"])
    edges = sorted(graph["edges"], key=lambda e: (e["source"], e["target"]))
    return _RENDERERS[fmt](nodes, edges, graph["as_of"], query)


def _node_link(nodes, edges, as_of, query) -> bytes:
    data = {
        "directed": True,
        "multigraph": False,
        "graph": {"as_of": as_of, "level": level_of(query), "query": query},
        "nodes": nodes,
        "edges": edges,
    }
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


_CSV_HEADER = (
    "source",
    "source_type",
    "source_name",
    "source_system",
    "target",
    "target_type",
    "target_name",
    "target_system",
    "kind",
    "valid_from",
    "valid_to",
    "as_of",
)


def excel_safe(value) -> str:
    """A cell Excel will not run as a formula: a leading = + - @ (or tab/CR) gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(nodes, edges, as_of, query) -> bytes:
    by_id = {n["id"]: n for n in nodes}
    column = level_of(query) == "column"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow((*_CSV_HEADER, *TRANSFORMATION_ATTRS, "scope") if column else _CSV_HEADER)
    for e in edges:
        s, t = by_id.get(e["source"], {}), by_id.get(e["target"], {})
        # a field's name is written dataset.field (a column name alone repeats across datasets)
        s_name = label(s) if column and s else s.get("name")
        t_name = label(t) if column and t else t.get("name")
        row = (
            *(e["source"], s.get("type"), s_name, s.get("system")),
            *(e["target"], t.get("type"), t_name, t.get("system")),
            *(e["kind"], e.get("valid_from"), e.get("valid_to"), as_of),
        )
        if column:
            row += (*flat_transformation(e).values(), e.get("scope"))
        writer.writerow([excel_safe(v) for v in row])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")  # the BOM makes Excel read UTF-8 (Chinese intact)


def _dot_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {"dataset": "box", "job": "ellipse", "system": "box3d", "field": "note"}


def _dot(nodes, edges, as_of, query) -> bytes:
    lines = [
        "digraph lineage {",
        f"  label={_dot_str('lineage as of ' + as_of)};",
        "  rankdir=LR;",
        '  node [fontname="Noto Sans CJK SC,sans-serif"];',
    ]
    for n in nodes:
        attrs = f"label={_dot_str(label(n))}, shape={_DOT_SHAPES.get(n['type'], 'box')}"
        if n.get("system"):
            attrs += f", tooltip={_dot_str(n['system'])}"
        lines.append(f"  {_dot_str(n['id'])} [{attrs}];")
    for e in edges:
        style = ", style=dashed" if e["kind"] in ("flow", "field") else ""
        trans = e.get("transformation") or {}
        text = "/".join(x for x in (trans.get("type"), trans.get("subtype")) if x) or e["kind"]
        if trans.get("type") == "INDIRECT":
            style += ", style=dotted"
        lines.append(f"  {_dot_str(e['source'])} -> {_dot_str(e['target'])} [label={_dot_str(text)}{style}];")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


_RENDERERS = {"graphml": graphml.render, "json": _node_link, "prov": prov.render, "csv": _csv, "dot": _dot}
