"""Security for the browse pages: response headers on everything, CSRF tokens on every form post."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session
from flask_babel import gettext

from registry.errors import YimaError

#: nothing from outside the server: the bureau's intranet has no internet, and nothing else is trusted
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: flask-smorest's Swagger UI page carries one inline script and inline styles: allowed there only
CSP_API_DOCS = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
API_DOCS_PATH = "/api/v1/docs"
CSRF_FIELD = "csrf_token"


def csrf_token() -> str:
    """This browser session's CSRF token (created on first use); put it in every form."""
    token = session.get("_csrf")
    if not token:
        token = session["_csrf"] = secrets.token_urlsafe(32)
    return token


class CSRFError(YimaError):
    """A form post without this session's CSRF token (400)."""

    status = 400


def check_csrf() -> None:
    """Reject a form post to a browse page whose ``csrf_token`` does not match the session's (400)."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path.startswith("/api/"):
        return
    expected = session.get("_csrf")
    sent = request.form.get(CSRF_FIELD) or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(str(expected), str(sent)):
        raise CSRFError(gettext("表单已过期或缺少安全令牌（CSRF），请刷新页面后重试。"))


def set_headers(response):
    csp = CSP_API_DOCS if request.path.rstrip("/") == API_DOCS_PATH else CSP
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(set_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
