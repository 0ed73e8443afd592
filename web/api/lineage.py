"""``/api/v1/lineage``: OpenLineage intake, declared flows, graph queries as of any date, audit exports."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from catalog import lineage as service
from catalog import lineage_export
from registry.audit import GENESIS
from registry.jsonutil import sha256_hex
from registry.paging import MAX_PER_PAGE
from web.api.common import PageArgsSchema, page_schema
from web.context import actor, db, needs, session

blp = Blueprint(
    "lineage",
    __name__,
    url_prefix="/api/v1/lineage",
    description="Lineage between systems: OpenLineage events, declared flows, graph queries, exports",
)

NODE_HELP = "dataset:{namespace}:{name}, job:{namespace}:{name} or system:{code}"
AS_OF = fields.String(
    metadata={"description": "ISO 8601 date or date-time (UTC unless it says otherwise); default now"}
)


class GraphArgs(Schema):
    node = fields.String(metadata={"description": f"{NODE_HELP}; none: the whole graph"})
    direction = fields.String(
        load_default="both",
        validate=validate.OneOf(["upstream", "downstream", "both", "up", "down"]),
    )
    depth = fields.Integer(validate=validate.Range(min=0), metadata={"description": "edges; none: unbounded"})
    level = fields.String(load_default="dataset", validate=validate.OneOf(service.LEVELS))
    as_of = AS_OF


class ExportArgs(GraphArgs):
    format = fields.String(required=True, validate=validate.OneOf(list(lineage_export.FORMATS)))


class NodeArgs(Schema):
    node = fields.String(required=True, metadata={"description": NODE_HELP})
    as_of = AS_OF


class PathArgs(Schema):
    source = fields.String(required=True)
    target = fields.String(required=True)
    level = fields.String(load_default="dataset", validate=validate.OneOf(service.LEVELS))
    as_of = AS_OF


class LevelArgs(Schema):
    level = fields.String(load_default="dataset", validate=validate.OneOf(service.LEVELS))
    as_of = AS_OF


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class UncataloguedArgs(PageArgs):
    as_of = AS_OF


class EventArgs(PageArgs):
    job = fields.String(metadata={"description": "job:{namespace}:{name}"})


class FlowSchema(Schema):
    id = fields.Integer(dump_only=True)
    source = fields.String(required=True, metadata={"description": "dataset:{namespace}:{name}"})
    target = fields.String(required=True, metadata={"description": "dataset:{namespace}:{name}"})
    job = fields.String(allow_none=True, metadata={"description": "job:{namespace}:{name} (optional)"})
    description = fields.String(allow_none=True)
    valid_from = fields.String(allow_none=True, metadata={"description": "ISO 8601; default now"})
    valid_to = fields.String(allow_none=True, metadata={"description": "ISO 8601; default open"})
    created_by = fields.String(dump_only=True)


class FlowListArgs(PageArgsSchema):
    active = fields.Boolean(load_default=False, metadata={"description": "only flows not ended"})


class EndFlowArgs(Schema):
    until = fields.String(metadata={"description": "ISO 8601; default now"})


class NodeSchema(Schema):
    id = fields.String()
    type = fields.String()
    name = fields.String()
    system = fields.String(allow_none=True)
    resource = fields.String(allow_none=True)
    namespace = fields.String()


class EdgeSchema(Schema):
    source = fields.String()
    target = fields.String()
    kind = fields.String()
    valid_from = fields.String(allow_none=True)
    valid_to = fields.String(allow_none=True)
    datasets = fields.Integer()


class GraphSchema(Schema):
    as_of = fields.String()
    level = fields.String()
    audit_head = fields.String(allow_none=True)
    nodes = fields.List(fields.Nested(NodeSchema))
    edges = fields.List(fields.Nested(EdgeSchema))


def _query(args: dict) -> dict:
    return {
        "node": args.get("node"),
        "direction": service.DIRECTIONS.get(args.get("direction") or "both") if args.get("node") else None,
        "depth": args.get("depth"),
        "level": args.get("level") or "dataset",
    }


@blp.route("")
class Intake(MethodView):
    @needs("contributor")
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object", "description": "OpenLineage 2-0-2 event"}}
            },
        }
    )
    @blp.response(201)
    def post(self):
        """Receive one OpenLineage RunEvent, DatasetEvent or JobEvent (role contributor).

        As the ``openlineage-python`` HTTP transport sends it (``url`` = this server, ``endpoint`` =
        ``api/v1/lineage``, ``auth.type: api_key``; gzip compression welcome). 201 with what changed in
        the graph; 200 for an event already received; 422 naming what is wrong, with nothing stored.
        """
        with db().writer() as s:
            summary, created = service.ingest(s, request.get_data(cache=False), actor=actor())
        return summary, 201 if created else 200


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventArgs, location="query")
    def get(self, args):
        """Received events, newest event time first (``job`` filters to one job)."""
        rows, total = service.list_events(session(), **args)
        return {
            "items": [service.event_dict(r) for r in rows],
            "total": total,
            "page": args["page"],
            "per_page": args["per_page"],
        }


@blp.route("/events/<int:event_id>")
class EventItem(MethodView):
    def get(self, event_id):
        """One received event, with the event exactly as it was sent."""
        from registry.errors import NotFound

        row = session().get(service.LineageEvent, event_id)
        if row is None:
            raise NotFound(f"no lineage event with id {event_id}")
        return service.event_dict(row, with_body=True)


@blp.route("/flows")
class Flows(MethodView):
    @blp.arguments(FlowListArgs, location="query")
    @blp.response(200, page_schema(FlowSchema, "FlowPage"))
    def get(self, args):
        """Declared flows (``active=true``: only those not ended), in the list envelope."""
        flows = service.list_flows(
            session(), active_only=args["active"], page=args["page"], per_page=args["per_page"]
        )
        return flows.envelope(service.flow_dict)

    @needs("contributor")
    @blp.arguments(FlowSchema)
    @blp.response(201, FlowSchema)
    def post(self, values):
        """Declare a flow that emits no events (file drops, database syncs): source → target, through an
        optional job (role contributor)."""
        with db().writer() as s:
            return service.flow_dict(service.declare_flow(s, values, actor=actor())), 201


@blp.route("/flows/<int:flow_id>")
class FlowItem(MethodView):
    @blp.response(200, FlowSchema)
    def get(self, flow_id):
        """One declared flow."""
        return service.flow_dict(service.get_flow(session(), flow_id))

    @needs("contributor")
    @blp.arguments(EndFlowArgs, location="query")
    @blp.response(204)
    def delete(self, args, flow_id):
        """End a declared flow at ``until`` (default now; role contributor). It stays in earlier ``as_of``."""
        with db().writer() as s:
            service.end_flow(s, flow_id, actor=actor(), until=args.get("until"))


@blp.route("/graph")
class GraphView(MethodView):
    @blp.arguments(GraphArgs, location="query")
    @blp.response(200, GraphSchema)
    def get(self, args):
        """The graph as it stood at ``as_of``: the whole graph, or a node's upstream/downstream/both
        within ``depth``; dataset or system level."""
        return jsonify(service.subgraph(session(), **args))  # as is: no per-node schema dump


@blp.route("/impact")
class Impact(MethodView):
    @blp.arguments(NodeArgs, location="query")
    def get(self, args):
        """Every dataset, job and system downstream of ``node`` as of ``as_of``, with its distance
        (derivation steps)."""
        body = service.impact_json(session(), args["node"], as_of=args.get("as_of"))
        return Response(body, 200, mimetype="application/json")


@blp.route("/path")
class Path(MethodView):
    @blp.arguments(PathArgs, location="query")
    def get(self, args):
        """The shortest directed path from ``source`` to ``target``; 404 when there is none."""
        return service.shortest_path(session(), **args)


@blp.route("/cycles")
class Cycles(MethodView):
    @blp.arguments(LevelArgs, location="query")
    def get(self, args):
        """Directed cycles in the graph as of ``as_of``."""
        return service.cycles(session(), **args)


@blp.route("/orphans")
class Orphans(MethodView):
    @blp.arguments(LevelArgs, location="query")
    def get(self, args):
        """Nodes with no edge as of ``as_of``."""
        return service.orphans(session(), **args)


@blp.route("/uncatalogued")
class Uncatalogued(MethodView):
    @blp.arguments(UncataloguedArgs, location="query")
    def get(self, args):
        """Datasets seen in lineage that no catalog resource describes: the stewards' to-do list."""
        items = service.uncatalogued(session(), as_of=args.get("as_of"))
        page, per_page = args["page"], args["per_page"]
        return {
            "items": items[(page - 1) * per_page : page * per_page],
            "total": len(items),
            "page": page,
            "per_page": per_page,
        }


