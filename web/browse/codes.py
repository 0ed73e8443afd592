"""Code pages: schemes and releases, the lazily expanded code tree, a code's page, the validation box."""

from __future__ import annotations

import csv
import io
import re

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from registry.errors import Conflict, Invalid, NotFound
from standards import codes as code_service
from standards import releases
from standards.schemas import CodeCreateSchema, CodeUpdateSchema
from standards.validation import get_validator
from traceability import products as trace_products
from traceability.models import PRODUCT_SCHEME
from web.browse import labels
from web.browse.access import steward_required
from web.browse.pages import bp, page_args, twin
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


def search_codes(s, scheme: str, q: str, release: str | None, page: int = 1, per_page: int = 50):
    """A page of matching codes (``.items``, ``.total``: every match, not only the page)."""
    return code_service.list_codes(s, scheme, q=q, release=release, page=page, per_page=per_page)


def reveal_path(s, scheme: str, code: str, release: str | None) -> list[str]:
    """The codes to open, root first, to show ``code`` in the tree (empty for an unknown code)."""
    try:
        doc = code_document(s, scheme, code, release)
    except (NotFound, Invalid):
        return []
    return [a["code"] for a in doc.get("ancestors") or []] + [doc["code"]]


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
    page, per_page = page_args(50, 200)
    found = search_codes(s, scheme, q, release, page, per_page) if q and release else None
    reveal = (request.args.get("reveal") or "").strip()
    return render_template(
        "scheme.html",
        sc=sc,
        release=release,
        roots=root_codes(s, scheme, release) if release else [],
        q=q,
        hits=found.items if found else None,
        total=found.total if found else 0,
        page=page,
        per_page=per_page,
        reveal=reveal_path(s, scheme, reveal, release) if reveal and release else [],
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


#: rows of results shown per page (a 5,000-code batch is read a page at a time; the export has them all)
RESULTS_PER_PAGE = 100


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of each non-blank line, numbered as in the pasted text (blank lines
    count), so a row number matches the spreadsheet the codes came from."""
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _validation(s, scheme_id: str, text: str, release: str | None) -> tuple[list[dict], str | None]:
    numbered = numbered_lines(text)
    if not numbered:
        return [], _("请粘贴要校验的编码，每行一个。")
    if len(numbered) > MAX_PASTED:
        return [], _("一次最多校验 %(n)s 个编码。", n=MAX_PASTED)
    results = validate(s, scheme_id, [line for _, line in numbered], release)
    for result, (n, _line) in zip(results, numbered, strict=True):
        result["line"] = n
    return results, None


def error_counts(results: list[dict]) -> dict[str, int]:
    """Invalid rows by error type (a row counts once per type it shows), most frequent first."""
    counts: dict[str, int] = {}
    for r in results:
        if not r["valid"]:
            for etype in dict.fromkeys(e["type"] for e in r["errors"] or [{"type": r["status"]}]):
                counts[etype] = counts.get(etype, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _export(results: list[dict], fmt: str, scheme_id: str):
    """The invalid rows as CSV (UTF-8 with BOM, for Excel) or XLSX, with their original line numbers."""
    header = [_("行号"), _("输入"), _("规范化编码"), _("结论"), _("错误类型"), _("说明"), _("替代编码")]
    rows = [
        [
            r["line"],
            r["input"] if isinstance(r["input"], str) else str(r["input"]),
            r["code"] or "",
            str(VERDICTS.get(r["status"], r["status"])),
            "、".join(str(ERROR_TYPES.get(e["type"], e["type"])) for e in r["errors"]),
            "；".join(labels.message(e["message"]) for e in r["errors"]),
            r["successor"] or "",
        ]
        for r in results
        if not r["valid"]
    ]
    name = f"invalid-{scheme_id}"
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(_("无效编码"))
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return Response(
            out.getvalue(),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _form_int(name: str, default: int) -> int:
    try:
        return max(1, int(request.form.get(name, default)))
    except (TypeError, ValueError):
        return default


@bp.route("/codes/validate", methods=["GET", "POST"])
def validate_codes():
    """Verdicts of pasted codes: counts by error type, invalid rows first, "只看无效", one error type,
    paging (the form re-posts the same text), and the invalid rows as CSV or XLSX."""
    s = session()
    all_schemes = list_schemes(s)
    if request.method == "GET":
        return redirect(url_for("browse.schemes"))
    scheme_id = request.form.get("scheme", "")
    release = request.form.get("release") or None
    text = request.form.get("codes", "")
    only_invalid = request.form.get("only_invalid") == "1"
    etype = (request.form.getlist("etype") or [""])[-1]  # a type button after the kept one wins
    results, error = [], None
    if scheme_id not in {sc["id"] for sc in all_schemes}:
        error = _("请选择编码体系。")
    else:
        results, error = _validation(s, scheme_id, text, release)
    export = request.form.get("export")
    if not error and export in ("csv", "xlsx"):
        return _export(results, export, scheme_id)
    valid = sum(1 for r in results if r["valid"])
    counts = error_counts(results)
    if etype not in counts:
        etype = ""
    shown = [r for r in results if not r["valid"]] + (
        [] if only_invalid or etype else [r for r in results if r["valid"]]
    )
    if etype:
        shown = [r for r in shown if etype in {e["type"] for e in r["errors"]} or r["status"] == etype]
    last = max(1, -(-len(shown) // RESULTS_PER_PAGE))
    page = min(_form_int("page", 1), last)
    return render_template(
        "validate.html",
        schemes=all_schemes,
        scheme_id=scheme_id,
        release=release,
        text=text,
        error=error,
        results=None if error else results,
        rows=shown[(page - 1) * RESULTS_PER_PAGE : page * RESULTS_PER_PAGE],
        shown_total=len(shown),
        first_row=(page - 1) * RESULTS_PER_PAGE + 1,
        page=page,
        last_page=last,
        only_invalid=only_invalid,
        etype=etype,
        counts=counts,
        valid=valid,
        verdicts=VERDICTS,
        error_types=ERROR_TYPES,
        json_twin=None,
    ), (422 if error else 200)


# --- editing codes (steward) -----------------------------------------------------------------------

ATTRIBUTE_TYPES = {
    "string": lazy_gettext("文本"),
    "number": lazy_gettext("数值"),
    "integer": lazy_gettext("整数"),
    "enum": lazy_gettext("枚举"),
}
#: the code form's fields in page order (the error summary lists errors in this order)
CODE_FIELDS = ("code", "name", "name_en", "unit", "description", "attributes", "successor")


def _code_form(
    sc: dict,
    values: dict,
    errors: dict | None,
    *,
    new: bool,
    release: str | None,
    status: int = 200,
    conflict: str | None = None,
):
    errors = errors or {}
    order = {k: i for i, k in enumerate(CODE_FIELDS)}
    return render_template(
        "code_form.html",
        sc=sc,
        c=values,
        new=new,
        release=release,
        errors=errors,
        error_list=sorted(errors.items(), key=lambda kv: (order.get(kv[0].split(".")[0], 99), kv[0])),
        field_labels=FIELD_LABELS,
        attribute_types=ATTRIBUTE_TYPES,
        example=((sc.get("examples") or {}).get("valid") or [None])[0]
        if isinstance(sc.get("examples"), dict)
        else None,
        attributes_bad=any(k.startswith("attributes") for k in errors),
        conflict=conflict,
        json_twin=None,
    ), status


FIELD_LABELS = {
    "code": lazy_gettext("编码"),
    "name": lazy_gettext("名称"),
    "name_en": lazy_gettext("英文名称"),
    "unit": lazy_gettext("计量单位"),
    "description": lazy_gettext("说明"),
    "attributes": lazy_gettext("属性模板"),
    "successor": lazy_gettext("替代编码"),
    "_": lazy_gettext("编码"),
}


def _number(text: str):
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text) if any(ch in text for ch in ".eE") else int(text)
    except ValueError:
        return text  # the schema says what is wrong with it


def _attribute_rows(form) -> list[dict]:
    """The attribute template table (one row per non-empty name), as the API's ``attributes`` list."""
    rows = zip(
        form.getlist("attr_name"),
        form.getlist("attr_type"),
        form.getlist("attr_unit"),
        form.getlist("attr_values"),
        form.getlist("attr_minimum"),
        form.getlist("attr_maximum"),
        strict=False,
    )
    required = set(form.getlist("attr_required"))
    out = []
    for i, (name, kind, unit, values, lo, hi) in enumerate(rows):
        if not name.strip():
            continue
        attr = {"name": name.strip(), "type": kind or "string", "required": str(i) in required}
        if unit.strip():
            attr["unit"] = unit.strip()
        if kind == "enum":
            attr["values"] = [v for v in re.split(r"[,，、;；]\s*", values.strip()) if v]
        for key, raw in (("minimum", lo), ("maximum", hi)):
            number = _number(raw)
            if number is not None:
                attr[key] = number
        out.append(attr)
    return out


def _code_values(form, *, new: bool) -> dict:
    values = {
        key: (form.get(key) or "").strip() or None for key in ("name", "name_en", "unit", "description")
    }
    values["name"] = values["name"] or ""
    values["attributes"] = _attribute_rows(form) or None
    if new:
        values["code"] = (form.get("code") or "").strip()
    return values


def _schema_errors(values: dict, *, new: bool) -> dict:
    """Every field error of the API's own schema at once (``CodeCreateSchema``/``CodeUpdateSchema``)."""
    schema = CodeCreateSchema() if new else CodeUpdateSchema()
    return labels.field_errors(schema.validate(values))


def _collect(errors: dict, check, *, fallback: str) -> None:
    """Run one of the service's checks (they write nothing) and add what it finds to ``errors``."""
    try:
        check()
    except Invalid as exc:
        found = (labels.field_errors(exc.errors) if exc.errors else {}) or {
            fallback: [labels.message(exc.message)]
        }
        for key, messages in found.items():
            errors.setdefault(key, []).extend(m for m in messages if m not in errors.get(key, []))
    except Conflict as exc:
        errors.setdefault(fallback, []).append(labels.message(exc.message))


def _save_code(
    scheme: str,
    values: dict,
    *,
    code: str | None,
    release: str | None,
    deprecate: bool = False,
    successor: str | None = None,
):
    """The API's schema and the services' own checks, every error at once; then the same services in
    one transaction (an edit and a deprecation together). Returns (saved key, field errors)."""
    errors = _schema_errors(values, new=code is None)
    with db().writer() as s:
        if code is None:
            _collect(errors, lambda: code_service.check_add_code(s, scheme, values, release), fallback="code")
        else:
            checked = {k: v for k, v in values.items() if k not in errors}
            _collect(
                errors,
                lambda: code_service.check_update_code(s, scheme, code, checked, release),
                fallback="name",
            )
            if deprecate:
                _collect(
                    errors,
                    lambda: code_service.check_deprecate_code(s, scheme, code, successor, release),
                    fallback="successor",
                )
        if errors:
            return None, errors
        if code is None:
            saved = code_service.add_code(s, scheme, values, actor=actor(), release=release, commit=False)
        else:
            saved = code_service.update_code(
                s, scheme, code, values, actor=actor(), release=release, commit=False
            )
            if deprecate:
                code_service.deprecate_code(
                    s, scheme, code, actor=actor(), successor=successor, release=release, commit=False
                )
        s.commit()
        return saved, None


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
    return _code_form(
        sc, {**values, "own_attributes": values["attributes"]}, errors, new=True, release=release, status=422
    )


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
    deprecate = request.form.get("deprecated") == "1"
    successor = (request.form.get("successor") or "").strip() or None
    if not deprecate and current["status"] == "deprecated":
        successor = current.get("successor")
    unchanged_deprecation = current["status"] == "deprecated" and (successor or None) == current.get(
        "successor"
    )
    saved, errors = _save_code(
        scheme,
        values,
        code=current["code"],
        release=release,
        deprecate=deprecate and not unchanged_deprecation,
        successor=successor,
    )
    if saved:
        flash(_("已保存编码 %(code)s。", code=saved["code"]))
        return redirect(url_for("browse.code", scheme=scheme, code=saved["code"], release=release))
    shown = {
        **current,
        **values,
        "own_attributes": values["attributes"],
        "status": "deprecated" if deprecate else current["status"],
        "successor": successor,
    }
    return _code_form(sc, shown, errors, new=False, release=release, status=422)
