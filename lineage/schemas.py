"""Lineage schemas: graph query arguments, declared flows, and the graph document's nodes and edges."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from lineage.export.formats import FORMATS
from lineage.ids import DIRECTIONS, GRAPH_LEVELS, LEVELS
from registry.paging import PageArgsSchema, PageEnvelopeSchema

NODE_HELP = (
    "dataset:{namespace}:{name}, job:{namespace}:{name}, system:{code} or (level=column, impact) "
    "datasetField:{namespace}:{name}:{field}"
)


def _as_of():
    return fields.String(
        metadata={
            "description": "ISO 8601 date or date-time (UTC unless it says otherwise; a date alone is "
            "00:00 UTC that day); default now"
        }
    )


def _level(levels=LEVELS):
    return fields.String(load_default="dataset", validate=validate.OneOf(levels))


class GraphQueryArgsSchema(Schema):
    node = fields.String(metadata={"description": f"{NODE_HELP}; none: the whole graph"})
    direction = fields.String(load_default="both", validate=validate.OneOf(list(DIRECTIONS)))
    depth = fields.Integer(validate=validate.Range(min=0), metadata={"description": "edges; none: unbounded"})
    level = _level(GRAPH_LEVELS)
    as_of = _as_of()


class ExportQueryArgsSchema(GraphQueryArgsSchema):
    format = fields.String(required=True, validate=validate.OneOf(list(FORMATS)))


class NodeQueryArgsSchema(Schema):
    node = fields.String(required=True, metadata={"description": NODE_HELP})
    as_of = _as_of()


class ImpactFieldsQueryArgsSchema(PageArgsSchema):
    """``/impact/fields``: a page of a field's impact's ``fields``."""

    node = fields.String(required=True, metadata={"description": "a field id: datasetField:NS:NAME:FIELD"})
    as_of = _as_of()


class PathQueryArgsSchema(Schema):
    source = fields.String(required=True)
    target = fields.String(required=True)
    level = _level()
    as_of = _as_of()


class LevelQueryArgsSchema(PageArgsSchema):
    level = _level()
    as_of = _as_of()


class UncataloguedQueryArgsSchema(PageArgsSchema):
    as_of = _as_of()


class EventQueryArgsSchema(PageArgsSchema):
    job = fields.String(metadata={"description": "job:{namespace}:{name}"})


class FlowSchema(Schema):
    id = fields.Integer(dump_only=True)
    source = fields.String(required=True, metadata={"description": "dataset:{namespace}:{name}"})
    target = fields.String(required=True, metadata={"description": "dataset:{namespace}:{name}"})
    job = fields.String(allow_none=True, metadata={"description": "job:{namespace}:{name} (optional)"})
    description = fields.String(allow_none=True)
    valid_from = fields.String(allow_none=True, metadata={"description": "ISO 8601; default now"})
    valid_to = fields.String(allow_none=True, metadata={"description": "ISO 8601; default open"})
    columns = fields.Raw(
        allow_none=True,
        metadata={
            "description": "column mapping: [{source: field of source, target: field of target, "
            "transformation?: {type, subtype, description, masking}}] (default DIRECT/IDENTITY)"
        },
    )
    created_by = fields.String(dump_only=True)


class FlowQueryArgsSchema(PageArgsSchema):
    active = fields.Boolean(load_default=False, metadata={"description": "only flows not ended"})


class EndFlowQueryArgsSchema(Schema):
    until = fields.String(metadata={"description": "ISO 8601; default now"})


class NodeSchema(Schema):
    id = fields.String()
    type = fields.String()
    name = fields.String()
    system = fields.String(allow_none=True)
    resource = fields.String(allow_none=True)
    namespace = fields.String()
    dataset = fields.String(metadata={"description": "level=column: the field's dataset id"})
    field = fields.String(metadata={"description": "level=column: the field's name"})
    dataset_name = fields.String(metadata={"description": "level=column: the field's dataset name"})
    parent = fields.String(
        allow_none=True, metadata={"description": "a job's parent job (the OpenLineage ``parent`` run facet)"}
    )


class EdgeSchema(Schema):
    source = fields.String()
    target = fields.String()
    kind = fields.String()
    valid_from = fields.String(allow_none=True)
    valid_to = fields.String(allow_none=True)
    datasets = fields.Integer()
    transformation = fields.Dict(
        allow_none=True,
        metadata={"description": "level=column: {type: DIRECT|INDIRECT, subtype, description, masking}"},
    )
    transformations = fields.List(fields.Dict(), metadata={"description": "level=column: all of them"})
    scope = fields.String(metadata={"description": "level=column: field, or dataset (a dataset-wide entry)"})


class _LevelPageSchema(PageEnvelopeSchema):
    as_of = fields.String()
    level = fields.String()


class OrphanPageSchema(_LevelPageSchema):
    items = fields.List(fields.Nested(NodeSchema))


class CyclePageSchema(_LevelPageSchema):
    items = fields.List(fields.List(fields.String()), metadata={"description": "each cycle's node ids"})


class GraphSchema(Schema):
    as_of = fields.String()
    level = fields.String()
    audit_head = fields.String(allow_none=True)
    nodes = fields.List(fields.Nested(NodeSchema))
    edges = fields.List(fields.Nested(EdgeSchema))


class DriftQueryArgsSchema(Schema):
    resource = fields.String(required=True, metadata={"description": "a catalog resource's code"})


class SqlLineageSchema(Schema):
    sql = fields.String(required=True, metadata={"description": "one statement or a script"})
    dialect = fields.String(
        required=True,
        metadata={
            "description": "sqlglot's dialect names (oracle, mysql, postgres, tsql, hive, spark, …) plus "
            "dm/dameng (read as Oracle), kingbase (PostgreSQL), gbase and oceanbase (MySQL)"
        },
    )
    namespace = fields.String(required=True, metadata={"description": "the datasets' OpenLineage namespace"})
    job = fields.String(
        allow_none=True, metadata={"description": "job:NS:NAME (or NAME); none: one job per written dataset"}
    )
    default_schema = fields.String(
        allow_none=True, metadata={"description": "prefixed to unqualified tables"}
    )
    record = fields.Boolean(load_default=True, metadata={"description": "false: a preview, nothing recorded"})
