"""``/api/v1/systems``, ``/api/v1/resources`` (search, revisions), ``/api/v1/validate/records``, ``/api/v1/catalog``."""

import orjson
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from catalog import categories, records, resources, revisions, search, systems
from catalog.exchange import dcat
from catalog.schemas import (
    CategorySchema,
    RecordsQueryArgsSchema,
    RecordsRequestSchema,
    RecordsResultSchema,
    ResourcePageSchema,
    ResourceQueryArgsSchema,
    ResourceSchema,
    ResourceUpdateSchema,
    RevisionArgsSchema,
    RevisionDetailSchema,
    RevisionSchema,
    SystemQueryArgsSchema,
    SystemSchema,
    SystemUpdateSchema,
)
from registry.errors import Invalid
from web.api.common import PageArgsSchema, accepts, page_schema, with_etag
from web.context import actor, config, db, needs, session

systems_blp = Blueprint(
    "systems", __name__, url_prefix="/api/v1/systems", description="Information systems (信息系统)"
)
resources_blp = Blueprint(
    "resources",
    __name__,
    url_prefix="/api/v1/resources",
    description="Data resources (政务信息资源): search, CRUD, revisions",
)
validation = Blueprint(
    "validate_records",
    __name__,
    url_prefix="/api/v1/validate",
    description="Validate records against a resource",
)
catalog = Blueprint(
    "catalog", __name__, url_prefix="/api/v1/catalog", description="The catalog as a whole: DCAT, categories"
)


def _if_match() -> str | None:
    return request.headers.get("If-Match")


# --- systems -------------------------------------------------------------------------------


@systems_blp.route("")
class Systems(MethodView):
    @systems_blp.arguments(SystemQueryArgsSchema, location="query")
    @systems_blp.response(200, page_schema(SystemSchema, "SystemPage"))
    def get(self, args):
        """List systems, filtered by ``owner`` or a substring ``q`` of code or name."""
        return systems.list_systems(session(), **args).envelope(lambda s: s.to_dict())

    @needs("steward")
    @systems_blp.arguments(SystemSchema)
    @systems_blp.response(201, SystemSchema)
    def post(self, values):
        """Create a system (role steward); ``owner`` is an organization code."""
        with db().writer() as s:
            return with_etag(systems.create_system(s, values, actor=actor()).to_dict(), 201)


@systems_blp.route("/<path:code>")
class SystemItem(MethodView):
    @systems_blp.response(200, SystemSchema)
    def get(self, code):
        """One system, with its ETag."""
        return with_etag(systems.get_system(session(), code).to_dict())

    @needs("steward")
    @systems_blp.arguments(SystemSchema)
    @systems_blp.response(200, SystemSchema)
    def put(self, values, code):
        """Replace a system (role steward); send ``If-Match`` to avoid overwriting someone's change."""
        with db().writer() as s:
            system = systems.update_system(s, code, values, actor=actor(), if_match=_if_match(), replace=True)
            return with_etag(system.to_dict())

    @needs("steward")
    @systems_blp.arguments(SystemUpdateSchema)
    @systems_blp.response(200, SystemSchema)
    def patch(self, values, code):
        """Change some fields of a system (role steward); ``If-Match`` as for PUT."""
        with db().writer() as s:
            return with_etag(
                systems.update_system(s, code, values, actor=actor(), if_match=_if_match()).to_dict()
            )

    @needs("steward")
    @systems_blp.response(204)
    def delete(self, code):
        """Delete a system that no resource belongs to (role steward)."""
        with db().writer() as s:
            systems.delete_system(s, code, actor=actor(), if_match=_if_match())


# --- resources -----------------------------------------------------------------------------


@resources_blp.route("")
class Resources(MethodView):
    @resources_blp.arguments(ResourceQueryArgsSchema, location="query")
    @resources_blp.response(200, ResourcePageSchema)
    def get(self, args):
        """Search resources: ``q`` finds Chinese substrings and pinyin initials in names, summaries, tags and
        fields; filters narrow the result; ``facets`` counts each filter's values over the whole result."""
        return search.search_resources(session(), args).envelope(lambda r: r.to_dict())

    @needs("steward")
    @resources_blp.arguments(ResourceSchema)
    @resources_blp.response(201, ResourceSchema)
    def post(self, values):
        """Create a resource with its fields (role steward); references are codes and must exist."""
        with db().writer() as s:
            return with_etag(resources.create_resource(s, values, actor=actor()).to_dict(), 201)


