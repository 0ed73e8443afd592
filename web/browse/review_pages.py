"""Change request pages: the 待办 queue and the list (``/requests``), a request with its diff, history and
the actions the visitor may take (``/requests/{id}``), and those actions. Proposal forms: ``review_forms``."""

from __future__ import annotations

import re

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L

from catalog import organizations
from catalog.models import ORGANIZATION_KINDS
from registry.errors import Conflict, Forbidden, Invalid
from review import workflow
from review.models import KINDS, STATUSES
from web.browse.access import can, login_required
from web.browse.pages import bp, page_args, twin
from web.context import actor, db, principal, session

KIND_LABELS = {
    "code.add": L("新增编码"),
    "code.update": L("修改编码"),
    "code.deprecate": L("废止编码"),
    "resource.create": L("新建数据资源"),
    "resource.update": L("修改数据资源"),
}
STATUS_LABELS = {
    "submitted": L("待监理审核"),
    "reviewed": L("待建设单位决定"),
    "returned": L("已退回"),
    "approved": L("已批准"),
    "rejected": L("已驳回"),
}
ACTION_LABELS = {
    "submit": L("提交"),
    "endorse": L("审核通过"),
    "return": L("退回修改"),
    "resubmit": L("修改后重新提交"),
    "approve": L("批准"),
    "reject": L("驳回"),
}
#: the workflow's refusals (English, as the API says them) as a reviewer reads them on the page
_REFUSALS = [
    (
        re.compile(r"changed since change request"),
        lambda: _("提交后对象已被修改，未作任何改动：请驳回，由提交人按当前内容重新提议。"),
    ),
    (re.compile(r"no longer applies"), lambda: _("此申请已不适用（对象在提交后有变化），未作任何改动。")),
    (re.compile(r"their own|its own"), lambda: _("不能审核或决定本人或本单位提交的申请。")),
    (re.compile(r"organization reviews"), lambda: _("只有监理单位可以审核变更申请。")),
    (
        re.compile(r"decides change requests"),
        lambda: _("只有建设单位或建设主管单位的数据管理员可以决定变更申请。"),
    ),
    (re.compile(r"comment is required"), lambda: _("退回和驳回须说明理由。")),
    (re.compile(r"has already acted"), lambda: _("你已处理过此申请。")),
    (re.compile(r"only a \w+ request can be"), lambda: _("此申请当前的状态不允许该操作。")),
    (re.compile(r"acts for no organization"), lambda: _("此令牌不属于任何单位，不能处理变更申请。")),
]


def refusal_text(message: str) -> str:
    """A refusal in the page's language (a message not known here is shown as the service wrote it)."""
    for pattern, text in _REFUSALS:
        if pattern.search(message):
            return text()
    return message


#: an action of the request page → the workflow step that performs it
STEPS = {
    "endorse": "review",
    "return": "review",
    "approve": "decide",
    "reject": "decide",
    "resubmit": "resubmit",
}


def _org_names(s) -> dict[str, str]:
    return {o.code: o.name for o in organizations.list_(s, per_page=1000).items}


def todo_page(s, page: int = 1, per_page: int = 50):
    """The visitor's 待办 (None when nobody is logged in)."""
    who = principal()
    if who is None:
        return None
    return workflow.todo(
        s, name=who.name, role=who.role, organization=who.organization, page=page, per_page=per_page
    )


def review_counts() -> dict:
    """Open requests by status and the visitor's 待办 count, once per page (overview cards, the nav)."""
    if "review_counts" not in g:
        s = session()
        counts = workflow.counts(s)
        mine = todo_page(s, per_page=1)
        g.review_counts = {
            **counts,
            "open": counts["submitted"] + counts["reviewed"],
            "todo": None if mine is None else mine.total,
        }
    return g.review_counts


def organization_label(code: str | None) -> str:
    """``code`` with its name (the header shows whom a logged-in token acts for)."""
    if not code:
        return ""
    names = g.get("org_names")
    if names is None:
        names = g.org_names = _org_names(session())
    return f"{names.get(code, code)} ({code})"


@bp.app_context_processor
def _review_globals():
    return {
        "review_counts": review_counts,
        "organization_label": organization_label,
        "kind_label": lambda k: KIND_LABELS.get(k, k),
        "status_label": lambda st: STATUS_LABELS.get(st, st),
        "action_label": lambda a: ACTION_LABELS.get(a, a),
    }


@bp.route("/requests")
def requests_list():
    s = session()
    page, per_page = page_args(25)
    filters = {k: request.args.get(k, "").strip() or None for k in ("status", "kind", "organization")}
    filters = {
        "status": filters["status"] if filters["status"] in STATUSES else None,
        "kind": filters["kind"] if filters["kind"] in KINDS else None,
        "organization": filters["organization"],
    }
    found = workflow.list_requests(s, page=page, per_page=per_page, **filters)
    mine = todo_page(s, per_page=100)
    return render_template(
        "requests.html",
        items=[workflow.request_dict(r) for r in found.items],
        todo=None if mine is None else [workflow.request_dict(r) for r in mine.items],
        todo_total=None if mine is None else mine.total,
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        filters=filters,
        statuses=STATUSES,
        kinds=KINDS,
        org_names=_org_names(s),
        org_kinds=ORGANIZATION_KINDS,
        json_twin=twin("/api/v1/requests", **filters),
    )


def _page(request_id: int, *, error: str | None = None, errors=None, status: int = 200):
    s = session()
    req = workflow.get(s, request_id)
    who = principal()
    actions = (
        workflow.allowed_actions(s, req, name=who.name, role=who.role, organization=who.organization)
        if who
        else []
    )
    shown = workflow.view(s, req)
    return render_template(
        "request.html",
        r=shown["request"],
        d=shown["diff"],
        actions=actions,
        error=error,
        errors=errors,
        org_names=_org_names(s),
        json_twin=f"/api/v1/requests/{request_id}/diff",
    ), status


@bp.route("/requests/<int:request_id>")
def request_page(request_id):
    return _page(request_id)


@bp.route("/requests/<int:request_id>/act", methods=["POST"])
@login_required
def request_act(request_id):
    """One action of the request page (the same workflow functions as the API)."""
    action = request.form.get("action", "")
    step = STEPS.get(action)
    comment = request.form.get("comment") or None
    if step is None:
        raise Invalid(_("未知的操作。"))
    if step == "decide" and not can("steward"):
        raise Forbidden(_("只有建设单位的数据管理员可以决定。"))
    try:
        with db().writer() as s:
            if step == "review":
                workflow.review(s, request_id, decision=action, comment=comment, actor=actor())
            elif step == "decide":
                workflow.decide(s, request_id, decision=action, comment=comment, actor=actor())
            else:
                workflow.resubmit(s, request_id, comment=comment, actor=actor())
    except (Invalid, Conflict, Forbidden) as exc:
        session().expire_all()
        return _page(request_id, error=refusal_text(exc.message), errors=exc.errors, status=exc.status)
    flash(_("已%(action)s变更申请 #%(id)s。", action=ACTION_LABELS[action], id=request_id))
    return redirect(url_for("browse.request_page", request_id=request_id))
