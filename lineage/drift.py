"""Schema drift: the fields a dataset's newest ``schema`` facet reports, beside the fields its catalog
resource declares — what a steward has to add to the catalog, or ask the data's owners about."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.resources import get_resource
from lineage.ids import dataset_id
from lineage.models import LineageNode
from lineage.timeline import timeline

#: a data type (SQL, Spark, Hive, Avro…) → the catalog's field type (Table Schema), by its leading word
_FAMILIES = (
    (r"(tiny|small|medium|big)?int(eger)?\d*|long|short|byte|serial|bigserial", "integer"),
    (r"decimal|numeric|number|double( precision)?|float\d*|real|money", "number"),
    (r"bool(ean)?|bit", "boolean"),
    (r"date", "date"),
    (r"(timestamp|datetime)\w*", "datetime"),
    (r"(n|var|nvar)?char(acter)?( varying)?|varchar2|nvarchar2|string|text|clob|nclob|uuid|json", "string"),
)


def catalog_type(data_type: str | None) -> str | None:
    """The catalog field type a data type corresponds to (``varchar(20)`` → string, ``bigint`` →
    integer), or None when it is not one of the known families."""
    if not isinstance(data_type, str):
        return None
    word = re.sub(r"\(.*$", "", data_type.strip().lower()).strip()
    for pattern, family in _FAMILIES:
        if re.fullmatch(pattern, word):
            return family
    return None


def schema_drift(session: Session, code: str) -> dict:
    """Compare the resource's fields with its dataset's newest ``schema`` facet. Raises NotFound.

    ``status``: ``no_lineage`` (the resource names no dataset), ``not_seen`` (lineage has not seen
    it), ``no_schema`` (seen, but no event gave its fields), ``same`` or ``drift``. Names match
    case-insensitively (Hive and Spark lowercase them); a type differs only when the data's type
    maps to a catalog type (``catalog_type``) other than the declared one.
    """
    resource = get_resource(session, code)
    catalog_fields = [{"name": f.name, "type": f.type} for f in resource.fields]
    out = {
        "resource": code,
        "node": None,
        "status": "no_lineage",
        "catalog_fields": len(catalog_fields),
        "data_fields": None,
        "in_data_not_catalog": [],
        "in_catalog_not_data": [],
        "type_differs": [],
    }
    if not (resource.lineage_namespace and resource.lineage_name):
        return out
    node = dataset_id(resource.lineage_namespace, resource.lineage_name)
    node = timeline(session).aliases.get(node, node)  # the one node of its identifiers (symlinks)
    out["node"] = node
    facets = session.scalar(select(LineageNode.facets).where(LineageNode.node_id == node))
    if facets is None and not session.scalar(select(LineageNode.id).where(LineageNode.node_id == node)):
        out["status"] = "not_seen"
        return out
    schema = (facets or {}).get("schema")
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list):
        out["status"] = "no_schema"
        return out
    data_fields = [
        {"name": f["name"], "type": f.get("type") if isinstance(f.get("type"), str) else None}
        for f in fields
        if isinstance(f, dict) and isinstance(f.get("name"), str)
    ]
    out["data_fields"] = len(data_fields)
    in_catalog = {f["name"].lower(): f for f in catalog_fields}
    in_data = {f["name"].lower(): f for f in data_fields}
    out["in_data_not_catalog"] = [f for key, f in in_data.items() if key not in in_catalog]
    out["in_catalog_not_data"] = [f for key, f in in_catalog.items() if key not in in_data]
    for key, declared in in_catalog.items():
        seen = in_data.get(key)
        if seen is None:
            continue
        family = catalog_type(seen["type"])
        if family is not None and family != declared["type"]:
            out["type_differs"].append(
                {
                    "name": declared["name"],
                    "catalog_type": declared["type"],
                    "data_type": seen["type"],
                    "data_type_as_catalog": family,
                }
            )
    drifted = out["in_data_not_catalog"] or out["in_catalog_not_data"] or out["type_differs"]
    out["status"] = "drift" if drifted else "same"
    return out
