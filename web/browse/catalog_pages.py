"""Catalog pages: search with facets (``/catalog``), a resource with fields, revisions and lineage, edit forms."""

from __future__ import annotations

import json
import re
import unicodedata

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L
from markupsafe import Markup
from marshmallow import ValidationError

from catalog import categories, organizations
from catalog.models import FORMATS, SHARE_METHODS
from catalog.resources import create_resource, get_resource, update_resource
from catalog.revisions import list_revisions, show_revision
from catalog.schemas import ResourceSchema, ResourceUpdateSchema
from catalog.search import normalise_query, pinyin_initials, search_resources, suggest_query
from catalog.systems import list_systems
from lineage.drift import schema_drift
from registry.errors import Conflict, Invalid, NotFound, Stale
from registry.jsonutil import etag_of
from web.browse import codes, labels, lineage_pages
from web.browse.access import steward_required
from web.browse.pages import bp, page_args, twin
from web.context import actor, db, session

FACET_KEYS = ("category", "share_type", "security_grade", "system", "provider", "status")


def overview_counts(s) -> dict:
    """Systems and resources, for the overview (through the same list/search services as the API)."""
    return {
        "systems": list_systems(s, per_page=1).total,
        "resources": search_resources(s, {"per_page": 1}).total,
    }


def _names(s) -> dict[str, dict[str, str]]:
    """Display names of the coded facet values."""
    return {
        "category": {c["code"]: c["name"] for c in categories.as_list()},
        "system": {x.code: x.name for x in list_systems(s, per_page=1000).items},
        "provider": {o.code: o.name for o in organizations.list_(s, per_page=1000).items},
        "share_type": {k: str(v) for k, v in labels.SHARE_TYPES.items()},
        "security_grade": {k: str(v) for k, v in labels.SECURITY_GRADES.items()},
        "status": {k: str(v) for k, v in labels.STATUSES.items()},
    }


SORT_LABELS = {"relevance": L("相关度"), "code": L("代码"), "name": L("名称")}
#: facet values shown before "更多"
FACET_SHOWN = 8


def _mark(text: str, spans: list[tuple[int, int]]) -> Markup:
    """``text`` with ``<mark>`` around each span (spans may overlap; escaped everywhere)."""
    if not spans:
        return Markup.escape(text)
    covered = [False] * len(text)
    for a, b in spans:
        for i in range(a, min(b, len(text))):
            covered[i] = True
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and covered[j] == covered[i]:
            j += 1
        piece = Markup.escape(text[i:j])
        out.append(Markup("<mark>%s</mark>") % piece if covered[i] else piece)
        i = j
    return Markup("").join(out)


def _find(text: str, term: str) -> list[tuple[int, int]]:
    low = unicodedata.normalize("NFKC", text or "").lower()
    if len(low) != len(text or ""):
        return []  # NFKC changed the length: no safe mapping back, no highlight
    return [(m.start(), m.end()) for m in re.finditer(re.escape(term), low)]


def _pinyin_spans(text: str, term: str) -> list[tuple[int, int]]:
    """Where ``term`` (letters) matches the pinyin initials of ``text``'s Chinese characters."""
    if not term.isascii() or not term.isalpha():
        return []
    han = [i for i, ch in enumerate(text or "") if pinyin_initials(ch)]
    initials = "".join(pinyin_initials(text[i]) for i in han)
    spans = []
    for m in re.finditer(re.escape(term), initials):
        spans += [(han[k], han[k] + 1) for k in range(m.start(), m.end())]
    return spans


def why_matched(r: dict, q: str, system_name: str | None) -> dict:
    """What made a resource match ``q``: the labels of the matching items (名称, 摘要, 字段 contract_no, 标签,
    拼音首字母…) and its name and summary with the matches marked."""
    terms = normalise_query(q).split()
    reasons: list[str] = []
    name_spans, summary_spans = [], []

    def add(reason: str) -> None:
        if reason not in reasons:
            reasons.append(reason)

    for term in terms:
        hit = _find(r["name"], term)
        if hit:
            name_spans += hit
            add(_("名称"))
        pin = [] if hit else _pinyin_spans(r["name"], term)
        if pin:
            name_spans += pin
            add(_("名称拼音首字母"))
        found = _find(r.get("summary") or "", term)
        if found:
            summary_spans += found
            add(_("摘要"))
        if term in (r["code"] or "").lower():
            add(_("代码"))
        for tag in r.get("tags") or []:
            if term in unicodedata.normalize("NFKC", tag).lower() or term in pinyin_initials(tag):
                add(_("标签“%(t)s”", t=tag))
        for f in r.get("fields") or []:
            title = f.get("title") or ""
            if (
                term in (f.get("name") or "").lower()
                or term in title.lower()
                or (title and term in pinyin_initials(title))
            ):
                add(_("信息项“%(f)s”", f=title or f.get("name")))
        if system_name and (term in system_name.lower() or term in pinyin_initials(system_name)):
            add(_("业务系统“%(s)s”", s=system_name))
    return {
        "reasons": reasons,
        "name": _mark(r["name"], name_spans),
        "summary": _mark(
            _short(r.get("summary") or "", summary_spans), _shift(summary_spans, r.get("summary") or "")
        ),
    }


