"""Marshmallow schemas of the code registry's API objects (requests and responses); unknown fields are rejected.

The validation endpoint's bodies are parsed and written by hand (100,000 codes a request): the schemas
for them here only document it in OpenAPI.
"""

import datetime as dt

from marshmallow import Schema, fields, validate

from registry.paging import PageArgsSchema, PageEnvelopeSchema
from standards.models import CODE_STATUSES, CROSSWALK_RELATIONS

RELEASE_NAME = validate.Regexp(r"^[^/]{1,64}$", error="1–64 characters, no '/'")


class UtcDateTime(fields.DateTime):
    """A timestamp stored naive in UTC, written as RFC 3339 with its ``Z`` (what OpenAPI's ``date-time`` means)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        text = super()._serialize(value, attr, obj, **kwargs)
        return text[:-6] + "Z" if text and text.endswith("+00:00") else text


class ReleaseSchema(Schema):
    release = fields.String()
    status = fields.String(metadata={"enum": ["draft", "published"]})
    codes = fields.Integer()
    note = fields.String(allow_none=True)
    created_at = UtcDateTime()
    published_at = UtcDateTime(allow_none=True)


class ReleaseCreateSchema(Schema):
    release = fields.String(required=True, validate=RELEASE_NAME)
    note = fields.String(allow_none=True)
    copy_from = fields.String(
        allow_none=True, metadata={"description": "start as a copy of this release's codes (to revise them)"}
    )


class SchemeSchema(Schema):
    id = fields.String()
    name = fields.String()
    name_en = fields.String()
    description = fields.String()
    has_code_list = fields.Boolean()
    tables = fields.Dict(keys=fields.String(), values=fields.String())
    assignable_levels = fields.List(fields.Integer(), allow_none=True)
    examples = fields.Raw()
    format = fields.Raw()
    releases = fields.List(fields.Nested(ReleaseSchema))
    current_release = fields.String(allow_none=True)


class AncestorSchema(Schema):
    code = fields.String()
    name = fields.String(allow_none=True)


class CrosswalkRefSchema(Schema):
    scheme = fields.String()
    release = fields.String()
    code = fields.String()
    name = fields.String(allow_none=True)
    relation = fields.String(metadata={"enum": list(CROSSWALK_RELATIONS)})
    direction = fields.String(metadata={"enum": ["outgoing", "incoming"]})


class AttributeSchema(Schema):
    """One attribute of a template: ``type`` string|number|integer|enum, ``values`` for enum, ``unit``, range."""

    class Meta:
        unknown = "include"

    name = fields.String(required=True)
    type = fields.String(validate=validate.OneOf(["string", "number", "integer", "enum"]))
    required = fields.Boolean()
    unit = fields.String()
    values = fields.List(fields.Raw())
    minimum = fields.Float()
    maximum = fields.Float()


class CodeSchema(Schema):
    scheme = fields.String()
    release = fields.String()
    code = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    level = fields.Integer()
    parent = fields.String(allow_none=True)
    ancestors = fields.List(
        fields.Nested(AncestorSchema), metadata={"description": "root first, down to the parent"}
    )
    children = fields.Integer(metadata={"description": "number of direct children"})
    status = fields.String(metadata={"enum": list(CODE_STATUSES)})
    successor = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    assignable = fields.Boolean(allow_none=True)
    attributes = fields.List(fields.Raw(), metadata={"description": "the effective template (inherited)"})
    own_attributes = fields.List(fields.Raw())
    description = fields.String(allow_none=True)
    crosswalks = fields.List(fields.Nested(CrosswalkRefSchema))


class CodePageSchema(PageEnvelopeSchema):
    items = fields.List(fields.Nested(CodeSchema))
    release = fields.String()


class CodeQueryArgsSchema(PageArgsSchema):
    q = fields.String(metadata={"description": "code prefix, name substring or pinyin initials (gj → 钢筋)"})
    parent = fields.String()
    roots = fields.Boolean(load_default=False, metadata={"description": "only top-level codes"})
    status = fields.String(validate=validate.OneOf(list(CODE_STATUSES)))
    release = fields.String()


class ReleaseArgsSchema(Schema):
    release = fields.String()


class ChildrenArgsSchema(PageArgsSchema):
    release = fields.String()


class CodeCreateSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(required=True, validate=validate.Length(1, 500))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=500))
    unit = fields.String(allow_none=True, validate=validate.Length(max=32))
    description = fields.String(allow_none=True)
    attributes = fields.List(fields.Nested(AttributeSchema), allow_none=True)
    release = fields.String(metadata={"description": "default: the current release"})


class CodeUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(1, 500))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=500))
    unit = fields.String(allow_none=True, validate=validate.Length(max=32))
    description = fields.String(allow_none=True)
    attributes = fields.List(fields.Nested(AttributeSchema), allow_none=True)
    release = fields.String()


class DeprecateSchema(Schema):
    successor = fields.String(allow_none=True)
    release = fields.String()


class ImportArgsSchema(Schema):
    publish = fields.Boolean(load_default=False)
    dry_run = fields.Boolean(load_default=False)
    filename = fields.String(metadata={"description": "name reported in row errors (default: upload)"})


class RowErrorSchema(Schema):
    file = fields.String()
    row = fields.Integer()
    column = fields.String()
    reason = fields.String()
    message = fields.String()


class ImportReportSchema(Schema):
    scheme = fields.String()
    release = fields.String()
    files = fields.List(fields.String())
    rows = fields.Integer()
    added = fields.Integer()
    changed = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorSchema))
    dry_run = fields.Boolean()
    published = fields.Boolean()
    created_release = fields.Boolean()
    digest = fields.String(allow_none=True)


class MappingSchema(Schema):
    from_ = fields.String(required=True, data_key="from")
    to = fields.String(required=True)
    relation = fields.String(load_default="exact", validate=validate.OneOf(list(CROSSWALK_RELATIONS)))


class CrosswalkCreateSchema(Schema):
    from_scheme = fields.String(required=True)
    from_release = fields.String()
    to_scheme = fields.String(required=True)
    to_release = fields.String()
    replace = fields.Boolean(load_default=False)
    mappings = fields.List(fields.Nested(MappingSchema), required=True)


class CrosswalkResultSchema(Schema):
    from_scheme = fields.String()
    from_release = fields.String()
    to_scheme = fields.String()
    to_release = fields.String()
    mappings = fields.Integer()


class CrosswalkQueryArgsSchema(PageArgsSchema):
    from_scheme = fields.String(required=True, metadata={"description": "the scheme of ``code``"})
    code = fields.String(required=True)
    release = fields.String()
    to_scheme = fields.String()


class ValidationErrorSchema(Schema):
    type = fields.String(
        metadata={
            "enum": ["malformed", "unknown", "deprecated", "check_digit", "attribute", "not_assignable"]
        }
    )
    message = fields.String()


class ResultSchema(Schema):
    index = fields.Integer()
    input = fields.Raw()
    code = fields.String(allow_none=True)
    valid = fields.Boolean()
    status = fields.String(metadata={"enum": ["active", "deprecated", "unknown", "malformed"]})
    name = fields.String(allow_none=True)
    successor = fields.String(allow_none=True)
    errors = fields.List(fields.Nested(ValidationErrorSchema))


class SingleResultSchema(ResultSchema):
    class Meta:
        exclude = ("index",)


class ValidateItemSchema(Schema):
    code = fields.String(required=True)
    attributes = fields.Dict(allow_none=True)


class ValidateRequestSchema(Schema):
    """Either ``codes`` or ``items``; at most YIMA_MAX_BATCH of them (more: 413)."""

    scheme = fields.String(required=True)
    release = fields.String(metadata={"description": "default: the current published release"})
    codes = fields.List(fields.String())
    items = fields.List(fields.Nested(ValidateItemSchema))


class ValidateResponseSchema(Schema):
    scheme = fields.String()
    release = fields.String(allow_none=True)
    total = fields.Integer()
    valid = fields.Integer()
    invalid = fields.Integer()
    results = fields.List(fields.Nested(ResultSchema))


class ValidateOneArgsSchema(Schema):
    scheme = fields.String(required=True)
    code = fields.String(required=True)
    release = fields.String()
