"""``/api/v1/trace``: products (a GTIN carrying a bureau code), items from GS1 Digital Links, deliveries, the
audited lifecycle of an item with its inclusion proofs, and its QR label."""

from __future__ import annotations

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.errors import Invalid
from registry.jsonutil import jsonable
from traceability import deliveries, events, items, products, qr
from traceability.schemas import (
    TraceDeliveryCreateSchema,
    TraceDeliveryImportArgsSchema,
    TraceDeliveryQueryArgsSchema,
    TraceDeliveryReportSchema,
    TraceDeliverySchema,
    TraceEventCreateSchema,
    TraceEventSchema,
    TraceImportArgsSchema,
    TraceItemCreateSchema,
    TraceItemQueryArgsSchema,
    TraceItemSchema,
    TraceItemSummarySchema,
    TraceProductCreateSchema,
    TraceProductImportSchema,
    TraceProductQueryArgsSchema,
    TraceProductSchema,
)
from web.api.common import accepts, page_schema
from web.context import actor, db, needs, principal, session
from web.trace_support import digital_link, item_evidence, key_between

blp = Blueprint(
    "trace",
    __name__,
    url_prefix="/api/v1/trace",
    description="Material traceability (二维码溯源): GS1 Digital Link items, their bureau codes and an attested trail",
)
ITEMS = "/api/v1/trace/items/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILE_TYPES = ("text/csv", XLSX, "application/octet-stream", "multipart/form-data")
FILE_BODY = {
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        XLSX: {"schema": {"type": "string", "format": "binary"}},
    }
}


def _organization() -> str | None:
    who = principal()
    return who.organization if who else None


