"""``/api/v1/audit``: the chain's entries, and a verification of chain and current state."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from registry import audit
from registry.audit import AuditEntry
from registry.paging import PageArgsSchema
from web.api.common import page_schema
from web.context import session

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The tamper-evident audit chain")


class AuditEntrySchema(Schema):
    seq = fields.Integer()
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_key = fields.String()
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()
    # review: present (and hashed) only when set, so older entries keep their form and their hashes
    organization = fields.String(
        metadata={"description": "the organization the actor acted for (when it had one)"}
    )
    request = fields.Integer(metadata={"description": "the change request whose approval made this change"})


class AuditQueryArgsSchema(PageArgsSchema):
    entity_type = fields.String()
    entity_key = fields.String()
    actor = fields.String()
    action = fields.String()
    # a seq is a BIGINT: anything outside it is a 422, not a driver overflow
    after_seq = fields.Integer(validate=validate.Range(min=0, max=2**63 - 1))
    organization = fields.String()
    request = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))


class VerifySchema(Schema):
    ok = fields.Boolean()
    count = fields.Integer()
    head = fields.String(allow_none=True)
    first_bad_seq = fields.Integer(allow_none=True)
    problems = fields.List(fields.String())


@blp.route("")
class AuditEntries(MethodView):
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, page_schema(AuditEntrySchema, "AuditPage"))
    def get(self, args):
        """Entries in chain order (by ``seq``), filtered by entity, actor, action or ``after_seq``."""
        return audit.list_entries(session(), **args).envelope(AuditEntry.to_dict)


@blp.route("/verify")
class AuditVerify(MethodView):
    @blp.response(200, VerifySchema)
    def get(self):
        """Re-compute every hash and compare each audited object's current state with its last entry."""
        return audit.verify(session()).to_dict()
