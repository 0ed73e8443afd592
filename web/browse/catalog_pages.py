"""Catalog pages: search with facets (``/catalog``), a resource with fields, revisions and lineage, edit forms."""

from __future__ import annotations

import json
import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from catalog import categories, organizations
from catalog.models import FORMATS, SHARE_METHODS
from catalog.resources import create_resource, get_resource, update_resource
from catalog.revisions import list_revisions, show_revision
from catalog.schemas import ResourceSchema, ResourceUpdateSchema
from catalog.search import search_resources
from catalog.systems import list_systems
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


@bp.route("/catalog", endpoint="catalog")
def catalog_search():
    s = session()
    page, per_page = page_args(20)
    args = {k: request.args.get(k, "").strip() for k in ("q", "tag", *FACET_KEYS)}
    args = {k: v for k, v in args.items() if v}
    found = search_resources(s, {**args, "page": page, "per_page": per_page})
    return render_template(
        "catalog.html",
        found=found.envelope(),
        items=[r.to_dict() for r in found.items],
        args=args,
        q=args.get("q", ""),
        names=_names(s),
        facet_titles=labels.FACET_TITLES,
        total=found.total,
        page=page,
        per_page=per_page,
        json_twin=twin("/api/v1/resources", **args, page=page if page > 1 else None),
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


def form_context(res: dict, errors: dict | None = None, *, new: bool, etag: str | None = None) -> dict:
    """``render_template`` keywords of the resource form (the change request pages reuse it for proposals)."""
    s = session()
    return {
        "template_name_or_list": "resource_form.html",
        "r": res,
        "new": new,
        "etag": etag,
        "errors": _normalise_keys(errors or {}),
        "names": _names(s),
        "formats": FORMATS,
        "share_methods": SHARE_METHODS,
        "schemes": [sc["id"] for sc in codes.list_schemes(s)],
        "labels": labels,
        "json_twin": None,
    }


def _form(res: dict, errors: dict | None = None, *, new: bool, etag: str | None = None, status: int = 200):
    return render_template(**form_context(res, errors, new=new, etag=etag)), status


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
        return None, {"code": [labels.field_message(exc.message)]}, None
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
        session().expire_all()
        latest = get_resource(session(), code).to_dict()
        flash(stale)
        return _form(latest, {}, new=False, etag=etag_of(latest), status=409)
    return _form({**current, **values}, errors, new=False, etag=request.form.get("etag"), status=422)
