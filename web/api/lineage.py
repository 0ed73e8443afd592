"""``/api/v1/lineage``: OpenLineage intake, declared flows, graph queries as of any date, audit exports."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from lineage import drift, events, flows, intake, queries
from lineage.columns import queries as column_queries
from lineage.export.bundle import audited_manifest, export, zipped
from lineage.export.formats import FORMATS
from lineage.schemas import (
    CyclePageSchema,
    DriftQueryArgsSchema,
    EndFlowQueryArgsSchema,
    EventQueryArgsSchema,
    ExportQueryArgsSchema,
    FlowQueryArgsSchema,
    FlowSchema,
    GraphQueryArgsSchema,
    GraphSchema,
    ImpactFieldsQueryArgsSchema,
    LevelQueryArgsSchema,
    NodeQueryArgsSchema,
    OrphanPageSchema,
    PathQueryArgsSchema,
    SqlLineageSchema,
    UncataloguedQueryArgsSchema,
)
from lineage.sql.record import lineage_from_sql
from registry.jsonutil import sha256_hex
from registry.paging import page_of
from registry.signed_note import signer_for
from web.api.common import page_schema
from web.context import actor, config, db, needs, session

blp = Blueprint(
    "lineage",
    __name__,
    url_prefix="/api/v1/lineage",
    description="Lineage between systems: OpenLineage events, declared flows, graph queries, exports",
)


#: documentation-only response schemas (a dict is not dumped: the views answer as they always did)
_OBJECT = {"type": "object"}


def _answers(statuses: dict[str, str], schema: dict = _OBJECT):
    """Document the JSON a view answers with (the view's value is returned as it is, never dumped)."""
    content = {"application/json": {"schema": schema}}
    return blp.doc(
        responses={code: {"description": text, "content": content} for code, text in statuses.items()}
    )


def _envelope(item: dict) -> dict:
    """The list envelope, as an OpenAPI schema of its own (documentation only)."""
    count = {"type": "integer"}
    properties = {"items": {"type": "array", "items": item}, "total": count, "page": count, "per_page": count}
    return {"type": "object", "properties": properties}


@blp.route("")
class Intake(MethodView):
    @needs("contributor")
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "OpenLineage event (2-0-2; 1-x and 2-x read as 2-0-2, with warnings)",
                    }
                }
            },
        }
    )
    @blp.response(201)
    @_answers(
        {"201": "what the event changed in the graph, and any warnings", "200": "an event already received"}
    )
    def post(self):
        """Receive one OpenLineage RunEvent, DatasetEvent or JobEvent (role contributor).

        As the ``openlineage-python`` HTTP transport sends it (``url`` = this server, ``endpoint`` =
        ``api/v1/lineage``, ``auth.type: api_key``; gzip compression welcome). 201 with what changed in
        the graph and ``warnings`` (what was assumed: a 1-x or other 2-x spec, no ``schemaURL``, an
        ``eventTime`` without a zone); 200 for an event already received; 422 naming what is wrong
        (no run id, a run id that is not a UUID, no producer…), with nothing stored.
        """
        with db().writer() as s:
            summary, created = intake.ingest(s, request.get_data(cache=False), actor=actor())
        return summary, 201 if created else 200


@blp.route("/sql")
class SqlLineage(MethodView):
    @needs("contributor")
    @blp.arguments(SqlLineageSchema)
    @blp.response(201)
    @_answers(
        {
            "201": "recorded: the job, each statement's inputs, outputs, column edges or error, the events",
            "200": "a preview (record false), or nothing could be recorded",
        }
    )
    def post(self, values):
        """Lineage from SQL (role contributor): per statement, the datasets it reads and writes and which
        fields feed each written field, how (OpenLineage transformations).

        Tables that are catalogued resources in ``namespace`` are read with their field lists (so
        ``SELECT *`` expands). With ``record`` (default) the lineage is sent through intake as
        OpenLineage events: audited, in ``as_of`` and in exports like any other. A statement that
        cannot be parsed has ``error`` set and records nothing; the others still do.
        """
        with db().writer() as s:
            result = lineage_from_sql(
                s,
                [(None, values["sql"])],
                dialect=values["dialect"],
                namespace=values["namespace"],
                job=values.get("job"),
                default_schema=values.get("default_schema"),
                record=values["record"],
                actor=actor(),
            )
        return result, 201 if result["events"] else 200


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventQueryArgsSchema, location="query")
    @_answers({"200": "the list envelope"}, _envelope(_OBJECT))
    def get(self, args):
        """Received events, newest event time first (``job`` filters to one job)."""
        return events.list_events(session(), **args).envelope(events.event_dict)


@blp.route("/events/<int:event_id>")
class EventItem(MethodView):
    @_answers({"200": "one received event, with the event as it was sent"})
    def get(self, event_id):
        """One received event, with the event exactly as it was sent."""
        return events.event_dict(events.get_event(session(), event_id), with_body=True)


