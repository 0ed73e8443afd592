"""``/api/v1/organizations``: the bureau and its participating units."""

from flask import request
from flask.views import MethodView
from flask_smorest import Blueprint

from catalog import organizations as service
from catalog.schemas import OrganizationQueryArgsSchema, OrganizationSchema, OrganizationUpdateSchema
from web.api.common import page_schema, with_etag
from web.context import actor, db, needs, session

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/api/v1/organizations",
    description="Organizations (建设/施工/监理/第三方)",
)


@blp.route("")
class Organizations(MethodView):
    @blp.arguments(OrganizationQueryArgsSchema, location="query")
    @blp.response(200, page_schema(OrganizationSchema, "OrganizationPage"))
    def get(self, args):
        """List organizations, filtered by ``kind`` or a substring ``q`` of code or name."""
        return service.list_(session(), **args).envelope(lambda o: o.to_dict())

    @needs("steward")
    @blp.arguments(OrganizationSchema)
    @blp.response(201, OrganizationSchema)
    def post(self, values):
        """Create an organization (role steward)."""
        with db().writer() as s:
            return with_etag(service.create(s, values, actor=actor()).to_dict(), 201)


@blp.route("/<code>")
class OrganizationItem(MethodView):
    @blp.response(200, OrganizationSchema)
    def get(self, code):
        """One organization, with its ETag."""
        return with_etag(service.get(session(), code).to_dict())

    @needs("steward")
    @blp.arguments(OrganizationSchema)
    @blp.response(200, OrganizationSchema)
    def put(self, values, code):
        """Replace an organization (role steward); send ``If-Match`` to avoid overwriting someone's change."""
        with db().writer() as s:
            org = service.update(
                s, code, values, actor=actor(), if_match=request.headers.get("If-Match"), replace=True
            )
            return with_etag(org.to_dict())

    @needs("steward")
    @blp.arguments(OrganizationUpdateSchema)
    @blp.response(200, OrganizationSchema)
    def patch(self, values, code):
        """Change some fields of an organization (role steward); ``If-Match`` as for PUT."""
        with db().writer() as s:
            org = service.update(s, code, values, actor=actor(), if_match=request.headers.get("If-Match"))
            return with_etag(org.to_dict())

    @needs("steward")
    @blp.response(204)
    def delete(self, code):
        """Delete an organization nothing refers to (role steward)."""
        with db().writer() as s:
            service.delete(s, code, actor=actor(), if_match=request.headers.get("If-Match"))
