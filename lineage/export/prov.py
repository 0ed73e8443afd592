"""W3C PROV-JSON: datasets are entities, jobs activities, systems agents; edges become PROV relations."""

from __future__ import annotations

import json
from urllib.parse import quote

from lineage.export.common import label, query_text

PREFIXES = {
    "yima": "urn:yima:",
    "ds": "urn:yima:dataset:",
    "job": "urn:yima:job:",
    "sys": "urn:yima:system:",
}
#: field ids' prefix, declared only in column-level documents (the others keep their bytes)
FIELD_PREFIX = {"fld": "urn:yima:datasetField:"}
#: the document's parts, in the order they are written (empty parts are left out)
_PARTS = (
    "entity",
    "activity",
    "agent",
    "used",
    "wasGeneratedBy",
    "wasDerivedFrom",
    "wasAttributedTo",
    "wasAssociatedWith",
    "wasInfluencedBy",
    "hadMember",
)


def _qname(node_id: str) -> str:
    kind, _, rest = node_id.partition(":")
    prefix = {"dataset": "ds", "job": "job", "system": "sys", "datasetField": "fld"}[kind]
    return f"{prefix}:{quote(rest, safe='')}"


def _add(part: dict, prefix: str, relation: dict) -> None:
    """Add a relation under the next blank-node id of its part (``_:u1``, ``_:u2``…)."""
    part[f"_:{prefix}{len(part) + 1}"] = relation


def _elements(doc: dict, nodes: list[dict]) -> None:
    """Entities, activities and agents; each system a node names is an agent too."""
    for node in nodes:
        attrs = {"prov:label": label(node), "yima:id": node["id"]}
        for key in ("namespace", "resource"):
            if node.get(key):
                attrs[f"yima:{key}"] = node[key]
        if node["type"] == "dataset":
            doc["entity"][_qname(node["id"])] = {**attrs, "prov:type": "yima:Dataset"}
        elif node["type"] == "field":
            field_attrs = {"yima:dataset": node["dataset"], "yima:field": node["field"]}
            doc["entity"][_qname(node["id"])] = {**attrs, **field_attrs, "prov:type": "yima:Field"}
        elif node["type"] == "job":
            doc["activity"][_qname(node["id"])] = {**attrs, "prov:type": "yima:Job"}
        else:
            doc["agent"][_qname(node["id"])] = {**attrs, "prov:type": "prov:Organization"}
    for code in sorted({n["system"] for n in nodes if n.get("system")}):
        sid = f"system:{code}"
        doc["agent"].setdefault(
            _qname(sid), {"prov:label": code, "yima:id": sid, "prov:type": "prov:Organization"}
        )


def _responsibility(doc: dict, nodes: list[dict]) -> None:
    """A dataset is attributed to its system; a job is associated with its system."""
    for node in nodes:
        if not node.get("system"):
            continue
        agent = _qname(f"system:{node['system']}")
        if node["type"] == "dataset":
            _add(doc["wasAttributedTo"], "a", {"prov:entity": _qname(node["id"]), "prov:agent": agent})
        elif node["type"] == "job":
            _add(doc["wasAssociatedWith"], "w", {"prov:activity": _qname(node["id"]), "prov:agent": agent})


def _relations(doc: dict, nodes: list[dict], edges: list[dict]) -> tuple[dict, dict]:
    """used / wasGeneratedBy / wasDerivedFrom per edge; returns each job's inputs and outputs."""
    types = {n["id"]: n["type"] for n in nodes}
    inputs: dict[str, list[str]] = {}
    outputs: dict[str, list[str]] = {}
    for edge in edges:
        s, t, kind = edge["source"], edge["target"], edge["kind"]
        extra = {}
        if edge.get("valid_from"):
            extra["yima:validFrom"] = edge["valid_from"]
        if edge.get("valid_to"):
            extra["yima:validTo"] = edge["valid_to"]
        if kind == "input" and types.get(t) == "job":
            _add(doc["used"], "u", {"prov:activity": _qname(t), "prov:entity": _qname(s), **extra})
            inputs.setdefault(t, []).append(s)
        elif kind == "output" and types.get(s) == "job":
            _add(doc["wasGeneratedBy"], "g", {"prov:entity": _qname(t), "prov:activity": _qname(s), **extra})
            outputs.setdefault(s, []).append(t)
        elif kind == "column":
            _column_relation(doc, edge, extra)
        elif kind == "field":  # a dataset standing for its fields: they are its members
            _add(doc["hadMember"], "m", {"prov:collection": _qname(s), "prov:entity": _qname(t)})
        elif kind in ("flow", "feeds"):  # feeds, system level: one system's data feeds another's
            derived = {"prov:generatedEntity": _qname(t), "prov:usedEntity": _qname(s)}
            _add(doc["wasDerivedFrom"], "d", {**derived, **extra} if kind == "flow" else derived)
    return inputs, outputs


def _column_relation(doc: dict, edge: dict, extra: dict) -> None:
    """A column edge: the target field derives from the source field (a dataset-wide entry: the
    dataset is influenced by it), with the transformation as ``yima:`` attributes."""
    trans = edge.get("transformation") or {}
    for key in ("type", "subtype", "description"):
        if trans.get(key):
            extra[f"yima:transformation{key.capitalize()}"] = trans[key]
    if trans.get("masking"):
        extra["yima:masking"] = True
    s, t = _qname(edge["source"]), _qname(edge["target"])
    if edge.get("scope") == "dataset":
        _add(doc["wasInfluencedBy"], "i", {"prov:influencee": t, "prov:influencer": s, **extra})
    else:
        _add(doc["wasDerivedFrom"], "d", {"prov:generatedEntity": t, "prov:usedEntity": s, **extra})


def _job_derivations(doc: dict, inputs: dict, outputs: dict) -> None:
    """Each output of a job derives from each of its inputs, through the job."""
    for job in sorted(set(inputs) & set(outputs)):
        for out in outputs[job]:
            for src in inputs[job]:
                _add(
                    doc["wasDerivedFrom"],
                    "d",
                    {
                        "prov:generatedEntity": _qname(out),
                        "prov:usedEntity": _qname(src),
                        "prov:activity": _qname(job),
                    },
                )


def _as_influences(doc: dict) -> dict:
    """System level: systems are agents, so their derivations become influences."""
    return {
        key.replace("_:d", "_:i"): {
            "prov:influencee": rel["prov:generatedEntity"],
            "prov:influencer": rel["prov:usedEntity"],
        }
        for key, rel in doc["wasDerivedFrom"].items()
    }


def render(nodes: list[dict], edges: list[dict], as_of: str, query: dict) -> bytes:
    """The PROV-JSON document of sorted ``nodes`` and ``edges``; ``as_of`` and the query ride on a
    ``yima:export`` entity (PROV-JSON has no header)."""
    parts = {name: {} for name in _PARTS}
    _elements(parts, nodes)
    _responsibility(parts, nodes)
    _job_derivations(parts, *_relations(parts, nodes, edges))
    doc: dict = {"prefix": dict(PREFIXES) | (FIELD_PREFIX if query.get("level") == "column" else {})}
    if query.get("level") == "system":
        doc["wasInfluencedBy"] = _as_influences(parts)
        parts["wasDerivedFrom"] = {}
    doc.update({name: part for name, part in parts.items() if part})
    doc["entity"] = parts["entity"]
    doc["entity"]["yima:export"] = {
        "prov:type": "yima:LineageExport",
        "yima:asOf": as_of,
        "yima:query": query_text(query),
    }
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