@blp.route("/node")
class NodeDetail(MethodView):
    @blp.arguments(NodeArgs, location="query")
    def get(self, args):
        """One dataset or job: system, catalog resource, latest facets (schema, columnLineage), neighbours."""
        return service.node_detail(session(), args["node"], as_of=args.get("as_of"))


@blp.route("/export")
class Export(MethodView):
    @blp.arguments(ExportArgs, location="query")
    @blp.doc(responses={"200": {"description": "the file, with X-Content-SHA256 and X-Audit-Head"}})
    def get(self, args):
        """The graph query's answer as a file: graphml, json (node-link), prov (PROV-JSON), csv or dot.

        Headers: ``X-Content-SHA256`` (of the body) and ``X-Audit-Head`` (the audit chain's head when
        it was made). The same ``as_of`` gives the same bytes.
        """
        fmt = args.pop("format")
        graph = service.subgraph(session(), **args)
        head = graph["audit_head"] or GENESIS
        body = lineage_export.render(fmt, graph, _query(args))
        name = lineage_export.file_name(fmt)
        return Response(
            body,
            200,
            {
                "Content-Type": lineage_export.media_type(fmt),
                "Content-Disposition": f'attachment; filename="{name}"',
                "X-Content-SHA256": sha256_hex(body),
                "X-Audit-Head": head,
                "X-Lineage-Nodes": str(len(graph["nodes"])),
                "X-Lineage-Edges": str(len(graph["edges"])),
            },
        )