@resources_blp.route("/<path:code>")
class ResourceItem(MethodView):
    @resources_blp.response(200, ResourceSchema)
    def get(self, code):
        """One resource with its fields, and its ETag."""
        return with_etag(resources.get_resource(session(), code).to_dict())

    @needs("steward")
    @resources_blp.arguments(ResourceSchema)
    @resources_blp.response(200, ResourceSchema)
    def put(self, values, code):
        """Replace a resource (role steward); a change keeps a new revision. Send ``If-Match`` (412 if stale)."""
        with db().writer() as s:
            resource = resources.update_resource(
                s, code, values, actor=actor(), if_match=_if_match(), replace=True
            )
            return with_etag(resource.to_dict())

    @needs("steward")
    @resources_blp.arguments(ResourceUpdateSchema)
    @resources_blp.response(200, ResourceSchema)
    def patch(self, values, code):
        """Change some fields of a resource (role steward); ``fields`` replaces the whole list. ``If-Match`` as for PUT."""
        with db().writer() as s:
            return with_etag(
                resources.update_resource(s, code, values, actor=actor(), if_match=_if_match()).to_dict()
            )

    @needs("steward")
    @resources_blp.response(204)
    def delete(self, code):
        """Delete a resource no other resource lists as related (role steward); its revisions are kept."""
        with db().writer() as s:
            resources.delete_resource(s, code, actor=actor(), if_match=_if_match())


@resources_blp.route("/<path:code>/revisions")
class Revisions(MethodView):
    @resources_blp.arguments(PageArgsSchema, location="query")
    @resources_blp.response(200, page_schema(RevisionSchema, "RevisionPage"))
    def get(self, args, code):
        """Every saved version of a resource, newest first, each with its full snapshot."""
        return revisions.list_revisions(session(), code, **args).envelope(revisions.revision_dict)


@resources_blp.route("/<path:code>/revisions/<int:number>")
class RevisionItem(MethodView):
    @resources_blp.arguments(RevisionArgsSchema, location="query")
    @resources_blp.response(200, RevisionDetailSchema)
    def get(self, args, code, number):
        """Revision ``number`` and its diff against the one before it, or against ``?against=m``."""
        return revisions.show_revision(session(), code, number, args.get("against"))


# --- record validation ---------------------------------------------------------------------


@validation.route("/records")
class ValidateRecords(MethodView):
    @accepts("application/json", "text/csv")
    @validation.arguments(RecordsQueryArgsSchema, location="query")
    @validation.response(200, RecordsResultSchema)
    @validation.doc(
        requestBody={
            "required": True,
            "content": {
                "application/json": {"schema": RecordsRequestSchema},
                "text/csv": {"schema": {"type": "string"}, "example": "id,gtin,qty\n1,6901234567892,3\n"},
            },
        }
    )
    def post(self, args):
        """Validate records against a resource's fields: JSON ``{"resource", "records"}``, or a CSV body
        (``Content-Type: text/csv``) with ``?resource=CODE``. Error types: required, type, constraint,
        unique, code, unknown_field. Open to every reader."""
        limit = config().max_batch
        if request.mimetype == "text/csv":
            code = args.get("resource")
            if not code:
                raise Invalid("a CSV body needs ?resource=CODE", {"resource": ["required"]})
            result = records.validate_records(session(), code, csv=request.get_data(), max_rows=limit)
        else:
            try:
                body = orjson.loads(request.get_data(cache=False))
            except orjson.JSONDecodeError as exc:
                raise Invalid(f"the body is not valid JSON: {exc}") from exc
            errors = (
                RecordsRequestSchema().validate(body)
                if isinstance(body, dict)
                else {"_schema": ["an object"]}
            )
            if errors:
                raise Invalid("the request has invalid values", {"json": errors})
            result = records.validate_records(
                session(), body["resource"], records=body["records"], max_rows=limit
            )
        # 100,000 results: serialised in one pass, never row by row through marshmallow
        return Response(orjson.dumps(result), mimetype="application/json")


# --- the catalog as a whole ----------------------------------------------------------------


@catalog.route("/dcat")
class Dcat(MethodView):
    @catalog.response(200, {"type": "object"}, content_type="application/ld+json")
    def get(self):
        """The published catalog as DCAT 3 JSON-LD (DCAT-AP mandatory properties; the context is inline)."""
        base = request.host_url.rstrip("/")
        body = dcat.dcat_jsonld(session(), base_url=base)
        return Response(dcat.dumps_jsonld(body), mimetype="application/ld+json")


@catalog.route("/categories")
class Categories(MethodView):
    @catalog.response(200, page_schema(CategorySchema, "CategoryPage"))
    def get(self):
        """The catalog's category tree (类/项/目) that ``category`` codes refer to, in the list envelope (one page)."""
        items = categories.as_list()
        return {"items": items, "total": len(items), "page": 1, "per_page": max(len(items), 1)}


blueprints = [systems_blp, resources_blp, validation, catalog]
