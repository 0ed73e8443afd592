"""Marshmallow schemas of the catalog's objects (requests and responses); unknown fields are rejected."""

import datetime as dt

from marshmallow import Schema, ValidationError, fields, validate

from catalog.models import (
    FIELD_TYPES,
    FORMATS,
    ORGANIZATION_KINDS,
    RESOURCE_STATUSES,
    SECURITY_GRADES,
    SHARE_METHODS,
    SHARE_TYPES,
    UPDATE_CYCLES,
)
from registry.paging import PageArgsSchema, PageEnvelopeSchema

#: codes other objects refer to: letters, digits and . _ - /, starting with a letter or digit
CODE = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$",
    error="1–64 letters, digits or . _ - /, starting with a letter or digit",
)
#: 统一社会信用代码 (GB 32100): 18 characters
CREDIT_CODE = validate.Regexp(
    r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$",
    error="an 18-character unified social credit code",
)


class OrganizationSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=200))
    kind = fields.String(
        validate=validate.OneOf(list(ORGANIZATION_KINDS)),
        metadata={"description": "; ".join(f"{k} {v}" for k, v in ORGANIZATION_KINDS.items())},
    )
    credit_code = fields.String(allow_none=True, validate=CREDIT_CODE)
    parent = fields.String(allow_none=True, validate=CODE)
    contact = fields.String(allow_none=True, validate=validate.Length(max=200))
    description = fields.String(allow_none=True)


class OrganizationUpdateSchema(OrganizationSchema):
    """PATCH body: any subset of the fields (``code`` may be repeated but not changed)."""

    code = fields.String(validate=CODE)
    name = fields.String(validate=validate.Length(1, 200))


class OrganizationQueryArgsSchema(PageArgsSchema):
    q = fields.String()
    kind = fields.String(validate=validate.OneOf(list(ORGANIZATION_KINDS)))


# --- systems, resources, fields, revisions, record validation (the catalog issue) ------------


