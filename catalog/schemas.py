"""Marshmallow schemas of the catalog's objects (requests and responses); unknown fields are rejected."""

from marshmallow import Schema, fields, validate

from catalog.models import ORGANIZATION_KINDS

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


class OrganizationQueryArgsSchema(Schema):
    q = fields.String()
    kind = fields.String(validate=validate.OneOf(list(ORGANIZATION_KINDS)))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))
