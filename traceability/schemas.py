"""Marshmallow schemas of the traceability API (requests and responses); unknown request fields are rejected.

The request schemas only check shapes (text, lengths, choices): the GS1 rules and every lifecycle rule are the
services', so their refusals name the part that is wrong (``gs1.*`` / ``trace.*`` codes, zh + en).
"""

from marshmallow import Schema, fields, validate

from registry.paging import PageArgsSchema
from traceability.models import EVENT_TYPES, RESULTS

_LINK = validate.Length(max=2000)
_SHORT = validate.Length(max=200)


class TraceProductCreateSchema(Schema):
    gtin = fields.String(
        required=True, validate=validate.Length(max=40), metadata={"example": "09521234543213"}
    )
    code = fields.String(
        required=True,
        validate=validate.Length(max=64),
        metadata={"description": "a szgws-me code, valid and assignable in the current release"},
    )
    name = fields.String(required=True, validate=_SHORT)
    manufacturer = fields.String(allow_none=True, validate=_SHORT)


class TraceProductSchema(Schema):
    gtin = fields.String(metadata={"description": "GTIN-14"})
    scheme = fields.String()
    code = fields.String()
    release = fields.String(allow_none=True, metadata={"description": "the release the code was checked in"})
    name = fields.String()
    manufacturer = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)
    item_count = fields.Integer(metadata={"description": "how many items of it are registered"})
    link = fields.String(metadata={"description": "its Digital Link (GTIN only)"})


class TraceProductQueryArgsSchema(PageArgsSchema):
    q = fields.String(validate=_SHORT, metadata={"description": "GTIN, name or manufacturer contains"})
    code = fields.String(
        validate=validate.Length(max=64), metadata={"description": "products carrying this code"}
    )


class TraceImportArgsSchema(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={"description": "check every row, write nothing"})
    filename = fields.String(validate=_SHORT, metadata={"description": "the file's name (.csv or .xlsx)"})


class TraceRowErrorSchema(Schema):
    row = fields.Integer()
    column = fields.String()
    code = fields.String()
    part = fields.String()
    params = fields.Dict()
    message_zh = fields.String()
    message_en = fields.String()


class TraceProductImportSchema(Schema):
    file = fields.String()
    rows = fields.Integer()
    added = fields.Integer()
    unchanged = fields.Integer()
    errors = fields.List(fields.Nested(TraceRowErrorSchema))
    dry_run = fields.Boolean()


class TraceItemCreateSchema(Schema):
    link = fields.String(
        validate=_LINK,
        metadata={
            "description": "a GS1 Digital Link URI",
            "example": "https://id.gs1.org/01/09521234543213/10/C1/21/0001",
        },
    )
    gtin = fields.String(validate=validate.Length(max=40))
    lot = fields.String(validate=validate.Length(max=100))
    serial = fields.String(validate=validate.Length(max=100))
    cpv = fields.String(validate=validate.Length(max=100))
    project = fields.String(allow_none=True, validate=validate.Length(max=100))


class TraceProofSchema(Schema):
    leaf_index = fields.Integer(metadata={"description": "seq - 1"})
    tree_size = fields.Integer(metadata={"description": "the checkpoint's size"})
    path = fields.List(fields.String(), metadata={"description": "RFC 9162 inclusion path, base64"})


class TraceEventSchema(Schema):
    n = fields.Integer(metadata={"description": "the n-th event of the item"})
    type = fields.String(metadata={"enum": list(EVENT_TYPES)})
    at = fields.String(metadata={"description": "UTC, ISO 8601"})
    organization = fields.String()
    actor = fields.String()
    result = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    seq = fields.Integer(metadata={"description": "its audit entry"})
    hash = fields.String(
        metadata={"description": "the audit entry's hash (hex); the leaf is SHA-256(0x00 ‖ it)"}
    )
    proof = fields.Nested(TraceProofSchema)


