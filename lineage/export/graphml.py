"""GraphML for yEd, Gephi and networkx: every attribute a declared string key, yEd node graphics."""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape, quoteattr

from lineage.columns.graph import ColumnGraph
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
from lineage.ids import iso
from registry.cache import gc_paused

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
    column = level_of(query) == "column"
    node_attrs = (*NODE_ATTRS, *FIELD_ATTRS) if column else NODE_ATTRS
    edge_attrs = (*EDGE_ATTRS, *COLUMN_EDGE_ATTRS) if column else EDGE_ATTRS
    parts = [_HEADER, _keys(node_attrs, edge_attrs), '  <graph id="lineage" edgedefault="directed">\n']
    for key, value in (("as_of", as_of), ("level", level_of(query)), ("query", query_text(query))):
        parts.append(f'    <data key="g_{key}">{_x(value)}</data>\n')
    if column:
        _column_body(parts, nodes, edges, node_attrs, edge_attrs)
    else:
        parts += [_node(node, node_attrs) for node in nodes]
        parts += [_edge(i, edge, edge_attrs) for i, edge in enumerate(edges)]
    parts.append("  </graph>\n</graphml>\n")
    return "".join(parts).encode("utf-8")


def _column_body(parts: list[str], nodes: list[dict], edges: list[dict], node_attrs, edge_attrs) -> None:
    """Column level: no yEd graphics (400,000 fields would carry ~250 MB of them) and no empty values.
    Lines of values that repeat (a dataset's, a system's, a moment's, a transformation's) are made once
    each: at 400,000 fields, writing each value's line anew was most of the export's time."""
    with gc_paused():
        lines: dict[tuple, str] = {}
        ids: dict[str, str] = {}

        def data(prefix: str, key: str, value) -> str:
            """``<data key="{prefix}{key}">…</data>`` for a value that is not None (memoised by value)."""
            memo_key = (prefix, key, value) if value.__class__ is str else None
            line = lines.get(memo_key) if memo_key else None
            if line is None:
                line = f'      <data key="{prefix}{key}">{_x(_scalar(value))}</data>\n'
                if memo_key:
                    lines[memo_key] = line
            return line

        def qa(value: str) -> str:
            found = ids.get(value)
            if found is None:
                found = ids[value] = _qa(value)
            return found

        append = parts.append
        for node in nodes:
            text = [
                f"    <node id={_qa(node['id'])}>\n",
                f'      <data key="label">{_x(label(node))}</data>\n',
            ]
            for key in node_attrs:
                value = node.get(key)
                if value is not None:
                    text.append(data("n_", key, value))
            text.append("    </node>\n")
            append("".join(text))
        # what follows an edge's validity depends on these of its values only (alive while ``edges``
        # is: their ids tell them apart); made once per distinct combination
        tail_keys = [k for k in edge_attrs if k not in ("kind", "valid_from", "valid_to")]
        tails: dict[tuple, str] = {}
        for i, edge in enumerate(edges):
            get = edge.get
            shape = (
                id(get("datasets")),
                id(get("transformation")),
                id(get("transformations")),
                id(get("scope")),
            )
            tail = tails.get(shape)
            if tail is None:
                flat = edge | flat_transformation(edge)
                tail = tails[shape] = "".join(
                    data("e_", key, flat[key]) for key in tail_keys if flat.get(key) is not None
                )
            text = f'    <edge id="e{i}" source={qa(edge["source"])} target={qa(edge["target"])}>\n'
            for key in ("kind", "valid_from", "valid_to"):
                value = get(key)
                if value is not None:
                    text += data("e_", key, value)
            append(text + tail + "    </edge>\n")


