"""``GET /api/v1/health``: is the server up, which database, which schema revision, the audit head.

Load balancers call it every few seconds, so it is the cheapest call there is: one pooled connection
and one statement of two scalar subqueries (no ORM session, no Alembic context), still read fresh
every time so that a ``yima db upgrade`` or a new audit entry shows at once.
"""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import column, select, table

from registry.audit import AuditEntry
from web.context import db

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Liveness and version")

_ALEMBIC = table("alembic_version", column("version_num"))
_AUDIT = AuditEntry.__table__
_PROBE = select(
    select(_ALEMBIC.c.version_num).limit(1).scalar_subquery(),
    select(_AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(1).scalar_subquery(),
)


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
        database = db()
        with database.engine.connect() as conn:
            revision, head = conn.execute(_PROBE).one()
        return {"status": "ok", "database": database.dialect, "revision": revision, "audit_head": head}