def _short(text: str, spans) -> str:
    start = _start(text, spans)
    out = text[start : start + 160]
    return out + ("…" if start + 160 < len(text) else "")


def _start(text: str, spans) -> int:
    """Where the shown part of a long summary starts: a little before its first match."""
    first = min((a for a, _ in spans), default=0)
    return 0 if first < 120 else first - 40


def _shift(spans, text: str):
    start = _start(text, spans)
    return [(a - start, b - start) for a, b in spans if a >= start]


@bp.route("/catalog", endpoint="catalog")
def catalog_search():
    s = session()
    page, per_page = page_args(20)
    args = {k: request.args.get(k, "").strip() for k in ("q", "tag", "sort", *FACET_KEYS)}
    args = {k: v for k, v in args.items() if v}
    if args.get("sort") not in SORT_LABELS or args.get("sort") == "relevance":
        args.pop("sort", None)
    found = search_resources(s, {**args, "page": page, "per_page": per_page})
    names = _names(s)
    q = args.get("q", "")
    items = [r.to_dict() for r in found.items]
    if q:
        for r in items:
            r["why"] = why_matched(r, q, names["system"].get(r.get("system")))
    return render_template(
        "catalog.html",
        found=found.envelope(),
        items=items,
        args=args,
        q=q,
        names=names,
        facet_titles=labels.FACET_TITLES,
        facet_shown=FACET_SHOWN,
        sort=args.get("sort", "relevance"),
        sorts=SORT_LABELS,
        suggestion=suggest_query(s, q) if q and not found.total else None,
        total=found.total,
        page=page,
        per_page=per_page,
        json_twin=twin(
            "/api/v1/resources",
            **{k: v for k, v in args.items() if k != "sort"},
            page=page if page > 1 else None,
        ),
    )


def _lineage_drawing(s, resource: dict):
    """The resource's lineage neighbourhood (two steps each way), or None when lineage has not seen it."""
    identity = resource.get("lineage")
    if not identity:
        return None, None
    node = f"dataset:{identity['namespace']}:{identity['name']}"
    try:
        graph = lineage_pages.query_graph(s, node=node, direction="both", depth=2, level="dataset")
    except (NotFound, Invalid):
        return node, None
    if not graph["nodes"]:
        return node, None
    return node, lineage_pages.drawing(graph, node, lineage_pages.resource_names(s))


@bp.route("/catalog/<code>")
def resource(code):
    s = session()
    res = get_resource(s, code).to_dict()
    revisions = list_revisions(s, code, per_page=20)
    changes = [show_revision(s, code, r.number) for r in revisions.items]
    node, drawn = _lineage_drawing(s, res)
    return render_template(
        "resource.html",
        drift=schema_drift(s, code),
        r=res,
        names=_names(s),
        revisions=changes,
        revision_total=revisions.total,
        node=node,
        drawn=drawn,
        columns=lineage_pages.field_lineage_rows(s, res),
        labels=labels,
        json_twin=f"/api/v1/resources/{code}",
    )


# --- editing ---------------------------------------------------------------------------------


def _split(text: str) -> list[str]:
    return [p for p in re.split(r"[,，;；、\s]+", text or "") if p]


def _blank_none(value: str | None):
    value = (value or "").strip()
    return value or None


def form_values(form) -> dict:
    """The resource as the API would receive it, from the form's flat fields."""
    values = {
        "name": (form.get("name") or "").strip(),
        "summary": (form.get("summary") or "").strip(),
        "category": form.get("category") or "",
        "provider": form.get("provider") or "",
        "system": _blank_none(form.get("system")),
        "format": _blank_none(form.get("format")),
        "share_type": form.get("share_type") or "conditional",
        "share_condition": _blank_none(form.get("share_condition")),
        "share_method": _blank_none(form.get("share_method")),
        "open_to_public": form.get("open_to_public") == "1",
        "open_condition": _blank_none(form.get("open_condition")),
        "update_cycle": _blank_none(form.get("update_cycle")),
        "published_on": _blank_none(form.get("published_on")),
        "security_grade": form.get("security_grade") or "general",
        "related": _split(form.get("related", "")),
        "tags": _split(form.get("tags", "")),
        "steward": _blank_none(form.get("steward")),
        "status": form.get("status") or "draft",
    }
    ns, lname = _blank_none(form.get("lineage_namespace")), _blank_none(form.get("lineage_name"))
    values["lineage"] = {"namespace": ns, "name": lname} if ns or lname else None
    values["fields"] = _field_rows(form)
    return values


