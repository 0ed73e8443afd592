"""Marshmallow schemas of webhooks, their delivery log and the change feed (requests and responses)."""

from marshmallow import Schema, fields, validate

from registry.paging import PageArgsSchema
from webhooks.events import MAX_LIMIT
from webhooks.models import STATUSES, URL_LENGTH

#: the longest a change-feed request may wait for something new (seconds)
MAX_WAIT = 30

_URL = {"description": "http or https; private and loopback addresses only if YIMA_WEBHOOK_ALLOW lists them"}
_EVENTS = {
    "description": "patterns over {entity_type}.{action}, '*' for any text: 'resource.*', 'release.publish', '*'"
}


class WebhookCreateSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(1, URL_LENGTH), metadata=_URL)
    events = fields.List(fields.String(), required=True, metadata=_EVENTS)
    description = fields.String(allow_none=True, validate=validate.Length(max=500))


class WebhookUpdateSchema(Schema):
    """PATCH: any of the fields; ``enabled: true`` re-enables (resuming at the cursor), ``rotate_secret``
    answers with a new secret (the old one keeps signing for 24 h), ``skip_backlog`` moves the cursor to now."""

    url = fields.String(validate=validate.Length(1, URL_LENGTH), metadata=_URL)
    events = fields.List(fields.String(), metadata=_EVENTS)
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    enabled = fields.Boolean()
    rotate_secret = fields.Boolean()
    skip_backlog = fields.Boolean()


class WebhookSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(allow_none=True)
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    disabled_at = fields.String(allow_none=True)
    secret_version = fields.Integer()
    cursor_seq = fields.Integer(metadata={"description": "the last audit seq handled"})
    failing_since = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    created_at = fields.String()
    created_by = fields.String()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "whsec_…: shown in this answer only"})


class WebhookQueryArgsSchema(PageArgsSchema):
    enabled = fields.Boolean()


class DeliverySchema(Schema):
    id = fields.Integer()
    webhook_id = fields.Integer()
    seq = fields.Integer(
        allow_none=True, metadata={"description": "the audit entry sent (null: a test event)"}
    )
    message_id = fields.String(metadata={"description": "the webhook-id header, the same on every retry"})
    type = fields.String()
    status = fields.String(metadata={"description": " | ".join(STATUSES)})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    latency_ms = fields.Float(allow_none=True)
    created_at = fields.String()
    last_attempt_at = fields.String(allow_none=True)
    next_attempt_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)


class DeliveryQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))


class ChangesQueryArgsSchema(Schema):
    after_seq = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    types = fields.String(
        metadata={"description": "comma-separated patterns, e.g. resource.*,release.publish"}
    )
    wait = fields.Float(
        load_default=0,
        validate=validate.Range(min=0, max=MAX_WAIT),
        metadata={"description": f"seconds (≤ {MAX_WAIT}) to wait for a change when there is none yet"},
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


class ChangeSchema(Schema):
    seq = fields.Integer()
    type = fields.String()
    timestamp = fields.String()
    data = fields.Raw()


class ChangesSchema(Schema):
    items = fields.List(fields.Nested(ChangeSchema))
    next_seq = fields.Integer(metadata={"description": "send as after_seq next time"})
    head_seq = fields.Integer(metadata={"description": "the newest seq when this answer was read"})
