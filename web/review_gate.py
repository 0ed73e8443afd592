"""``YIMA_REQUIRE_REVIEW``: on this server the named areas change through change requests only.

Direct writes of codes (add, edit, deprecate) or of resources (create, edit, delete) by anyone below
admin answer 403 pointing at ``/api/v1/requests`` (the browse forms send the visitor to the proposal form
instead). Admins keep their direct writes, for repairs and bulk imports; each is still audited. Without a
token the view's own 401 comes first. One table of endpoints, checked before every request.
"""

from __future__ import annotations

from flask import Flask, redirect, request, url_for
from flask_babel import gettext as _

from registry.errors import Forbidden
from registry.tokens import has_role
from web.context import config, principal

#: endpoint → (area, the methods that write)
GATED = {
    "schemes.Codes": ("codes", {"POST"}),
    "schemes.CodeItem": ("codes", {"PATCH"}),
    "schemes.Deprecate": ("codes", {"POST"}),
    "resources.Resources": ("resources", {"POST"}),
    "resources.ResourceItem": ("resources", {"PUT", "PATCH", "DELETE"}),
    "browse.code_new": ("codes", {"GET", "POST"}),
    "browse.code_edit": ("codes", {"GET", "POST"}),
    "browse.resource_new": ("resources", {"GET", "POST"}),
    "browse.resource_edit": ("resources", {"GET", "POST"}),
}


def _proposal_form(area: str):
    args = dict(request.view_args or {})
    if area == "codes":
        return url_for("browse.propose_code", scheme=args.get("scheme"), code=args.get("code"))
    return url_for("browse.propose_resource", code=args.get("code"))


def check_direct_write():
    """Refuse a direct write of an area that requires review (403, or a redirect to the proposal form)."""
    gate = GATED.get(request.endpoint or "")
    if gate is None or gate[0] not in config().require_review or request.method not in gate[1]:
        return None
    who = principal()
    if who is None or has_role(who.role, "admin"):
        return None  # the view answers 401 itself; admins may still write directly
    if request.endpoint.startswith("browse.") and request.method == "GET":
        return redirect(_proposal_form(gate[0]))
    raise Forbidden(
        _(
            "此服务器要求%(area)s的修改经三方审核：请提交变更申请（POST /api/v1/requests）。",
            area=_AREAS[gate[0]](),
        )
        if request.endpoint.startswith("browse.")
        else f"{gate[0]} change through change requests on this server (YIMA_REQUIRE_REVIEW): "
        "submit one with POST /api/v1/requests"
    )


_AREAS = {"codes": lambda: _("分类编码"), "resources": lambda: _("数据资源")}


def init_app(app: Flask) -> None:
    app.before_request(check_direct_write)
