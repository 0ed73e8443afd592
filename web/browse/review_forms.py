"""Proposal forms: a code (add, edit, deprecate), a spreadsheet of new codes, a resource (create, edit), each
submitted as a change request; a returned request is amended with the same form and resubmitted."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from catalog.resources import get_resource
from registry.errors import Conflict, Forbidden, Invalid, NotFound, TooLarge
from review import code_changes, workflow
from standards.importer import reader
from web.browse import catalog_pages, codes, labels, review_pages
from web.browse.access import login_required
from web.browse.pages import bp
from web.context import actor, db, principal, session

CODE_KINDS = ("code.add", "code.update", "code.deprecate")
_CODE_TEXT = ("name", "name_en", "unit", "description")


def _errors(exc) -> dict[str, list[str]]:
    """A service's errors as the form's field keys (``payload.name`` → ``name``; rows kept by number)."""
    found = labels.field_errors(exc.errors) if isinstance(exc.errors, dict) else {}
    out = {key.removeprefix("payload."): msgs for key, msgs in found.items()}
    return out or {"_": [labels.message(exc.message)]}


def _send(draft: dict, amend: int | None):
    """Submit ``draft`` (or resubmit request ``amend`` with it); returns (request id, errors)."""
    try:
        with db().writer() as s:
            if amend is None:
                req = workflow.submit(s, actor=actor(), **{k: v for k, v in draft.items() if k != "comment"})
            else:
                extra = {k: draft[k] for k in ("payload", "reason")}
                req = workflow.resubmit(s, amend, actor=actor(), comment=draft.get("comment"), **extra)
            return req.id, None
    except (Invalid, Conflict, Forbidden, TooLarge) as exc:
        return None, _errors(exc)


def _sent(request_id: int, amend: int | None):
    if amend is None:
        flash(_("已提交变更申请 #%(id)s，等待监理单位审核。", id=request_id))
    else:
        flash(_("已重新提交变更申请 #%(id)s。", id=request_id))
    return redirect(url_for("browse.request_page", request_id=request_id))


def _amendable(request_id: int | None):
    """The returned request the visitor may amend (None for a new proposal). Raises Forbidden, Conflict."""
    if request_id is None:
        return None
    req = workflow.get(session(), request_id)
    if req.submitted_by != principal().name:
        raise Forbidden(_("只有提交人可以修改后重新提交。"))
    if req.status != "returned":
        raise Conflict(_("只有已退回的申请可以修改后重新提交。"))
    return req


# --- codes -----------------------------------------------------------------------------------------


def _code_schemes() -> list[dict]:
    return [
        sc for sc in codes.list_schemes(session()) if sc.get("has_code_list") and sc.get("current_release")
    ]


def _code_form(values: dict, errors: dict | None = None, *, amend=None, sheet_errors=None, status: int = 200):
    schemes = _code_schemes()
    return render_template(
        "propose_code.html",
        v=values,
        errors=errors or {},
        sheet_errors=sheet_errors,
        schemes=schemes,
        scheme_choices=[(sc["id"], sc["name"]) for sc in schemes],
        kind_choices=[(k, review_pages.KIND_LABELS[k]) for k in CODE_KINDS],
        amend=amend,
        json_twin=None,
    ), status


def _code_draft(form) -> dict:
    """The request the form describes: a code to add, a code's changed fields, or a deprecation."""
    kind = form.get("kind") if form.get("kind") in CODE_KINDS else "code.add"
    scheme, target = form.get("scheme") or None, (form.get("target") or "").strip() or None
    text = {k: (form.get(k) or "").strip() or None for k in _CODE_TEXT if k in form}
    if kind == "code.add":
        payload = {"code": (form.get("code") or "").strip(), **{k: v for k, v in text.items() if v}}
        payload["name"] = text.get("name") or ""
    elif kind == "code.update":
        payload = _changed_code_fields(scheme, target, text)
    else:
        payload = {"successor": (form.get("successor") or "").strip() or None}
    return {
        "kind": kind,
        "scheme": scheme,
        "target": target,
        "payload": payload,
        "reason": form.get("reason", ""),
    }


def _changed_code_fields(scheme: str | None, target: str | None, text: dict) -> dict:
    """Only the fields that differ from the code as it is (the form shows all of them)."""
    try:
        current = codes.code_document(session(), scheme, target, None) if scheme and target else {}
    except NotFound:
        current = {}
    changed = {k: v for k, v in text.items() if v != current.get(k)}
    if "name" in changed and not changed["name"]:
        changed["name"] = ""
    return changed


def _code_prefill() -> dict:
    schemes = _code_schemes()
    scheme = request.args.get("scheme") or ("szgws-me" if any(s["id"] == "szgws-me" for s in schemes) else "")
    values = {
        "kind": request.args.get("kind") or "code.add",
        "scheme": scheme,
        "code": request.args.get("parent"),
    }
    target = request.args.get("code")
    if scheme and target:
        try:
            doc = codes.code_document(session(), scheme, target, None)
        except NotFound:
            doc = None
        if doc:
            values.update({"kind": request.args.get("kind") or "code.update", "target": doc["code"]})
            values.update({k: doc.get(k) for k in _CODE_TEXT})
    return values