@blp.route("/flows")
class Flows(MethodView):
    @blp.arguments(FlowQueryArgsSchema, location="query")
    @blp.response(200, page_schema(FlowSchema, "FlowPage"))
    def get(self, args):
        """Declared flows (``active=true``: only those not ended), in the list envelope."""
        page = flows.list_flows(
            session(), active_only=args["active"], page=args["page"], per_page=args["per_page"]
        )
        return page.envelope(flows.flow_dict)

    @needs("contributor")
    @blp.arguments(FlowSchema)
    @blp.response(201, FlowSchema)
    def post(self, values):
        """Declare a flow that emits no events (file drops, database syncs): source → target, through an
        optional job (role contributor)."""
        with db().writer() as s:
            return flows.flow_dict(flows.declare_flow(s, values, actor=actor())), 201


@blp.route("/flows/<int:flow_id>")
class FlowItem(MethodView):
    @blp.response(200, FlowSchema)
    def get(self, flow_id):
        """One declared flow."""
        return flows.flow_dict(flows.get_flow(session(), flow_id))

    @needs("contributor")
    @blp.arguments(EndFlowQueryArgsSchema, location="query")
    @blp.response(204)
    def delete(self, args, flow_id):
        """End a declared flow at ``until`` (default now; role contributor). It stays in earlier ``as_of``."""
        with db().writer() as s:
            flows.end_flow(s, flow_id, actor=actor(), until=args.get("until"))


@blp.route("/graph")
class GraphView(MethodView):
    @blp.arguments(GraphQueryArgsSchema, location="query")
    @blp.response(200, GraphSchema)
    def get(self, args):
        """The graph as it stood at ``as_of``: the whole graph, or a node's upstream/downstream/both
        within ``depth``; dataset or system level."""
        return jsonify(queries.subgraph(session(), **args))  # as is: no per-node schema dump


@blp.route("/impact")
class Impact(MethodView):
    @blp.arguments(NodeQueryArgsSchema, location="query")
    @_answers({"200": "every downstream dataset, job and system with its distance"})
    def get(self, args):
        """Every dataset, job and system downstream of ``node`` as of ``as_of``, with its distance
        (derivation steps); of a field: every field, dataset and system (``/impact/fields`` pages
        the fields)."""
        body = queries.impact_json(session(), args["node"], as_of=args.get("as_of"))
        return Response(body, 200, mimetype="application/json")


_IMPACT_FIELD = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "field": {"type": "string"},
        "dataset": {"type": "string"},
        "system": {"type": "string", "nullable": True},
        "resource": {"type": "string", "nullable": True},
        "distance": {"type": "integer"},
    },
}


@blp.route("/impact/fields")
class ImpactFields(MethodView):
    @blp.arguments(ImpactFieldsQueryArgsSchema, location="query")
    @_answers({"200": "a page of the fields downstream of a field"}, _envelope(_IMPACT_FIELD))
    def get(self, args):
        """A page of the ``fields`` of a field's impact (the same items in the same order, by distance
        then id), in the list envelope: a root field of a large graph reaches hundreds of thousands."""
        body = column_queries.impact_fields_json(
            session(), args["node"], as_of=args.get("as_of"), page=args["page"], per_page=args["per_page"]
        )
        return Response(body, 200, mimetype="application/json")


@blp.route("/path")
class Path(MethodView):
    @blp.arguments(PathQueryArgsSchema, location="query")
    @_answers({"200": "the shortest path's nodes and its length"})
    def get(self, args):
        """The shortest directed path from ``source`` to ``target``; 404 when there is none."""
        return queries.shortest_path(session(), **args)


@blp.route("/cycles")
class Cycles(MethodView):
    @blp.arguments(LevelQueryArgsSchema, location="query")
    @blp.response(200, CyclePageSchema)
    def get(self, args):
        """Directed cycles in the graph as of ``as_of`` (each a list of node ids), in the list envelope."""
        return queries.cycles(session(), **args).envelope()


@blp.route("/orphans")
class Orphans(MethodView):
    @blp.arguments(LevelQueryArgsSchema, location="query")
    @blp.response(200, OrphanPageSchema)
    def get(self, args):
        """Nodes with no edge as of ``as_of``, in the list envelope."""
        return queries.orphans(session(), **args).envelope()


@blp.route("/uncatalogued")
class Uncatalogued(MethodView):
    @blp.arguments(UncataloguedQueryArgsSchema, location="query")
    @_answers({"200": "the list envelope"}, _envelope(_OBJECT))
    def get(self, args):
        """Datasets seen in lineage that no catalog resource describes: the stewards' to-do list."""
        items = queries.uncatalogued(session(), as_of=args.get("as_of"))
        return page_of(items, args["page"], args["per_page"]).envelope()


