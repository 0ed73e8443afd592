"""Lineage exports for audits: GraphML, node-link JSON, W3C PROV-JSON, CSV edge list and DOT, byte-for-byte repeatable."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from registry.errors import Invalid

#: format → (file name, media type)
FORMATS = {
    "graphml": ("lineage.graphml", "application/graphml+xml; charset=utf-8"),
    "json": ("lineage.json", "application/json; charset=utf-8"),
    "prov": ("lineage.prov.json", "application/json; charset=utf-8"),
    "csv": ("lineage.csv", "text/csv; charset=utf-8"),
    "dot": ("lineage.dot", "text/vnd.graphviz; charset=utf-8"),
}

NODE_ATTRS = ("type", "name", "namespace", "system", "resource")
EDGE_ATTRS = ("kind", "valid_from", "valid_to", "datasets")


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


def _label(node: dict) -> str:
    return node.get("name") or node["id"]


def _scalar(value) -> str:
    """GraphML attributes are strings here (yEd and Gephi read them all); None becomes empty."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: yEd draws a node from its ``nodegraphics`` data: shape and colour by type, the label inside
_YED_SHAPES = {
    "dataset": ("rectangle", "#DCEBFA"),
    "job": ("ellipse", "#FFF2CC"),
    "system": ("roundrectangle", "#E2F0D9"),
}


def _x(value) -> str:
    """Text for XML: escaped, and characters XML 1.0 cannot carry replaced (U+FFFD)."""
    return escape(_XML_ILLEGAL.sub("\ufffd", value))


def _qa(value: str) -> str:
    return quoteattr(_XML_ILLEGAL.sub("\ufffd", value))


def _yed_node(node: dict) -> str:
    label = _label(node)
    shape, fill = _YED_SHAPES.get(node["type"], ("rectangle", "#FFFFFF"))
    width = max(60, min(400, 8 * len(label) + 20))
    return (
        f'      <data key="yed"><y:ShapeNode><y:Geometry height="30.0" width="{width}.0" x="0.0" y="0.0"/>'
        f'<y:Fill color="{fill}" transparent="false"/><y:NodeLabel>{_x(label)}</y:NodeLabel>'
        f'<y:Shape type="{shape}"/></y:ShapeNode></data>\n'
    )


def _graphml(nodes, edges, as_of, query) -> bytes:
    out = io.StringIO()
    w = out.write
    w('<?xml version="1.0" encoding="UTF-8"?>\n')
    w(
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:y="http://www.yworks.com/xml/graphml" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
    )
    graph_keys = ("as_of", "level", "query")
    for key in graph_keys:
        w(f'  <key id="g_{key}" for="graph" attr.name="{key}" attr.type="string"/>\n')
    w('  <key id="label" for="node" attr.name="label" attr.type="string"/>\n')
    for key in NODE_ATTRS:
        w(f'  <key id="n_{key}" for="node" attr.name="{key}" attr.type="string"/>\n')
    w('  <key id="yed" for="node" yfiles.type="nodegraphics"/>\n')
    for key in EDGE_ATTRS:
        w(f'  <key id="e_{key}" for="edge" attr.name="{key}" attr.type="string"/>\n')
    w('  <graph id="lineage" edgedefault="directed">\n')
    query_text = json.dumps(query, ensure_ascii=False, sort_keys=True)
    for key, value in (("as_of", as_of), ("level", query.get("level") or "dataset"), ("query", query_text)):
        w(f'    <data key="g_{key}">{_x(value)}</data>\n')
    for node in nodes:
        w(f"    <node id={_qa(node['id'])}>\n")
        w(f'      <data key="label">{_x(_label(node))}</data>\n')
        for key in NODE_ATTRS:
            w(f'      <data key="n_{key}">{_x(_scalar(node.get(key)))}</data>\n')
        w(_yed_node(node))
        w("    </node>\n")
    for i, edge in enumerate(edges):
        w(f'    <edge id="e{i}" source={_qa(edge["source"])} target={_qa(edge["target"])}>\n')
        for key in EDGE_ATTRS:
            if key in edge:
                w(f'      <data key="e_{key}">{_x(_scalar(edge.get(key)))}</data>\n')
        w("    </edge>\n")
    w("  </graph>\n</graphml>\n")
    return out.getvalue().encode("utf-8")


def _node_link(nodes, edges, as_of, query) -> bytes:
    data = {
        "directed": True,
        "multigraph": False,
        "graph": {"as_of": as_of, "level": query.get("level") or "dataset", "query": query},
        "nodes": nodes,
        "edges": edges,
    }
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _qname(node_id: str) -> str:
    kind, _, rest = node_id.partition(":")
    prefix = {"dataset": "ds", "job": "job", "system": "sys"}[kind]
    return f"{prefix}:{quote(rest, safe='')}"