def render_columns(
    graph: ColumnGraph, chosen: set[int] | None, as_of: str, query: dict
) -> tuple[bytes, int, int]:
    """(file, nodes, edges): the column-level GraphML of ``graph`` (``chosen`` positions, or all),
    written straight from the field graph. The same bytes as ``render`` of the graph query's answer
    (``lineage.columns.queries.subgraph``) without its 800,000 dicts at 400,000 fields: a dataset's
    lines, a moment's, a transformation's are made once each."""
    with gc_paused():
        ids, edges, hub_fields = graph.ids, graph.edges, graph.hub_fields
        order = sorted(range(len(ids)) if chosen is None else chosen, key=ids.__getitem__)
        node_attrs = (*NODE_ATTRS, *FIELD_ATTRS)
        edge_attrs = (*EDGE_ATTRS, *COLUMN_EDGE_ATTRS)
        parts = [_HEADER, _keys(node_attrs, edge_attrs), '  <graph id="lineage" edgedefault="directed">\n']
        for key, value in (("as_of", as_of), ("level", level_of(query)), ("query", query_text(query))):
            parts.append(f'    <data key="g_{key}">{_x(value)}</data>\n')
        data = _Lines().data
        append = parts.append
        field_of, dataset_info = graph.ctl.field, graph.ctl.dataset_info
        rank = [0] * len(ids)
        quoted: list[str] = [""] * len(ids)
        #: dataset id → (what a field's label starts with, its lines after the field's name)
        datasets: dict[str, tuple[str, str]] = {}
        type_line, close = data("n_", "type", "field"), "    </node>\n"
        for r, i in enumerate(order):
            rank[i] = r
            node = ids[i]
            q = quoted[i] = _qa(node)
            if i in hub_fields:
                append(_field_attrs_node(graph.node_dict(i), node_attrs))
                continue
            dataset, field = field_of(node)
            found = datasets.get(dataset)
            if found is None:
                ns, name, system, resource = dataset_info(dataset)
                lines = [
                    data("n_", k, v)
                    for k, v in (
                        ("namespace", ns),
                        ("system", system),
                        ("resource", resource),
                        ("dataset", dataset),
                    )
                    if v is not None
                ]
                found = datasets[dataset] = ((name or dataset) + ".", "".join(lines))
            field_line = data("n_", "field", field)
            append(
                f"    <node id={q}>\n"
                f'      <data key="label">{_x(found[0] + field)}</data>\n'
                f"{type_line}{data('n_', 'name', field)}{found[1]}{field_line}{close}"
            )
        # the edges in (source, target) order: by the nodes' ranks
        keep = None if chosen is None else chosen
        keys = []
        for a, b, *_ in edges.values():
            if keep is None or (a in keep and b in keep):
                keys.append(rank[a] << 32 | rank[b])
        for hub, members in hub_fields.items():
            if keep is not None and hub not in keep:
                continue
            keys.extend(rank[hub] << 32 | rank[m] for m in members if keep is None or m in keep)
        keys.sort()
        moments: dict = {}
        tails: dict[tuple, str] = {}
        field_tail = data("e_", "kind", "field")
        column_kind = data("e_", "kind", "column")
        for n, k in enumerate(keys):
            a, b = order[k >> 32], order[k & 0xFFFFFFFF]
            row = edges.get(a << 32 | b)
            head = f'    <edge id="e{n}" source={quoted[a]} target={quoted[b]}>\n'
            if row is None:  # a dataset standing for one of its fields
                append(head + field_tail + "    </edge>\n")
                continue
            _, _, trans, vf, vt = row
            scope = "dataset" if b in hub_fields else "field"
            tail = tails.get((trans, scope))
            if tail is None:
                tail = tails[trans, scope] = _column_tail(trans, scope, edge_attrs, data)
            valid = moments.get((vf, vt))
            if valid is None:
                valid = moments[vf, vt] = "".join(
                    data("e_", key, iso(m))
                    for key, m in (("valid_from", vf), ("valid_to", vt))
                    if m is not None
                )
            append(head + column_kind + valid + tail + "    </edge>\n")
        parts.append("  </graph>\n</graphml>\n")
        return "".join(parts).encode("utf-8"), len(order), len(keys)


def _field_attrs_node(node: dict, node_attrs) -> str:
    lines = [f"    <node id={_qa(node['id'])}>\n", f'      <data key="label">{_x(label(node))}</data>\n']
    lines += [
        f'      <data key="n_{key}">{_x(_scalar(node[key]))}</data>\n'
        for key in node_attrs
        if node.get(key) is not None
    ]
    lines.append("    </node>\n")
    return "".join(lines)


def _column_tail(trans: str, scope: str, edge_attrs, data) -> str:
    """A column edge's lines after its validity, as ``ColumnGraph.edge_dicts`` gives the edge."""
    transformations = json.loads(trans)
    edge = {
        "transformation": transformations[0] if transformations else None,
        "transformations": transformations,
        "scope": scope,
    }
    flat = edge | flat_transformation(edge)
    after = edge_attrs[edge_attrs.index("valid_to") + 1 :]
    return "".join(data("e_", key, flat[key]) for key in after if flat.get(key) is not None)


class _Lines:
    """``<data key="…">…</data>`` lines, made once per (key, text value)."""

    def __init__(self):
        self._memo: dict[tuple, str] = {}

    def data(self, prefix: str, key: str, value) -> str:
        memo_key = (prefix, key, value) if value.__class__ is str else None
        line = self._memo.get(memo_key) if memo_key else None
        if line is None:
            line = f'      <data key="{prefix}{key}">{_x(_scalar(value))}</data>\n'
            if memo_key:
                self._memo[memo_key] = line
        return line
