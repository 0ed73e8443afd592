"""What the export formats share: a node's label and the query written into every file."""

from __future__ import annotations

import json

NODE_ATTRS = ("type", "name", "namespace", "system", "resource")
EDGE_ATTRS = ("kind", "valid_from", "valid_to", "datasets")


def label(node: dict) -> str:
    return node.get("name") or node["id"]


def level_of(query: dict) -> str:
    return query.get("level") or "dataset"


def query_text(query: dict) -> str:
    """The query as one line of JSON (sorted keys: the same query, the same bytes)."""
    return json.dumps(query, ensure_ascii=False, sort_keys=True)
