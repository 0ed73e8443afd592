"""Traceability pages: the resolver a phone opens when it scans a label (``/01/{gtin}[/10/{lot}][/21/{serial}]``,
HTML or JSON), products, items, deliveries with their items' status, and a delivery's printable label sheet."""

from __future__ import annotations

import functools

import segno
from flask import jsonify, redirect, render_template, request
from flask_babel import lazy_gettext
from markupsafe import Markup
from sqlalchemy import select

from catalog.models import Organization
from registry.errors import NotFound
from registry.signed_note import signer_for, unb64
from traceability import deliveries, evidence, gs1, items, products, qr
from traceability.gs1_problems import GS1Invalid
from web.browse.pages import bp, page_args, twin
from web.context import config, session
from web.errors import wants_json
from web.trace_support import digital_link, item_evidence, raw_path

#: an item's status (its last event) as the pages name it
STATUS_LABELS = {
    "registered": lazy_gettext("已登记"),
    "delivered": lazy_gettext("已进场"),
    "inspected": lazy_gettext("已检验"),
    "installed": lazy_gettext("已安装"),
    "handed_over": lazy_gettext("已移交"),
}
EVENT_LABELS = {
    "delivered": lazy_gettext("进场"),
    "inspected": lazy_gettext("进场检验"),
    "installed": lazy_gettext("安装"),
    "handed_over": lazy_gettext("移交"),
}
RESULT_LABELS = {"pass": lazy_gettext("合格"), "fail": lazy_gettext("不合格")}
#: labels per printed A4 sheet (3 columns × 8 rows)
LABELS_PER_SHEET = 24


def _labels() -> dict:
    return {"status_label": STATUS_LABELS, "event_label": EVENT_LABELS, "result_label": RESULT_LABELS}


def _qr_markup(key: str, scale: int = 3, *, omitsize: bool = False) -> Markup:
    """The item's QR code as inline SVG (segno writes no script, and every text it writes is escaped)."""
    return Markup(qr.svg(digital_link(key), scale=scale, omitsize=omitsize).decode())


def qr_size(uri: str) -> int:
    """The pixel size of the item's QR (``qr.svg``'s), so the page reserves its place before the image loads.

    The symbol's version depends only on the URI's length: cached per length, it costs nothing per page."""
    return _qr_size_for_length(len(uri.encode()))


@functools.lru_cache(maxsize=256)
def _qr_size_for_length(n: int) -> int:
    return segno.make("h" * n, error="m").symbol_size(scale=qr.SCALE)[0]


# --- the resolver --------------------------------------------------------------------------------


@bp.route("/01/<path:rest>")
def resolve(rest):
    """GS1 Digital Link resolver: an item's page, or the product's when only the GTIN is given; JSON with
    ``Accept: application/json``. A non-canonical spelling (GTIN-13, encoding) redirects to the canonical one.
    Nothing at the address: 404, as JSON in the contract's error shape or as a page saying why in Chinese."""
    path = raw_path().lstrip("/")
    try:
        return _resolve(path)
    except NotFound as exc:
        if wants_json():
            raise
        reasons = [p for found in (exc.errors or {}).values() for p in found if isinstance(p, dict)]
        return render_template("trace_not_found.html", path=path, reasons=reasons, message=exc.message), 404


def _resolve(path: str):
    try:
        parsed = gs1.parse_key(path, field_name="path")
    except GS1Invalid as exc:
        raise NotFound(
            "there is no product or item at this address: it is not a GS1 Digital Link path ("
            + exc.message
            + ")",
            exc.errors,
        ) from None
    if parsed.key != path:
        return redirect("/" + parsed.key, code=301)
    s = session()
    if not parsed.is_item:
        return _product_page(s, parsed.gtin)
    found = item_evidence(s, parsed.key)
    if wants_json():
        return jsonify(found)
    root = unb64(found["checkpoint"]["root"], "root")
    proved = {
        e["seq"]: evidence.check_proof(e.get("hash"), e.get("proof"), root)
        for e in [*found["events"], found["registration"]]
    }
    codes = {e["organization"] for e in found["events"]}
    names = (
        dict(
            s.execute(select(Organization.code, Organization.name).where(Organization.code.in_(codes))).all()
        )
        if codes
        else {}
    )
    return render_template(
        "trace_item.html",
        i=found,
        org_names=names,
        proved=proved,
        qr_size=qr_size(found["link"]),
        signer=signer_for(config()),
        api_url="/api/v1/trace/items/" + found["key"],
        json_twin="/api/v1/trace/items/" + found["key"],
        **_labels(),
    )