@blp.route("/node")
class NodeDetail(MethodView):
    @blp.arguments(NodeQueryArgsSchema, location="query")
    @_answers({"200": "the node: system, catalog resource, facets, neighbours"})
    def get(self, args):
        """One dataset or job: system, catalog resource, latest facets (schema, columnLineage), neighbours."""
        return queries.node_detail(session(), args["node"], as_of=args.get("as_of"))


@blp.route("/drift")
class Drift(MethodView):
    @blp.arguments(DriftQueryArgsSchema, location="query")
    @_answers({"200": "the resource's fields beside its dataset's newest schema facet"})
    def get(self, args):
        """Schema drift of a catalog resource: fields its dataset's ``schema`` facet reports that the
        catalog lacks, and the reverse, with their types (``status``: same, drift, no_schema,
        not_seen, no_lineage)."""
        return drift.schema_drift(session(), args["resource"])


def _header(description: str) -> dict:
    return {"description": description, "schema": {"type": "string"}}


_EXPORT_DOC = {
    "description": "the file, with X-Content-SHA256 and X-Audit-Head",
    "content": {
        media.split(";")[0]: {"schema": {"type": "object" if "json" in media else "string"}}
        for _, media in FORMATS.values()
    },
    "headers": {
        "X-Content-SHA256": _header("SHA-256 (hex) of the body"),
        "X-Audit-Head": _header("the audit chain's head the graph was read at"),
    },
}
_SIGNED_EXPORT_DOC = {
    "description": "a zip of lineage.<ext> and manifest.json (with entry, checkpoint, inclusion)",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    "headers": {
        "X-Content-SHA256": _header("SHA-256 (hex) of the zip"),
        "X-Audit-Head": _header("the audit chain's head the graph was read at"),
        "X-Audit-Entry": _header("seq of the export's own audit entry"),
        "X-Audit-Tree-Size": _header("size of the signed checkpoint in the manifest"),
        "Location": _header("/api/v1/audit/{seq}: the entry with its inclusion proof"),
        "Link": _header('</api/v1/audit/proof?seq=S&size=N>; rel="inclusion-proof"'),
    },
}


@blp.route("/export")
class Export(MethodView):
    @blp.arguments(ExportQueryArgsSchema, location="query")
    @blp.doc(responses={"200": _EXPORT_DOC})
    def get(self, args):
        """The graph query's answer as a file: graphml, json (node-link), prov (PROV-JSON), csv or dot.

        Headers: ``X-Content-SHA256`` (of the body) and ``X-Audit-Head`` (the audit chain's head when
        it was made). The same ``as_of`` gives the same bytes. A read: nothing is recorded; POST the
        same query for an export that is audited and carries its signed proof.
        """
        made = export(session(), args.pop("format"), **args)
        return Response(
            made.body,
            200,
            {
                "Content-Type": made.media_type,
                "Content-Disposition": f'attachment; filename="{made.file_name}"',
                "X-Content-SHA256": made.sha256,
                "X-Audit-Head": made.audit_head,
                "X-Lineage-Nodes": str(made.nodes),
                "X-Lineage-Edges": str(made.edges),
            },
        )

    @needs("viewer")
    @blp.arguments(ExportQueryArgsSchema, location="query")
    @blp.doc(responses={"201": _SIGNED_EXPORT_DOC})
    def post(self, args):
        """The same export, audited and signed (any token; docs/audit.md): a zip of the file and its
        ``manifest.json``, exactly the two files ``yima lineage export`` writes.

        The export is recorded as an audit entry (action ``export``), and the manifest carries that
        entry, a signed checkpoint whose size includes it and its inclusion proof. ``yima verify-export
        ZIP`` and ``yima_verify.py export ZIP`` check it. Same query parameters as GET; no body.
        """
        made = export(session(), args.pop("format"), **args)
        signed = audited_manifest(db(), made, actor=actor(), signer=signer_for(config()))
        body = zipped(made, signed)
        seq, size = signed["entry"]["seq"], signed["inclusion"]["tree_size"]
        return Response(
            body,
            201,
            {
                "Content-Type": "application/zip",
                "Content-Disposition": f'attachment; filename="lineage-{made.format}-{seq}.zip"',
                "Location": f"/api/v1/audit/{seq}",
                "Link": f'</api/v1/audit/proof?seq={seq}&size={size}>; rel="inclusion-proof"',
                "X-Content-SHA256": sha256_hex(body),
                "X-Audit-Head": made.audit_head,
                "X-Audit-Entry": str(seq),
                "X-Audit-Tree-Size": str(size),
                "X-Lineage-Nodes": str(made.nodes),
                "X-Lineage-Edges": str(made.edges),
            },
        )