class TraceRegistrationSchema(Schema):
    seq = fields.Integer(
        metadata={"description": "the audit entry that registered the item (its own or its delivery's)"}
    )
    entity_type = fields.String()
    hash = fields.String()
    proof = fields.Nested(TraceProofSchema)


class TraceCheckpointSchema(Schema):
    size = fields.Integer()
    root = fields.String(metadata={"description": "RFC 9162 root hash, standard base64"})
    note = fields.String(metadata={"description": "C2SP signed note (tlog-checkpoint), Ed25519"})
    key = fields.String(metadata={"description": "the verifier key text"})


class TraceItemSummarySchema(Schema):
    key = fields.String(metadata={"description": "01/{gtin14}[/22/…][/10/{lot}][/21/{serial}]"})
    gtin = fields.String()
    cpv = fields.String(allow_none=True)
    lot = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    attributes = fields.Dict()
    code = fields.String()
    name = fields.String()
    manufacturer = fields.String(allow_none=True)
    project = fields.String(allow_none=True)
    delivery = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)
    seq = fields.Integer()
    status = fields.String(metadata={"enum": ["registered", *EVENT_TYPES]})
    result = fields.String(allow_none=True)
    link = fields.String(metadata={"description": "its Digital Link under YIMA_DIGITAL_LINK_BASE"})


class TraceItemSchema(TraceItemSummarySchema):
    events = fields.List(fields.Nested(TraceEventSchema))
    registration = fields.Nested(TraceRegistrationSchema)
    checkpoint = fields.Nested(TraceCheckpointSchema)


class TraceItemQueryArgsSchema(PageArgsSchema):
    gtin = fields.String(validate=validate.Length(max=40))
    project = fields.String(validate=validate.Length(max=100))
    delivery = fields.String(validate=validate.Length(max=100))


class TraceEventCreateSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(list(EVENT_TYPES)))
    at = fields.String(required=True, validate=validate.Length(max=40), metadata={"description": "ISO 8601"})
    result = fields.String(allow_none=True, validate=validate.OneOf(list(RESULTS)))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class TraceDeliveryEntrySchema(Schema):
    link = fields.String(validate=_LINK)
    gtin = fields.String(validate=validate.Length(max=40))
    lot = fields.String(validate=validate.Length(max=100))
    serial = fields.String(validate=validate.Length(max=100))
    cpv = fields.String(validate=validate.Length(max=100))
    expiry = fields.String(validate=validate.Length(max=20), metadata={"description": "YYMMDD or YYYY-MM-DD"})


class TraceDeliveryCreateSchema(Schema):
    reference = fields.String(
        required=True, validate=validate.Length(1, 100), metadata={"description": "送货单号"}
    )
    project = fields.String(allow_none=True, validate=validate.Length(max=100))
    dry_run = fields.Boolean(load_default=False)
    items = fields.List(
        fields.Nested(TraceDeliveryEntrySchema), required=True, validate=validate.Length(min=1)
    )


class TraceDeliveryImportArgsSchema(TraceImportArgsSchema):
    reference = fields.String(required=True, validate=validate.Length(1, 100))
    project = fields.String(validate=validate.Length(max=100))


class TraceDeliveryReportSchema(Schema):
    reference = fields.String()
    file = fields.String(allow_none=True)
    rows = fields.Integer()
    added = fields.Integer()
    errors = fields.List(fields.Nested(TraceRowErrorSchema))
    dry_run = fields.Boolean()
    seq = fields.Integer(allow_none=True)


class TraceDeliverySchema(Schema):
    reference = fields.String()
    project = fields.String(allow_none=True)
    organization = fields.String(allow_none=True)
    item_count = fields.Integer()
    seq = fields.Integer()
    created_at = fields.String()
    status = fields.Dict(keys=fields.String(), values=fields.Integer())
    failed_inspection = fields.Integer()


class TraceDeliveryQueryArgsSchema(PageArgsSchema):
    project = fields.String(validate=validate.Length(max=100))