def _upload(args: dict) -> tuple[str, bytes]:
    """(file name, bytes) of a CSV/XLSX body or a multipart ``file`` field."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("send the file as multipart field 'file'", {"file": ["required"]})
        return upload.filename or "upload.csv", upload.read()
    name = args.get("filename") or ("upload.xlsx" if request.mimetype == XLSX else "upload.csv")
    return name, request.get_data()


def _product(product, count: int | None = None) -> dict:
    return {**products.to_dict(product, count), "link": digital_link(f"01/{product.gtin}")}


# --- products ------------------------------------------------------------------------------------


@blp.route("/products")
class Products(MethodView):
    @blp.arguments(TraceProductQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TraceProductSchema, "TraceProductPage"))
    def get(self, args):
        """Products by GTIN, each with its item count; ``code`` keeps those carrying one code, ``q`` searches."""
        return products.list_(session(), **args).envelope(
            lambda p: {**p, "link": digital_link(f"01/{p['gtin']}")}
        )

    @needs("steward")
    @blp.arguments(TraceProductCreateSchema)
    @blp.response(201, TraceProductSchema)
    def post(self, values):
        """Register a product (role steward): its GTIN (8/12/13/14 digits, check digit verified, stored as
        GTIN-14) carries one szgws-me code valid and assignable in the current release. 409 if registered."""
        with db().writer() as s:
            product = products.register(s, actor=actor(), organization=_organization(), **values)
            return _product(product, 0)


@blp.route("/products/import")
class ProductImport(MethodView):
    @needs("steward")
    @accepts(*FILE_TYPES)
    @blp.arguments(TraceImportArgsSchema, location="query")
    @blp.response(201, TraceProductImportSchema)
    @blp.alt_response(200, schema=TraceProductImportSchema, description="dry run: what would be imported")
    @blp.doc(requestBody=FILE_BODY)
    def post(self, args):
        """A supplier's product list (CSV/XLSX: GTIN, 编码, 名称, 生产厂家): all rows or none (422 naming every
        bad row); ``dry_run=true`` checks and reports without writing."""
        name, data = _upload(args)
        with db().writer() as s:
            report = products.import_file(
                s, name, data, actor=actor(), organization=_organization(), dry_run=args["dry_run"]
            )
        return report.to_dict(), 200 if report.dry_run else 201


@blp.route("/products/<gtin>")
class ProductView(MethodView):
    @blp.response(200, TraceProductSchema)
    def get(self, gtin):
        """One product (any spelling of its GTIN) with its item count."""
        s = session()
        product = products.get(s, gtin)
        return _product(product, products.item_counts(s, [product.id]).get(product.id, 0))


# --- items ---------------------------------------------------------------------------------------


@blp.route("/items")
class Items(MethodView):
    @blp.arguments(TraceItemQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TraceItemSummarySchema, "TraceItemPage"))
    def get(self, args):
        """Items in key order with their status (last event), optionally of one product (``gtin``), ``project``
        or ``delivery`` (its reference)."""
        return items.list_(session(), **args).envelope(lambda i: {**i, "link": digital_link(i["key"])})

    @needs("contributor")
    @blp.arguments(TraceItemCreateSchema)
    @blp.response(201, TraceItemSchema)
    def post(self, values):
        """Register an item (role contributor) from a scanned Digital Link (``link``) or ``gtin`` + ``lot`` /
        ``serial``, with its ``project``: GS1 rules apply (qualifier order 22 → 10 → 21, AI 10/21 of 1–20
        characters of set 82, check digit); errors name the part. A product never registered: 422."""
        with db().writer() as s:
            item = items.register(s, actor=actor(), organization=_organization(), **values)
            found = events.detail(s, item)
        return jsonable({**found, "link": digital_link(found["key"])})


@blp.route("/items/<path:key>")
class ItemView(MethodView):
    @blp.response(200, TraceItemSchema)
    def get(self, key):
        """The item with every event, each with its audit entry ``hash`` and RFC 9162 inclusion ``proof``
        against ``checkpoint`` (the current signed one): check them with ``yima_verify.py item``."""
        return item_evidence(session(), key_between(ITEMS))


@blp.route("/items/<path:key>/events")
class ItemEvents(MethodView):
    @needs("contributor")
    @blp.arguments(TraceEventCreateSchema)
    @blp.response(201, TraceEventSchema)
    def post(self, values, key):
        """Record a lifecycle event for your token's organization: ``inspected`` (with ``result``) only by a
        supervisor, ``handed_over`` only by an owner or bureau (403); in the order delivered → inspected →
        installed → handed_over, never before the previous event (409). Each event is an audit entry."""
        with db().writer() as s:
            event = events.record(
                s,
                key_between(ITEMS, "/events"),
                values["type"],
                values["at"],
                result=values.get("result"),
                note=values.get("note"),
                actor=actor(),
                organization=_organization(),
            )
            return jsonable(events.to_dict(event))


@blp.route("/items/<path:key>/qr.svg")
class ItemQr(MethodView):
    @blp.doc(
        responses={
            "200": {
                "description": "the QR code (SVG) of the item's Digital Link",
                "content": {"image/svg+xml": {"schema": {"type": "string"}}},
                "headers": {
                    "X-Digital-Link": {"description": "the URI it holds", "schema": {"type": "string"}}
                },
            }
        }
    )
    def get(self, key):
        """The QR code of the item's Digital Link URI under ``YIMA_DIGITAL_LINK_BASE`` (default: this server),
        as deterministic SVG (segno, error correction M): the same item always gives the same bytes."""
        item = items.get(session(), key_between(ITEMS, "/qr.svg"))
        svg = qr.svg(digital_link(item.key))
        response = Response(svg, mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Digital-Link"] = digital_link(item.key)
        return response


# --- deliveries ----------------------------------------------------------------------------------


@blp.route("/deliveries")
class Deliveries(MethodView):
    @blp.arguments(TraceDeliveryQueryArgsSchema, location="query")
    @blp.response(200, page_schema(TraceDeliverySchema, "TraceDeliveryPage"))
    def get(self, args):
        """Deliveries, newest first (``project`` filters)."""
        return deliveries.list_(session(), **args).envelope(jsonable)

    @needs("contributor")
    @blp.arguments(TraceDeliveryCreateSchema)
    @blp.response(201, TraceDeliveryReportSchema)
    @blp.alt_response(200, schema=TraceDeliveryReportSchema, description="dry run")
    def post(self, values):
        """Register every item of a delivery note (``items``: ``{"link"}`` or ``{"gtin", "lot", "serial"}``):
        all or none (422 naming every bad row), one audit entry for the delivery."""
        with db().writer() as s:
            report = deliveries.register_list(
                s,
                values["reference"],
                values["items"],
                project=values.get("project"),
                actor=actor(),
                organization=_organization(),
                dry_run=values["dry_run"],
            )
        return report.to_dict(), 200 if report.dry_run else 201


@blp.route("/deliveries/import")
class DeliveryImport(MethodView):
    @needs("contributor")
    @accepts(*FILE_TYPES)
    @blp.arguments(TraceDeliveryImportArgsSchema, location="query")
    @blp.response(201, TraceDeliveryReportSchema)
    @blp.alt_response(200, schema=TraceDeliveryReportSchema, description="dry run")
    @blp.doc(requestBody=FILE_BODY)
    def post(self, args):
        """A delivery file (CSV/XLSX: a 数字链接 column, or GTIN + 批号 + 序列号 [+ 有效期]) as delivery
        ``reference``: all rows or none; ``dry_run=true`` checks without writing."""
        name, data = _upload(args)
        with db().writer() as s:
            report = deliveries.register_file(
                s,
                args["reference"],
                name,
                data,
                project=args.get("project"),
                actor=actor(),
                organization=_organization(),
                dry_run=args["dry_run"],
            )
        return report.to_dict(), 200 if report.dry_run else 201


@blp.route("/deliveries/<reference>")
class DeliveryView(MethodView):
    @blp.response(200, TraceDeliverySchema)
    def get(self, reference):
        """A delivery with how many of its items are at each status (``registered`` = no event yet)."""
        return jsonable(deliveries.get(session(), reference))
