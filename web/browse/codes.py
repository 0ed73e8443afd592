"""Code pages: schemes and releases, the lazily expanded code tree, a code's page, the validation box."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from registry.errors import NotFound
from web.browse.pages import bp, twin
from web.context import session

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


def _service():
    from standards import service

    return service


# --- adapters onto the standards service (the same functions the API views call) ---------------


def list_schemes(s) -> list[dict]:
    return _service().schemes_document(s)


def root_codes(s, scheme: str, release: str | None) -> list[dict]:
    return _service().children_document(s, scheme, None, release=release)


def code_document(s, scheme: str, code: str, release: str | None) -> dict:
    return _service().code_document(s, scheme, code, release=release)


def child_codes(s, scheme: str, code: str, release: str | None) -> list[dict]:
    return _service().children_document(s, scheme, code, release=release)


def crosswalks(s, scheme: str, code: str, release: str | None) -> list[dict]:
    return _service().crosswalks_document(s, scheme, code, release=release)


def search_codes(s, scheme: str, q: str, release: str | None) -> list[dict]:
    return _service().search_document(s, scheme, q, release=release, limit=50)


def validate(s, scheme: str, codes: list[str], release: str | None) -> list[dict]:
    from standards.validation import get_validator

    return get_validator(s, scheme, release or None).validate(codes)


def overview_schemes(s) -> list | None:
    """Every scheme with its current release and code count, for the overview."""
    try:
        found = list_schemes(s)
    except (ImportError, AttributeError):
        return None
    rows = []
    for sc in found:
        current = next((r for r in sc["releases"] if r["release"] == sc.get("current_release")), None)
        rows.append({**sc, "codes": current["codes"] if current else 0})
    return rows


# --- pages ---------------------------------------------------------------------------------------


@bp.route("/codes")
def schemes():
    return render_template("codes.html", schemes=list_schemes(session()), json_twin="/api/v1/schemes")


def _scheme_or_404(s, scheme: str) -> dict:
    for sc in list_schemes(s):
        if sc["id"] == scheme:
            return sc
    raise NotFound(_("没有编码体系 %(s)s", s=scheme))


@bp.route("/codes/<scheme>")
def scheme(scheme):
    s = session()
    sc = _scheme_or_404(s, scheme)
    release = request.args.get("release") or sc.get("current_release")
    q = (request.args.get("q") or "").strip()
    return render_template(
        "scheme.html",
        sc=sc,
        release=release,
        roots=root_codes(s, scheme, release) if release else [],
        q=q,
        hits=search_codes(s, scheme, q, release) if q and release else None,
        json_twin=twin(f"/api/v1/schemes/{scheme}/codes", release=release, q=q or None),
    )


@bp.route("/codes/<scheme>/<path:code>")
def code(scheme, code):
    s = session()
    sc = _scheme_or_404(s, scheme)
    release = request.args.get("release") or sc.get("current_release")
    doc = code_document(s, scheme, code, release)
    return render_template(
        "code.html",
        sc=sc,
        c=doc,
        children=child_codes(s, scheme, doc["code"], doc.get("release")) if doc.get("children") else [],
        crosswalks=crosswalks(s, scheme, doc["code"], doc.get("release")),
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
