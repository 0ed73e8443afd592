"""The webhooks pages (``/webhooks``, admins only): each subscription, its delivery log, a test event, re-enabling."""

from __future__ import annotations

import functools

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from registry.errors import Forbidden
from web.api.webhooks import tools
from web.browse.access import can
from web.browse.pages import bp, page_args, twin
from web.context import actor, db, principal, session
from webhooks import events, service


def admin_required(view):
    """Anonymous visitors go to the login page; a logged-in visitor below admin gets 403."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if principal() is None:
            return redirect(url_for("browse.login", next=request.full_path.rstrip("?")))
        if not can("admin"):
            raise Forbidden(_("只有系统管理员可以查看和管理订阅。"))
        return view(*args, **kwargs)

    return wrapped


@bp.route("/webhooks")
@admin_required
def webhooks():
    s = session()
    page, per_page = page_args(50)
    found = service.list_(s, page=page, per_page=per_page)
    return render_template(
        "webhooks.html",
        hooks=[h.to_dict() for h in found.items],
        head=events.head_seq(s),
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        json_twin=twin("/api/v1/webhooks"),
    )


@bp.route("/webhooks/<int:webhook_id>")
@admin_required
def webhook(webhook_id):
    s = session()
    page, per_page = page_args(50)
    status = request.args.get("status") or None
    status = status if status in service.STATUSES else None
    log = service.deliveries(s, webhook_id, status=status, page=page, per_page=per_page)
    return render_template(
        "webhook.html",
        hook=service.get(s, webhook_id).to_dict(),
        head=events.head_seq(s),
        deliveries=[d.to_dict() for d in log.items],
        status=status,
        statuses=service.STATUSES,
        total=log.total,
        page=log.page,
        per_page=log.per_page,
        json_twin=twin(f"/api/v1/webhooks/{webhook_id}/deliveries", status=status),
    )


@bp.route("/webhooks/<int:webhook_id>/test", methods=["POST"])
@admin_required
def webhook_test(webhook_id):
    with db().writer() as s:
        service.queue_test(s, webhook_id)
    flash(_("已加入测试事件，发送结果见下方投递记录。"))
    return redirect(url_for("browse.webhook", webhook_id=webhook_id))


@bp.route("/webhooks/<int:webhook_id>/enable", methods=["POST"])
@admin_required
def webhook_enable(webhook_id):
    t = tools()
    with db().writer() as s:
        service.update(s, webhook_id, {"enabled": True}, actor=actor(), guard=t.guard, box=t.box)
    flash(_("订阅已重新启用，将从中断处继续投递。"))
    return redirect(url_for("browse.webhook", webhook_id=webhook_id))
