"""Code pages: schemes and releases, the lazily expanded code tree, a code's page, the validation box."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from registry.errors import Conflict, Invalid
from standards import codes as code_service
from standards import releases
from standards.validation import get_validator
from traceability import products as trace_products
from traceability.models import PRODUCT_SCHEME
from web.browse import labels
from web.browse.access import steward_required
from web.browse.pages import bp, twin
from web.context import actor, db, session
from web.trace_support import link_results, merge_link_result

VERDICTS = {
    "active": lazy_gettext("有效"),
    "deprecated": lazy_gettext("已废止"),
    "unknown": lazy_gettext("不存在"),
    "malformed": lazy_gettext("格式错误"),
}
ERROR_TYPES = {
    "malformed": lazy_gettext("格式错误"),
    "unknown": lazy_gettext("编码不存在"),
    "deprecated": lazy_gettext("已废止"),
    "check_digit": lazy_gettext("校验位错误"),
    "attribute": lazy_gettext("属性不符"),
    "not_assignable": lazy_gettext("不可直接使用的类目"),
}
#: the most pasted codes the box takes at once (the API takes YIMA_MAX_BATCH)
MAX_PASTED = 5000


# --- adapters onto the standards service (the same functions the API views call) ---------------


def list_schemes(s) -> list[dict]:
    return releases.list_schemes(s)


def scheme_info(s, scheme: str) -> dict:
    return releases.scheme_info(s, scheme)


def root_codes(s, scheme: str, release: str | None) -> list[dict]:
    return code_service.children(s, scheme, None, release)


def code_document(s, scheme: str, code: str, release: str | None) -> dict:
    return code_service.get_code(s, scheme, code, release)


def child_codes(s, scheme: str, code: str, release: str | None) -> list[dict]:
    return code_service.children(s, scheme, code, release)


def search_codes(s, scheme: str, q: str, release: str | None) -> list[dict]:
    return code_service.list_codes(s, scheme, q=q, release=release, per_page=50).items


def validate(s, scheme: str, codes: list[str], release: str | None) -> list[dict]:
    """The pasted lines' results; a GS1 Digital Link answers with its product's bureau code (szgws-me)."""
    validator = get_validator(s, scheme, release or None)
    resolved, extra = link_results(s, validator.scheme, codes)
    results = validator.validate(resolved)
    for i, added in extra.items():
        results[i] = merge_link_result(results[i], added)
    return results


def overview_schemes(s) -> list | None:
    """Every scheme with its current release and code count, for the overview."""
    found = list_schemes(s)
    rows = []
    for sc in found:
        current = next((r for r in sc["releases"] if r["release"] == sc.get("current_release")), None)
        rows.append({**sc, "codes": current["codes"] if current else 0})
    return rows


def products_of(s, scheme: str, code: str):
    """Traceability: the products carrying this code, each with its item count (szgws-me codes only)."""
    if scheme != PRODUCT_SCHEME:
        return None
    return trace_products.list_(s, code=code, per_page=100)


# --- pages ---------------------------------------------------------------------------------------


@bp.route("/codes")
def schemes():
    found = list_schemes(session())
    with_codes = [sc["id"] for sc in found if sc.get("current_release")]
    default = (
        "szgws-me" if "szgws-me" in with_codes else (with_codes or [sc["id"] for sc in found] or [""])[0]
    )
    return render_template("codes.html", schemes=found, default_scheme=default, json_twin="/api/v1/schemes")


@bp.route("/codes/<scheme>")
def scheme(scheme):
    s = session()
    sc = scheme_info(s, scheme)
    release = request.args.get("release") or sc.get("current_release")
    q = (request.args.get("q") or "").strip()
    return render_template(
        "scheme.html",
        sc=sc,
        release=release,
        roots=root_codes(s, scheme, release) if release else [],
        q=q,
        hits=search_codes(s, scheme, q, release) if q and release else None,
        json_twin=twin(f"/api/v1/schemes/{scheme}/codes", release=release, q=q or None)
        if release
        else f"/api/v1/schemes/{scheme}",
    )


@bp.route("/codes/<scheme>/<code>")
def code(scheme, code):
    s = session()
    sc = scheme_info(s, scheme)
    release = request.args.get("release") or sc.get("current_release")
    doc = code_document(s, scheme, code, release)
    return render_template(
        "code.html",
        sc=sc,
        c=doc,
        children=child_codes(s, scheme, doc["code"], doc.get("release")) if doc.get("children") else [],
        crosswalks=doc.get("crosswalks") or [],
        products=products_of(s, sc["id"], doc["code"]),
        json_twin=twin(f"/api/v1/schemes/{scheme}/codes/{doc['code']}", release=request.args.get("release")),
    )


@bp.route("/codes/validate", methods=["GET", "POST"])
def validate_codes():
    s = session()
    all_schemes = list_schemes(s)
    if request.method == "GET":
        return redirect(url_for("browse.schemes"))
    scheme_id = request.form.get("scheme", "")
    release = request.form.get("release") or None
    text = request.form.get("codes", "")
    lines = [line for line in text.splitlines() if line.strip()]
    error = None
    results = None
    if scheme_id not in {sc["id"] for sc in all_schemes}:
        error = _("请选择编码体系。")
    elif not lines:
        error = _("请粘贴要校验的编码，每行一个。")
    elif len(lines) > MAX_PASTED:
        error = _("一次最多校验 %(n)s 个编码。", n=MAX_PASTED)
    else:
        results = validate(s, scheme_id, lines, release)
    return render_template(
        "validate.html",
        schemes=all_schemes,
        scheme_id=scheme_id,
        release=release,
        text=text,
        error=error,
        results=results,
        valid=sum(1 for r in results or [] if r["valid"]),
        verdicts=VERDICTS,
        error_types=ERROR_TYPES,
        json_twin=None,
    ), (422 if error else 200)


# --- editing codes (steward) -----------------------------------------------------------------------


def _code_form(
    sc: dict, values: dict, errors: dict | None, *, new: bool, release: str | None, status: int = 200
):
    return render_template(
        "code_form.html",
        sc=sc,
        c=values,
        new=new,
        release=release,
        errors=errors or {},
        json_twin=None,
    ), status


def _code_values(form, *, new: bool) -> dict:
    values = {
        key: (form.get(key) or "").strip() or None for key in ("name", "name_en", "unit", "description")
    }
    values["name"] = values["name"] or ""
    if new:
        values["code"] = (form.get("code") or "").strip()
    return values


def _save_code(scheme: str, values: dict, *, code: str | None, release: str | None):
    """Call the same service as the API; returns (saved code document, field errors)."""
    try:
        with db().writer() as s:
            if code is None:
                return code_service.add_code(s, scheme, values, actor=actor(), release=release), None
            return code_service.update_code(s, scheme, code, values, actor=actor(), release=release), None
    except Invalid as exc:
        errors = labels.field_errors(exc.errors) if exc.errors else {}
        return None, errors or {"code" if code is None else "name": [labels.field_message(exc.message)]}
    except Conflict as exc:
        return None, {"code": [labels.field_message(exc.message)]}


@bp.route("/codes/<scheme>/new", methods=["GET", "POST"])
@steward_required
def code_new(scheme):
    sc = scheme_info(session(), scheme)
    release = request.values.get("release") or sc.get("current_release")
    if request.method == "GET":
        return _code_form(sc, {"code": request.args.get("code")}, None, new=True, release=release)
    values = _code_values(request.form, new=True)
    saved, errors = _save_code(scheme, values, code=None, release=release)
    if saved:
        flash(_("已新增编码 %(code)s。", code=saved["code"]))
        return redirect(url_for("browse.code", scheme=scheme, code=saved["code"], release=release))
    return _code_form(sc, values, errors, new=True, release=release, status=422)


@bp.route("/codes/<scheme>/<code>/edit", methods=["GET", "POST"])
@steward_required
def code_edit(scheme, code):
    s = session()
    sc = scheme_info(s, scheme)
    release = request.values.get("release") or sc.get("current_release")
    current = code_document(s, scheme, code, release)
    if request.method == "GET":
        return _code_form(sc, current, None, new=False, release=release)
    values = _code_values(request.form, new=False)
    saved, errors = _save_code(scheme, values, code=current["code"], release=release)
    if saved:
        flash(_("已保存编码 %(code)s。", code=saved["code"]))
        return redirect(url_for("browse.code", scheme=scheme, code=saved["code"], release=release))
    return _code_form(sc, {**current, **values}, errors, new=False, release=release, status=422)