def _field_rows(form) -> list[dict]:
    """The fields table of the form (one row per non-empty name), as the API's ``fields`` list."""
    fields = []
    rows = zip(
        form.getlist("field_name"),
        form.getlist("field_title"),
        form.getlist("field_type"),
        form.getlist("field_code_scheme"),
        form.getlist("field_description"),
        form.getlist("field_constraints"),
        strict=False,
    )
    required, unique = set(form.getlist("field_required")), set(form.getlist("field_unique"))
    for i, (name, title, ftype, scheme, description, constraints) in enumerate(rows):
        if not name.strip():
            continue
        try:
            kept = json.loads(constraints) if constraints.strip() else {}
        except ValueError:
            kept = {}
        fields.append(
            {
                "name": name.strip(),
                "title": _blank_none(title),
                "type": ftype or "string",
                "required": str(i) in required,
                "unique": str(i) in unique,
                "code_scheme": _blank_none(scheme),
                "constraints": kept if isinstance(kept, dict) else {},
                "description": _blank_none(description),
            }
        )
    return fields


def _normalise_keys(errors: dict) -> dict:
    return {re.sub(r"\[(\d+)\]", r".\1", k): v for k, v in errors.items()}


def form_context(
    res: dict, errors: dict | None = None, *, new: bool, etag: str | None = None, conflict: dict | None = None
) -> dict:
    """``render_template`` keywords of the resource form (the change request pages reuse it for proposals)."""
    s = session()
    errors = _normalise_keys(errors or {})
    return {
        "template_name_or_list": "resource_form.html",
        "r": res,
        "new": new,
        "etag": etag,
        "errors": errors,
        "error_list": list(errors.items()),
        "conflict": conflict,
        "names": _names(s),
        "formats": FORMATS,
        "share_methods": SHARE_METHODS,
        "schemes": [sc["id"] for sc in codes.list_schemes(s)],
        "labels": labels,
        "json_twin": None,
    }


def _form(
    res: dict,
    errors: dict | None = None,
    *,
    new: bool,
    etag: str | None = None,
    status: int = 200,
    conflict: dict | None = None,
):
    return render_template(**form_context(res, errors, new=new, etag=etag, conflict=conflict)), status


def _save(values: dict, *, code: str | None, etag: str | None):
    """Validate like the API (same schema), then call the same service; returns (resource, errors)."""
    try:
        if code is None:
            loaded = ResourceSchema().load(values)
        else:
            loaded = ResourceUpdateSchema().load(values)
    except ValidationError as exc:
        return None, labels.field_errors(exc.messages), None
    try:
        with db().writer() as s:
            if code is None:
                saved = create_resource(s, loaded, actor=actor())
            else:
                saved = update_resource(s, code, loaded, actor=actor(), if_match=etag)
            return saved.code, None, None
    except Invalid as exc:
        return None, labels.field_errors(exc.errors), None
    except Conflict as exc:
        return None, {"code": [labels.message(exc.message)]}, None
    except Stale:
        return None, {}, _("保存前此资源已被他人修改：下面是最新内容，请重新修改后保存。")


@bp.route("/catalog/new", methods=["GET", "POST"])
@steward_required
def resource_new():
    if request.method == "GET":
        return _form({"fields": [], "status": "draft", "share_type": "conditional"}, new=True)
    values = {"code": (request.form.get("code") or "").strip(), **form_values(request.form)}
    code, errors, stale = _save(values, code=None, etag=None)
    if code:
        flash(_("已创建数据资源 %(code)s。", code=code))
        return redirect(url_for("browse.resource", code=code))
    return _form(values, errors, new=True, status=422)


@bp.route("/catalog/<code>/edit", methods=["GET", "POST"])
@steward_required
def resource_edit(code):
    current = get_resource(session(), code).to_dict()
    if request.method == "GET":
        return _form(current, new=False, etag=etag_of(current))
    values = form_values(request.form)
    if values["fields"] == current["fields"]:
        del values["fields"]  # unchanged: a PATCH of the other metadata only
    saved, errors, stale = _save(values, code=code, etag=request.form.get("etag") or None)
    if saved:
        flash(_("已保存数据资源 %(code)s。", code=code))
        return redirect(url_for("browse.resource", code=code))
    if stale:
        # the steward's typing is kept: their values over the latest version, the latest's ETag (so the
        # next save is a deliberate overwrite), and what the other steward saved where the two differ
        session().expire_all()
        latest = get_resource(session(), code).to_dict()
        typed = form_values(request.form)
        differs = [k for k in typed if k in latest and latest[k] != typed[k]]
        conflict = {"latest": latest, "fields": differs}
        return _form({**latest, **typed}, {}, new=False, etag=etag_of(latest), status=409, conflict=conflict)
    return _form({**current, **values}, errors, new=False, etag=request.form.get("etag"), status=422)
