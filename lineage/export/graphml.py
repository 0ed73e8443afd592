"""GraphML for yEd, Gephi and networkx: every attribute a declared string key, yEd node graphics."""

from __future__ import annotations

import io
import json
import re
from xml.sax.saxutils import escape, quoteattr

from lineage.export.common import (
    COLUMN_EDGE_ATTRS,
    EDGE_ATTRS,
    FIELD_ATTRS,
    NODE_ATTRS,
    flat_transformation,
    label,
    level_of,
    query_text,
)

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: yEd draws a node from its ``nodegraphics`` data: shape and colour by type, the label inside
_YED_SHAPES = {
    "dataset": ("rectangle", "#DCEBFA"),
    "job": ("ellipse", "#FFF2CC"),
    "system": ("roundrectangle", "#E2F0D9"),
    "field": ("rectangle", "#F2F2F2"),
}
_GRAPH_KEYS = ("as_of", "level", "query")
_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:y="http://www.yworks.com/xml/graphml" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)


def _scalar(value) -> str:
    """GraphML attributes are strings here (yEd and Gephi read them all); None becomes empty."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


_PLAIN_XML = re.compile('[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')
_MEMO: dict[str, str] = {}


def _x(value) -> str:
    """Text for XML: escaped, and characters XML 1.0 cannot carry replaced (U+FFFD). Most values need
    neither (one search says so); short values repeat (kinds, systems, dates) and are memoised."""
    if _PLAIN_XML.search(value) is None:
        return value
    found = _MEMO.get(value)
    if found is None:
        found = escape(_XML_ILLEGAL.sub("\ufffd", value))
        if len(value) < 200:
            if len(_MEMO) > 100_000:
                _MEMO.clear()
            _MEMO[value] = found
    return found


_PLAIN_ATTR = re.compile("[&<>\"'\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _qa(value: str) -> str:
    if _PLAIN_ATTR.search(value) is None:  # most ids: nothing to quote but the quotes around them
        return '"' + value + '"'
    return quoteattr(_XML_ILLEGAL.sub("\ufffd", value))


def _keys(node_attrs=NODE_ATTRS, edge_attrs=EDGE_ATTRS) -> str:
    lines = [
        f'  <key id="g_{key}" for="graph" attr.name="{key}" attr.type="string"/>\n' for key in _GRAPH_KEYS
    ]
    lines.append('  <key id="label" for="node" attr.name="label" attr.type="string"/>\n')
    lines += [
        f'  <key id="n_{key}" for="node" attr.name="{key}" attr.type="string"/>\n' for key in node_attrs
    ]
    lines.append('  <key id="yed" for="node" yfiles.type="nodegraphics"/>\n')
    lines += [
        f'  <key id="e_{key}" for="edge" attr.name="{key}" attr.type="string"/>\n' for key in edge_attrs
    ]
    return "".join(lines)


def _yed_node(node: dict) -> str:
    text = label(node)
    shape, fill = _YED_SHAPES.get(node["type"], ("rectangle", "#FFFFFF"))
    width = max(60, min(400, 8 * len(text) + 20))
    return (
        f'      <data key="yed"><y:ShapeNode><y:Geometry height="30.0" width="{width}.0" x="0.0" y="0.0"/>'
        f'<y:Fill color="{fill}" transparent="false"/><y:NodeLabel>{_x(text)}</y:NodeLabel>'
        f'<y:Shape type="{shape}"/></y:ShapeNode></data>\n'
    )


def _node(node: dict, node_attrs=NODE_ATTRS) -> str:
    lines = [f"    <node id={_qa(node['id'])}>\n", f'      <data key="label">{_x(label(node))}</data>\n']
    lines += [f'      <data key="n_{key}">{_x(_scalar(node.get(key)))}</data>\n' for key in node_attrs]
    lines += [_yed_node(node), "    </node>\n"]
    return "".join(lines)


def _field_node(node: dict, node_attrs) -> str:
    """Column level: no yEd graphics (400,000 fields would carry ~250 MB of them) and no empty values."""
    lines = [f"    <node id={_qa(node['id'])}>\n", f'      <data key="label">{_x(label(node))}</data>\n']
    lines += [
        f'      <data key="n_{key}">{_x(_scalar(node[key]))}</data>\n'
        for key in node_attrs
        if node.get(key) is not None
    ]
    lines.append("    </node>\n")
    return "".join(lines)


def _column_edge(i: int, edge: dict, edge_attrs, lists: dict[int, str]) -> str:
    flat = edge | flat_transformation(edge)
    shared = flat.get("transformations")
    if shared is not None:  # one list object per distinct value (see ColumnGraph.edge_dicts)
        text = lists.get(id(shared))
        if text is None:
            text = lists[id(shared)] = _scalar(shared)
        flat["transformations"] = text
    lines = [f'    <edge id="e{i}" source={_qa(edge["source"])} target={_qa(edge["target"])}>\n']
    lines += [
        f'      <data key="e_{key}">{_x(_scalar(flat[key]))}</data>\n'
        for key in edge_attrs
        if flat.get(key) is not None
    ]
    lines.append("    </edge>\n")
    return "".join(lines)


def _edge(i: int, edge: dict, edge_attrs=EDGE_ATTRS) -> str:
    lines = [f'    <edge id="e{i}" source={_qa(edge["source"])} target={_qa(edge["target"])}>\n']
    lines += [
        f'      <data key="e_{key}">{_x(_scalar(edge.get(key)))}</data>\n'
        for key in edge_attrs
        if key in edge
    ]
    lines.append("    </edge>\n")
    return "".join(lines)


def render(nodes: list[dict], edges: list[dict], as_of: str, query: dict) -> bytes:
    """The GraphML document of sorted ``nodes`` and ``edges``, with ``as_of``, level and query as graph data."""
    out = io.StringIO()
    w = out.write
    column = level_of(query) == "column"
    node_attrs = (*NODE_ATTRS, *FIELD_ATTRS) if column else NODE_ATTRS
    edge_attrs = (*EDGE_ATTRS, *COLUMN_EDGE_ATTRS) if column else EDGE_ATTRS
    w(_HEADER)
    w(_keys(node_attrs, edge_attrs))
    w('  <graph id="lineage" edgedefault="directed">\n')
    for key, value in (("as_of", as_of), ("level", level_of(query)), ("query", query_text(query))):
        w(f'    <data key="g_{key}">{_x(value)}</data>\n')
    for node in nodes:
        w(_field_node(node, node_attrs) if column else _node(node, node_attrs))
    lists: dict[int, str] = {}
    for i, edge in enumerate(edges):
        w(_column_edge(i, edge, edge_attrs, lists) if column else _edge(i, edge, edge_attrs))
    w("  </graph>\n</graphml>\n")
    return out.getvalue().encode("utf-8")
