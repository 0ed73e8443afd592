"""``GET /api/v1/health``: is the server up, which database, which schema revision, the audit head."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

import migrations
from registry import audit
from web.context import db, session

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Liveness and version")


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
    revision = fields.String(allow_none=True)
    audit_head = fields.String(allow_none=True)


@blp.route("")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Server status, database kind, Alembic revision and the audit chain's head hash."""
        s = session()
        return {
            "status": "ok",
            "database": db().dialect,
            "revision": migrations.current_revision(s.connection()),
            "audit_head": audit.head(s),
        }
