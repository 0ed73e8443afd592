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


#: the headers every response carries unless its view set them (the CSP is added by ``set_headers``)
_FIXED = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def set_headers(response):
    """Add the security headers a view did not set itself. The names present are read once (werkzeug's
    ``setdefault`` raises and catches a KeyError per absent header: five per API answer)."""
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    if "content-security-policy" not in present:
        headers.add(
            "Content-Security-Policy", CSP_API_DOCS if request.path.rstrip("/") == API_DOCS_PATH else CSP
        )
    for name, value in _FIXED:
        if name.lower() not in present:
            headers.add(name, value)
    if response.mimetype == "text/html" and "cache-control" not in present:
        headers.add("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(set_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