def _product_page(s, gtin: str):
    product = products.get(s, gtin)
    count = products.item_counts(s, [product.id]).get(product.id, 0)
    data = {**products.to_dict(product, count), "link": digital_link(f"01/{product.gtin}")}
    if wants_json():
        return jsonify(data)
    page, per_page = page_args(50)
    found = items.list_(s, gtin=product.gtin, page=page, per_page=per_page)
    return render_template(
        "trace_product.html",
        p=data,
        items=found.items,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        json_twin=f"/api/v1/trace/products/{product.gtin}",
        **_labels(),
    )


# --- browse --------------------------------------------------------------------------------------


@bp.route("/trace")
def trace_index():
    """Deliveries, newest first, with links to products and items."""
    page, per_page = page_args(20)
    project = (request.args.get("project") or "").strip() or None
    found = deliveries.list_(session(), project=project, page=page, per_page=per_page)
    return render_template(
        "trace_deliveries.html",
        deliveries=found.items,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        project=project,
        json_twin=twin("/api/v1/trace/deliveries", project=project),
    )


@bp.route("/trace/products")
def trace_products():
    page, per_page = page_args(50)
    q = (request.args.get("q") or "").strip()[:200] or None
    code = (request.args.get("code") or "").strip()[:64] or None
    found = products.list_(session(), q=q, code=code, page=page, per_page=per_page)
    return render_template(
        "trace_products.html",
        products=found.items,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        q=q,
        code=code,
        json_twin=twin("/api/v1/trace/products", q=q, code=code),
    )


def _item_filters() -> dict:
    return {k: (request.args.get(k) or "").strip()[:100] or None for k in ("gtin", "project", "delivery")}


@bp.route("/trace/items")
def trace_items():
    page, per_page = page_args(50)
    filters = _item_filters()
    try:
        found = items.list_(session(), page=page, per_page=per_page, **filters)
    except GS1Invalid as exc:
        raise NotFound(exc.message, exc.errors) from None
    return render_template(
        "trace_items.html",
        items=found.items,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        filters=filters,
        json_twin=twin("/api/v1/trace/items", **filters),
        **_labels(),
    )


@bp.route("/trace/deliveries/<reference>")
def trace_delivery(reference):
    s = session()
    delivery = deliveries.get(s, reference)
    page, per_page = page_args(50)
    found = items.list_(s, delivery=reference, page=page, per_page=per_page)
    return render_template(
        "trace_delivery.html",
        d=delivery,
        items=found.items,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        json_twin=f"/api/v1/trace/deliveries/{reference}",
        **_labels(),
    )


@bp.route("/trace/deliveries/<reference>/labels")
def trace_labels(reference):
    """A delivery's labels as printable A4 sheets (24 a sheet): Chinese name, code, GTIN, lot, serial, QR."""
    s = session()
    delivery = deliveries.get(s, reference)
    page, per_page = page_args(LABELS_PER_SHEET * 4, LABELS_PER_SHEET * 20)
    found = items.list_(s, delivery=reference, page=page, per_page=per_page)
    labels = [
        {**i, "link": digital_link(i["key"]), "qr": _qr_markup(i["key"], 1, omitsize=True)}
        for i in found.items
    ]
    sheets = [labels[n : n + LABELS_PER_SHEET] for n in range(0, len(labels), LABELS_PER_SHEET)]
    return render_template(
        "trace_labels.html",
        d=delivery,
        sheets=sheets,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
    )
