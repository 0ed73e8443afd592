"""The browse blueprint and what every page shares: paging links, JSON twins, diffs, display helpers."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from flask import Blueprint, Flask, request
from flask_babel import lazy_gettext
from markupsafe import Markup

from registry.messages import Msg
from registry.paging import clamp
from web.browse import labels, zone
from web.browse.access import can
from web.context import principal

bp = Blueprint("browse", __name__)


def page_args(default_per_page: int = 20, max_per_page: int = 200) -> tuple[int, int]:
    """``?page=&per_page=`` from the query string, within ``registry.paging``'s bounds and at most
    ``max_per_page`` rows (a page is read by a person); a bad value falls back to the default."""
    page, per_page = clamp(_int_arg("page", 1), _int_arg("per_page", default_per_page))
    return page, min(per_page, max_per_page)


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


def url_with(**changes) -> str:
    """The current page's URL with some query parameters changed (None removes one)."""
    args = {k: v for k, v in request.args.items() if k != "lang"}
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    return request.path + ("?" + urlencode(args) if args else "")


def lang_url(code: str) -> str:
    """This page in another language."""
    here = url_with()
    return here + ("&" if "?" in here else "?") + "lang=" + code


ROLE_LABELS = {
    "viewer": lazy_gettext("查看者"),
    "contributor": lazy_gettext("贡献者"),
    "steward": lazy_gettext("数据管理员"),
    "admin": lazy_gettext("系统管理员"),
}


def twin(endpoint_path: str, **params) -> str:
    """The API URL that returns this page's data as JSON."""
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return endpoint_path + ("?" + urlencode(params) if params else "")


def diff(before, after) -> list[dict]:
    """Field-by-field changes between two snapshots: ``[{"key", "before", "after", "kind"}]``."""
    before = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    after = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    rows = []
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        if key not in before:
            kind = "added"
        elif key not in after:
            kind = "removed"
        elif old != new:
            kind = "changed"
        else:
            continue
        rows.append({"key": key, "before": old, "after": new, "kind": kind})
    return rows


def audit_changes(entry: dict) -> dict:
    """What an audit entry changed, as a person reads it: ``{"subject", "rows"}``.

    A code's edit is audited on its release (the release's digest is what the chain protects); the
    change it records names the code and, field by field, what it was and what it became: those rows
    are shown, not the release's summary with its hashes. Anything else: ``diff(before, after)``.
    """
    after = entry.get("after") if isinstance(entry.get("after"), dict) else {}
    change = after.get("change") if entry.get("entity_type") == "release" else None
    action = change.get("action") if isinstance(change, dict) else None
    if action == "update_code" and isinstance(change.get("after"), dict):
        old = change.get("before") or {}
        rows = [
            {"key": k, "before": old.get(k), "after": change["after"].get(k), "kind": "changed"}
            for k in change.get("fields") or sorted(change["after"])
        ]
        return {"subject": change.get("code"), "rows": rows}
    if action == "deprecate":
        rows = [{"key": "status", "before": "active", "after": "deprecated", "kind": "changed"}]
        if change.get("successor"):
            rows.append({"key": "successor", "before": None, "after": change["successor"], "kind": "added"})
        return {"subject": change.get("code"), "rows": rows}
    if action == "add_code":
        return {
            "subject": change.get("code"),
            "rows": [{"key": "code", "before": None, "after": change.get("code"), "kind": "added"}],
        }
    return {"subject": None, "rows": diff(entry.get("before"), entry.get("after"))}


def show(value) -> str:
    """A value as a steward reads it: text as is, lists joined, objects as compact JSON."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        url_with=url_with,
        lang_url=lang_url,
        diff=diff,
        audit_changes=audit_changes,
        role_label=lambda r: ROLE_LABELS.get(r, r),
    )
    app.jinja_env.filters["show"] = show
    # a service message printed as it is ({{ error }}) still reads in the page's language
    app.jinja_env.finalize = lambda value: labels.message(value) if isinstance(value, Msg) else value
    app.jinja_env.filters["localtime"] = zone.localtime
    app.jinja_env.filters["localtext"] = zone.local_text
    app.jinja_env.filters["tr"] = labels.message
    app.jinja_env.filters["constraints"] = labels.constraints_text
    app.jinja_env.globals.update(
        audit_action=labels.action_label,
        entity_label=labels.entity_label,
        key_label=labels.key_label,
        value_label=labels.value_label,
    )
    app.jinja_env.filters["zip_self"] = lambda values: [(v, v) for v in values]
    app.jinja_env.filters["pretty"] = lambda v: Markup.escape(json.dumps(v, ensure_ascii=False, indent=2))

    @app.context_processor
    def _shared():
        return {"who": principal(), "can": can, "has_page": lambda endpoint: endpoint in app.view_functions}