def _iso_date(value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError("a date as YYYY-MM-DD") from exc


#: tags are shown and filtered one by one: no separators inside a tag
TAG = validate.Regexp(r"^[^;|\n]{1,50}$", error="1–50 characters, without ; or |")


class SystemSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(allow_none=True)
    owner = fields.String(allow_none=True, validate=CODE, metadata={"description": "organization code"})
    namespaces = fields.List(
        fields.String(validate=validate.Length(1, 500)),
        metadata={"description": "the OpenLineage namespaces this system's jobs and datasets use"},
    )


class SystemUpdateSchema(SystemSchema):
    code = fields.String(validate=CODE)
    name = fields.String(validate=validate.Length(1, 200))


class SystemQueryArgsSchema(PageArgsSchema):
    q = fields.String()
    owner = fields.String()


class LineageIdentitySchema(Schema):
    namespace = fields.String(required=True, validate=validate.Length(1, 500))
    name = fields.String(required=True, validate=validate.Length(1, 500))


def _bound(value) -> bool:
    """A minimum or maximum is a number or an ISO date string, never an object or a list."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError("a number, or an ISO 8601 date for date and datetime fields")
    return True


class ConstraintsSchema(Schema):
    min_length = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    max_length = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    minimum = fields.Raw(
        allow_none=True,
        validate=_bound,
        metadata={
            "description": "a number, or an ISO date for date fields",
            "oneOf": [{"type": "number"}, {"type": "string"}],
        },
    )
    maximum = fields.Raw(
        allow_none=True, validate=_bound, metadata={"oneOf": [{"type": "number"}, {"type": "string"}]}
    )
    pattern = fields.String(
        allow_none=True, metadata={"description": "a regular expression the whole value matches"}
    )
    enum = fields.List(fields.Raw(), allow_none=True)


class FieldSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.Regexp(r"^\S(.{0,98}\S)?$", error="1–100 characters, no surrounding spaces"),
    )
    title = fields.String(allow_none=True, validate=validate.Length(max=200))
    type = fields.String(load_default="string", validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean(load_default=False)
    unique = fields.Boolean(load_default=False)
    code_scheme = fields.String(allow_none=True, metadata={"description": "values are codes of this scheme"})
    constraints = fields.Nested(ConstraintsSchema, load_default=dict)
    description = fields.String(allow_none=True)


def _describe(mapping: dict) -> str:
    return "; ".join(f"{k} {v}" for k, v in mapping.items())


class ResourceSchema(Schema):
    code = fields.String(required=True, validate=CODE, metadata={"description": "信息资源代码"})
    name = fields.String(
        required=True, validate=validate.Length(1, 200), metadata={"description": "信息资源名称"}
    )
    summary = fields.String(
        required=True, validate=validate.Length(1, 4000), metadata={"description": "信息资源摘要"}
    )
    category = fields.String(
        required=True, metadata={"description": "信息资源分类: a code of GET /api/v1/catalog/categories"}
    )
    provider = fields.String(
        required=True, validate=CODE, metadata={"description": "提供方 (organization code)"}
    )
    system = fields.String(allow_none=True, validate=CODE, metadata={"description": "system code"})
    format = fields.String(
        allow_none=True, validate=validate.OneOf(FORMATS), metadata={"description": "信息资源格式"}
    )
    share_type = fields.String(
        validate=validate.OneOf(list(SHARE_TYPES)), metadata={"description": _describe(SHARE_TYPES)}
    )
    share_condition = fields.String(allow_none=True)
    share_method = fields.String(allow_none=True, validate=validate.OneOf(SHARE_METHODS))
    open_to_public = fields.Boolean()
    open_condition = fields.String(allow_none=True)
    update_cycle = fields.String(
        allow_none=True,
        validate=validate.OneOf(list(UPDATE_CYCLES)),
        metadata={"description": _describe(UPDATE_CYCLES)},
    )
    published_on = fields.String(allow_none=True, validate=_iso_date, metadata={"format": "date"})
    security_grade = fields.String(
        validate=validate.OneOf(list(SECURITY_GRADES)), metadata={"description": _describe(SECURITY_GRADES)}
    )
    related = fields.List(fields.String(validate=CODE), metadata={"description": "关联资源代码"})
    tags = fields.List(fields.String(validate=TAG))
    steward = fields.String(allow_none=True, validate=validate.Length(max=200))
    status = fields.String(validate=validate.OneOf(list(RESOURCE_STATUSES)))
    lineage = fields.Nested(
        LineageIdentitySchema, allow_none=True, metadata={"description": "OpenLineage dataset identity"}
    )
    fields_ = fields.List(fields.Nested(FieldSchema), data_key="fields", attribute="fields")
    revision = fields.Integer(dump_only=True, metadata={"description": "number of the newest revision"})


class ResourceUpdateSchema(ResourceSchema):
    """PATCH body: any subset of the fields; ``fields``, when given, replaces the whole list."""

    code = fields.String(validate=CODE)
    name = fields.String(validate=validate.Length(1, 200))
    summary = fields.String(validate=validate.Length(1, 4000))
    category = fields.String()
    provider = fields.String(validate=CODE)


class ResourceQueryArgsSchema(PageArgsSchema):
    q = fields.String(
        metadata={
            "description": "Chinese substrings or pinyin initials; space-separated terms must all match"
        }
    )
    category = fields.String()
    share_type = fields.String()
    security_grade = fields.String()
    system = fields.String()
    provider = fields.String()
    status = fields.String()
    tag = fields.String()


class ResourcePageSchema(PageEnvelopeSchema):
    items = fields.List(fields.Nested(ResourceSchema))
    facets = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.Integer())
    )


class RevisionSchema(Schema):
    number = fields.Integer()
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    snapshot = fields.Dict()


class RevisionDetailSchema(RevisionSchema):
    against = fields.Integer(allow_none=True)
    diff = fields.List(fields.Dict())


class RevisionArgsSchema(Schema):
    against = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1), metadata={"description": "diff against this revision"}
    )


class RecordsRequestSchema(Schema):
    resource = fields.String(required=True)
    records = fields.List(fields.Dict(), required=True)


class RecordsQueryArgsSchema(Schema):
    resource = fields.String(metadata={"description": "the resource code (for a text/csv body)"})


class RecordErrorSchema(Schema):
    field = fields.String()
    type = fields.String()
    message = fields.String()
    status = fields.String(
        metadata={"description": "code errors: the code's status (deprecated, unknown, malformed)"}
    )
    successor = fields.String(metadata={"description": "code errors: the successor of a deprecated code"})


class RecordResultSchema(Schema):
    index = fields.Integer()
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(RecordErrorSchema))


class RecordsResultSchema(Schema):
    resource = fields.String()
    total = fields.Integer()
    valid = fields.Integer()
    invalid = fields.Integer()
    results = fields.List(fields.Nested(RecordResultSchema))


class CategorySchema(Schema):
    code = fields.String()
    name = fields.String()
    parent = fields.String(allow_none=True)
    level = fields.String()