@bp.route("/requests/new/code", methods=["GET", "POST"])
@login_required
def propose_code():
    if request.method == "GET":
        return _code_form(_code_prefill())
    draft = _code_draft(request.form)
    request_id, errors = _send(draft, None)
    if request_id:
        return _sent(request_id, None)
    return _code_form({**request.form.to_dict(), "kind": draft["kind"]}, errors, status=422)


@bp.route("/requests/new/code-sheet", methods=["POST"])
@login_required
def propose_code_sheet():
    """A spreadsheet of new codes (CSV or XLSX, the import's headers) as one request of many rows."""
    amend = _amendable(request.form.get("amend", type=int))
    upload = request.files.get("file")
    form = request.form.to_dict()
    if upload is None or not upload.filename:
        return _code_form(form, {"file": [_("请选择文件。")]}, amend=amend, status=422)
    try:
        table = reader.read_table(upload.filename, upload.read())
    except Invalid as exc:
        return _code_form(form, {"file": [exc.message]}, amend=amend, status=422)
    draft = {
        "kind": "code.add",
        "scheme": form.get("scheme") or None,
        "payload": code_changes.rows_payload(table),
        "reason": form.get("reason", "") or (amend.reason if amend else ""),
        "comment": form.get("comment"),
    }
    request_id, errors = _send(draft, amend.id if amend else None)
    if request_id:
        return _sent(request_id, amend.id if amend else None)
    rows = {k.removeprefix("rows."): v for k, v in errors.items() if k.startswith("rows.")}
    other = {k: v for k, v in errors.items() if not k.startswith("rows.")}
    return _code_form(form, other, amend=amend, sheet_errors=rows or None, status=422)


# --- resources -------------------------------------------------------------------------------------


def _resource_form(res: dict, errors: dict | None, *, new: bool, reason: str = "", amend=None, status=200):
    if amend is not None:
        action = url_for("browse.request_amend", request_id=amend.id)
    else:
        action = url_for("browse.propose_resource", code=None if new else res.get("code"))
    page = catalog_pages.form_context(res, errors, new=new)
    return render_template(**page, proposal=True, form_action=action, reason=reason, amend=amend), status


def _resource_payload(values: dict, current: dict | None) -> dict:
    """What a proposal sends: the whole resource to create, or the fields that differ from the current one
    (checked by the service with the direct write's schema: its messages come back as field errors)."""
    if current is None:
        return values
    return {k: v for k, v in values.items() if current.get(k) != v}


@bp.route("/requests/new/resource", methods=["GET", "POST"])
@login_required
def propose_resource():
    code = request.args.get("code") or None
    current = get_resource(session(), code).to_dict() if code else None
    if request.method == "GET":
        blank = {"fields": [], "status": "draft", "share_type": "conditional"}
        return _resource_form(current or blank, None, new=current is None)
    values = catalog_pages.form_values(request.form)
    if current is None:
        values = {"code": (request.form.get("code") or "").strip(), **values}
    draft = {
        "kind": "resource.create" if current is None else "resource.update",
        "target": code,
        "payload": _resource_payload(values, current),
        "reason": request.form.get("reason", ""),
    }
    request_id, errors = _send(draft, None)
    if request_id:
        return _sent(request_id, None)
    shown = {**(current or {}), **values}
    return _resource_form(shown, errors, new=current is None, reason=draft["reason"], status=422)


# --- amending a returned request ---------------------------------------------------------------------


@bp.route("/requests/<int:request_id>/amend", methods=["GET", "POST"])
@login_required
def request_amend(request_id):
    req = _amendable(request_id)
    if req.kind.startswith("resource."):
        return _amend_resource(req)
    if request.method == "GET":
        values = {
            "kind": req.kind,
            "scheme": req.scheme,
            "target": req.target,
            "reason": req.reason,
            **req.payload,
        }
        return _code_form(values, amend=req)
    draft = {**_code_draft(request.form), "kind": req.kind, "comment": request.form.get("comment")}
    request_id, errors = _send(draft, req.id)
    if request_id:
        return _sent(request_id, req.id)
    return _code_form({**request.form.to_dict(), "kind": req.kind}, errors, amend=req, status=422)


def _amend_resource(req):
    current = get_resource(session(), req.target).to_dict() if req.kind == "resource.update" else None
    new = current is None
    if request.method == "GET":
        return _resource_form({**(current or {}), **req.payload}, None, new=new, reason=req.reason, amend=req)
    values = catalog_pages.form_values(request.form)
    if new:
        values = {"code": (request.form.get("code") or "").strip(), **values}
    draft = {
        "payload": _resource_payload(values, current),
        "reason": request.form.get("reason", ""),
        "comment": request.form.get("comment"),
    }
    request_id, errors = _send(draft, req.id)
    if request_id:
        return _sent(request_id, req.id)
    return _resource_form(
        {**(current or {}), **values}, errors, new=new, reason=draft["reason"], amend=req, status=422
    )
