"""Token login for stewards: ``/login`` puts the token's identity in the (HttpOnly, SameSite) session cookie."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from registry.tokens import authenticate
from web.browse.pages import bp
from web.context import session as db_session


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
