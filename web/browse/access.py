"""Who the visitor is and what they may do: the login session, closed reads, ``can`` and ``steward_required``."""

from __future__ import annotations

import functools

from flask import Flask, redirect, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from registry.errors import Forbidden
from registry.tokens import Token, has_role
from web import auth
from web.context import Principal, config, principal
from web.context import session as db_session

#: paths a visitor may reach without logging in when YIMA_READ_REQUIRES_TOKEN=1
PUBLIC_ENDPOINTS = {"favicon", "browse.login", "browse.logout", "static", "swagger_ui_assets"}


def session_principal() -> Principal | None:
    """The logged-in steward, re-checked against the token table so a revoked token logs out at once."""
    who = session.get("who")
    if not who:
        return None
    token = db_session().scalar(select(Token).where(Token.id == who.get("id")))
    if token is None or token.revoked or token.name != who.get("name"):
        session.pop("who", None)
        return None
    return Principal(token.name, token.role, token.organization)


def require_login_for_reads():
    """With YIMA_READ_REQUIRES_TOKEN=1 every browse page sends an anonymous visitor to the login page."""
    if request.path.startswith("/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if config().read_requires_token and principal() is None:
        return redirect(url_for("browse.login", next=request.full_path.rstrip("?")))
    return None


def can(role: str) -> bool:
    """Whether the visitor (token or login) has at least ``role``."""
    who = principal()
    return who is not None and has_role(who.role, role)


def steward_required(view):
    """Decorate a page (as flaskr's ``login_required``): anonymous visitors are sent to the login page,
    a logged-in visitor below steward gets 403, before the page does anything."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if principal() is None:
            return redirect(url_for("browse.login", next=request.full_path.rstrip("?")))
        if not can("steward"):
            raise Forbidden(_("只有数据管理员可以编辑。"))
        return view(*args, **kwargs)

    return wrapped


def login_required(view):
    """Decorate a page that acts for the visitor: anonymous visitors are sent to the login page first
    (what they may then do is the service's rule: the change request pages)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if principal() is None:
            return redirect(url_for("browse.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    """The login session identifies the caller for pages and API alike; closed reads redirect to login."""
    auth.add_principal_loader(session_principal)
    app.before_request(require_login_for_reads)