def _prov(nodes, edges, as_of, query) -> bytes:
    by_id = {n["id"]: n for n in nodes}
    doc: dict = {
        "prefix": {
            "yima": "urn:yima:",
            "ds": "urn:yima:dataset:",
            "job": "urn:yima:job:",
            "sys": "urn:yima:system:",
        },
    }
    entity, activity, agent = {}, {}, {}
    used, generated, derived, attributed, associated = {}, {}, {}, {}, {}
    for node in nodes:
        attrs = {"prov:label": _label(node), "yima:id": node["id"]}
        for key in ("namespace", "resource"):
            if node.get(key):
                attrs[f"yima:{key}"] = node[key]
        if node["type"] == "dataset":
            entity[_qname(node["id"])] = {**attrs, "prov:type": "yima:Dataset"}
        elif node["type"] == "job":
            activity[_qname(node["id"])] = {**attrs, "prov:type": "yima:Job"}
        else:
            agent[_qname(node["id"])] = {**attrs, "prov:type": "prov:Organization"}
    systems = {n["system"] for n in nodes if n.get("system")}
    for code in sorted(systems):
        sid = f"system:{code}"
        agent.setdefault(_qname(sid), {"prov:label": code, "yima:id": sid, "prov:type": "prov:Organization"})
    for node in nodes:
        if node["type"] == "dataset" and node.get("system"):
            attributed[f"_:a{len(attributed) + 1}"] = {
                "prov:entity": _qname(node["id"]),
                "prov:agent": _qname(f"system:{node['system']}"),
            }
        elif node["type"] == "job" and node.get("system"):
            associated[f"_:w{len(associated) + 1}"] = {
                "prov:activity": _qname(node["id"]),
                "prov:agent": _qname(f"system:{node['system']}"),
            }
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for edge in edges:
        s, t, kind = edge["source"], edge["target"], edge["kind"]
        extra = {}
        if edge.get("valid_from"):
            extra["yima:validFrom"] = edge["valid_from"]
        if edge.get("valid_to"):
            extra["yima:validTo"] = edge["valid_to"]
        if kind == "input" and by_id.get(t, {}).get("type") == "job":
            used[f"_:u{len(used) + 1}"] = {"prov:activity": _qname(t), "prov:entity": _qname(s), **extra}
            inputs.setdefault(t, []).append(s)
        elif kind == "output" and by_id.get(s, {}).get("type") == "job":
            generated[f"_:g{len(generated) + 1}"] = {
                "prov:entity": _qname(t),
                "prov:activity": _qname(s),
                **extra,
            }
            outputs.setdefault(s, []).append(t)
        elif kind == "flow":
            derived[f"_:d{len(derived) + 1}"] = {
                "prov:generatedEntity": _qname(t),
                "prov:usedEntity": _qname(s),
                **extra,
            }
        elif kind == "feeds":  # system level: one system's data feeds another's
            derived[f"_:d{len(derived) + 1}"] = {
                "prov:generatedEntity": _qname(t),
                "prov:usedEntity": _qname(s),
            }
    for job in sorted(set(inputs) & set(outputs)):
        for out in outputs[job]:
            for src in inputs[job]:
                derived[f"_:d{len(derived) + 1}"] = {
                    "prov:generatedEntity": _qname(out),
                    "prov:usedEntity": _qname(src),
                    "prov:activity": _qname(job),
                }
    if query.get("level") == "system":  # systems are agents, so their derivations become influences
        influenced = {}
        for key, rel in list(derived.items()):
            influenced[key.replace("_:d", "_:i")] = {
                "prov:influencee": rel["prov:generatedEntity"],
                "prov:influencer": rel["prov:usedEntity"],
            }
        derived = {}
        doc["wasInfluencedBy"] = influenced
    for name, part in (
        ("entity", entity),
        ("activity", activity),
        ("agent", agent),
        ("used", used),
        ("wasGeneratedBy", generated),
        ("wasDerivedFrom", derived),
        ("wasAttributedTo", attributed),
        ("wasAssociatedWith", associated),
    ):
        if part:
            doc[name] = part
    doc["entity"] = entity
    # the as_of and the query travel as attributes of a document entity (PROV-JSON has no header)
    doc["entity"]["yima:export"] = {
        "prov:type": "yima:LineageExport",
        "yima:asOf": as_of,
        "yima:query": json.dumps(query, ensure_ascii=False, sort_keys=True),
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


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
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_HEADER)
    for e in edges:
        s, t = by_id.get(e["source"], {}), by_id.get(e["target"], {})
        writer.writerow(
            [
                excel_safe(v)
                for v in (
                    e["source"],
                    s.get("type"),
                    s.get("name"),
                    s.get("system"),
                    e["target"],
                    t.get("type"),
                    t.get("name"),
                    t.get("system"),
                    e["kind"],
                    e.get("valid_from"),
                    e.get("valid_to"),
                    as_of,
                )
            ]
        )
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")  # the BOM makes Excel read UTF-8 (Chinese intact)


def _dot_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_SHAPES = {"dataset": "box", "job": "ellipse", "system": "box3d"}


def _dot(nodes, edges, as_of, query) -> bytes:
    lines = [
        "digraph lineage {",
        f"  label={_dot_str('lineage as of ' + as_of)};",
        "  rankdir=LR;",
        '  node [fontname="Noto Sans CJK SC,sans-serif"];',
    ]
    for n in nodes:
        attrs = f"label={_dot_str(_label(n))}, shape={_DOT_SHAPES.get(n['type'], 'box')}"
        if n.get("system"):
            attrs += f", tooltip={_dot_str(n['system'])}"
        lines.append(f"  {_dot_str(n['id'])} [{attrs}];")
    for e in edges:
        style = ", style=dashed" if e["kind"] == "flow" else ""
        lines.append(
            f"  {_dot_str(e['source'])} -> {_dot_str(e['target'])} [label={_dot_str(e['kind'])}{style}];"
        )
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


_RENDERERS = {"graphml": _graphml, "json": _node_link, "prov": _prov, "csv": _csv, "dot": _dot}
