"""Marshmallow schemas of change requests (requests and responses); unknown fields are rejected."""

from marshmallow import Schema, fields, validate

from registry.paging import PageArgsSchema, PageEnvelopeSchema
from review.models import KINDS, STATUSES

_TEXT = validate.Length(max=4000)


class RequestCreateSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    scheme = fields.String(allow_none=True, metadata={"description": "code kinds: the scheme (szgws-me…)"})
    release = fields.String(
        allow_none=True, metadata={"description": "code kinds: default the current release"}
    )
    target = fields.String(
        allow_none=True,
        metadata={
            "description": "the code or resource changed (code.update, code.deprecate, resource.update)"
        },
    )
    payload = fields.Dict(
        required=True,
        metadata={
            "description": "the direct write's body: a code (POST …/codes), a code's changes (PATCH), "
            '{"successor"} (deprecate), a resource (POST /resources) or its changes (PATCH); '
            'code.add also takes {"file"?, "rows": [{"code", "name", "parent"?, …}]} (many codes)'
        },
    )
    reason = fields.String(required=True, validate=validate.Length(1, 4000))


class ReviewSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["endorse", "return"]))
    comment = fields.String(allow_none=True, validate=_TEXT, metadata={"description": "required to return"})


class DecideSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    comment = fields.String(allow_none=True, validate=_TEXT, metadata={"description": "required to reject"})


class ResubmitSchema(Schema):
    payload = fields.Dict(metadata={"description": "the amended payload (default: unchanged)"})
    reason = fields.String(validate=validate.Length(1, 4000))
    comment = fields.String(allow_none=True, validate=_TEXT)


class HistorySchema(Schema):
    at = fields.String()
    actor = fields.String()
    organization = fields.String(allow_none=True)
    action = fields.String(
        metadata={"enum": ["submit", "endorse", "return", "resubmit", "approve", "reject"]}
    )
    comment = fields.String(allow_none=True)


class RequestSchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS)})
    status = fields.String(metadata={"enum": list(STATUSES)})
    scheme = fields.String(allow_none=True)
    release = fields.String(allow_none=True)
    target = fields.String(allow_none=True)
    payload = fields.Raw()
    reason = fields.String()
    submitted_by = fields.String()
    organization = fields.String()
    base = fields.String(
        allow_none=True,
        metadata={"description": "the target's fingerprint at (re)submission (a resource: its ETag)"},
    )
    submitted_at = fields.String()
    updated_at = fields.String()
    history = fields.List(fields.Nested(HistorySchema))


class RequestPageSchema(PageEnvelopeSchema):
    items = fields.List(fields.Nested(RequestSchema))


class RequestViewSchema(Schema):
    request = fields.Nested(RequestSchema)
    diff = fields.Dict(
        metadata={
            "description": "codes: current, proposed, changes, parent, siblings (or rows with problems); "
            "resources: current, proposed, changes (as a revision diff); both: stale, problems, warnings"
        }
    )
    actions = fields.List(fields.String(), metadata={"description": "what the caller may do now"})


class RequestQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(list(STATUSES)))
    kind = fields.String(validate=validate.OneOf(list(KINDS)))
    organization = fields.String(metadata={"description": "the submitting organization"})
    target = fields.String()
    scheme = fields.String()
    submitted_by = fields.String()


class ImportArgsSchema(Schema):
    scheme = fields.String(required=True)
    release = fields.String()
    reason = fields.String(required=True, validate=validate.Length(1, 4000))
    filename = fields.String(metadata={"description": "the file's name (for the rows' references)"})


class WhoamiSchema(Schema):
    name = fields.String()
    role = fields.String()
    organization = fields.String(allow_none=True)
