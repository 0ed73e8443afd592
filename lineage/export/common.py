"""What the export formats share: a node's label and the query written into every file."""

from __future__ import annotations

import json

NODE_ATTRS = ("type", "name", "namespace", "system", "resource")
EDGE_ATTRS = ("kind", "valid_from", "valid_to", "datasets")
#: what column-level files carry besides (declared only at that level: other files keep their bytes)
FIELD_ATTRS = ("dataset", "field")
TRANSFORMATION_ATTRS = (
    "transformation_type",
    "transformation_subtype",
    "transformation_description",
    "masking",
)
COLUMN_EDGE_ATTRS = (*TRANSFORMATION_ATTRS, "transformations", "scope")


def label(node: dict) -> str:
    if node.get("type") == "field":
        return f"{node.get('dataset_name') or node.get('dataset')}.{node.get('field')}"
    return node.get("name") or node["id"]


def flat_transformation(edge: dict) -> dict:
    """A column edge's main transformation as flat values (``transformation_type``, …; empty for none)."""
    t = edge.get("transformation") or {}
    return {
        "transformation_type": t.get("type"),
        "transformation_subtype": t.get("subtype"),
        "transformation_description": t.get("description"),
        "masking": None if not t else ("true" if t.get("masking") else "false"),
    }


def level_of(query: dict) -> str:
    return query.get("level") or "dataset"


def query_text(query: dict) -> str:
    """The query as one line of JSON (sorted keys: the same query, the same bytes)."""
    return json.dumps(query, ensure_ascii=False, sort_keys=True)
