"""Token login for stewards: ``/login`` puts the token's identity in the (HttpOnly, SameSite) session cookie."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from registry.tokens import Token, authenticate, has_role
from web.browse.pages import bp
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
    return Principal(token.name, token.role)


def require_login_for_reads():
    """With YIMA_READ_REQUIRES_TOKEN=1 every browse page sends an anonymous visitor to the login page."""
    if request.path.startswith("/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if config().read_requires_token and principal() is None:
        return redirect(url_for("browse.login", next=request.full_path.rstrip("?")))
    return None


def can(role: str) -> bool:
    who = principal()
    return who is not None and has_role(who.role, role)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("browse.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        token = authenticate(db_session(), (request.form.get("token") or "").strip())
        if token is None:
            error = _("令牌无效或已被吊销。")
        else:
            session.clear()  # a new session on login: nothing from before carries over
            session["who"] = {"id": token.id, "name": token.name}
            session.permanent = False
            flash(_("已登录：%(name)s（%(role)s）", name=token.name, role=token.role))
            return redirect(_safe_next(request.form.get("next")))
    return render_template("login.html", error=error, next=request.values.get("next", ""), json_twin=None), (
        401 if error else 200
    )


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    flash(_("已退出登录。"))
    return redirect(url_for("browse.index"))
