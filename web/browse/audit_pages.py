"""The audit history (``/audit``): entries filterable by entity and actor, before/after diffs, chain verification."""

from __future__ import annotations

from flask import render_template, request

from registry import audit
from web.browse.pages import bp, page_args, twin
from web.context import session


@bp.route("/audit")
def audit_list():
    s = session()
    page, per_page = page_args(25)
    filters = {
        key: request.args.get(key, "").strip() or None for key in ("entity_type", "entity_key", "actor")
    }
    found = audit.list_entries(s, page=page, per_page=per_page, newest_first=True, **filters)
    verified = audit.verify(s) if request.args.get("verify") else None
    return render_template(
        "audit.html",
        entries=[e.to_dict() for e in found.items],
        total=found.total,
        page=found.page,
        per_page=found.per_page,
        filters=filters,
        entity_types=sorted(audit.registered_entities()),
        verified=verified,
        json_twin="/api/v1/audit/verify" if verified else twin("/api/v1/audit", **filters),
    )
