"""Browse pages: security headers, CSRF, login/logout, role checks, escaping, language — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from registry.tokens import create_token, revoke_token


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no csrf_token field"
    return match.group(1)


def secret_for(db, role: str, name: str) -> str:
    with db.writer() as s:
        _, secret = create_token(s, name, role, actor="test")
    return secret


def login(client, secret: str):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"csrf_token": token, "token": secret})


@pytest.mark.parametrize(
    "path", ["/", "/audit", "/login", "/nowhere", "/api/v1/health", "/static/css/yima.css"]
)
def test_browse_security_headers_on_every_response(client, path):
    r = client.get(path)
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http:" not in csp and "https:" not in csp and "unsafe-inline" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_browse_api_docs_page_keeps_working_under_its_own_policy(client):
    r = client.get("/api/v1/docs")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert (
        "script-src 'self' 'unsafe-inline'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp
    )
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_browse_form_post_without_csrf_token_is_rejected(client, db):
    secret = secret_for(db, "steward", "csrf-steward")
    r = client.post("/login", data={"token": secret})
    assert r.status_code == 400
    assert "CSRF" in r.get_data(as_text=True)
    client.get("/login")  # a session with a token, but a forged post carries another one
    r = client.post("/login", data={"token": secret, "csrf_token": "forged"})
    assert r.status_code == 400
    assert 'class="who"' not in client.get("/").get_data(as_text=True)


def test_browse_login_sets_a_safe_cookie_and_logout_clears_it(client, db):
    secret = secret_for(db, "steward", "王工")
    r = login(client, secret)
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    html = client.get("/").get_data(as_text=True)
    assert "王工" in html and "数据管理员" in html
    r = client.post("/logout", data={"csrf_token": csrf_of(html)})
    assert r.status_code == 302
    assert 'class="who"' not in client.get("/").get_data(as_text=True)


def test_browse_login_with_a_bad_token_says_so_in_chinese(client):
    r = login(client, "not-a-token")
    assert r.status_code == 401
    assert "令牌无效或已被吊销" in r.get_data(as_text=True)


def test_browse_login_next_never_leaves_the_site(client, db):
    secret = secret_for(db, "viewer", "viewer-next")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"csrf_token": token, "token": secret, "next": "//evil.example/x"})
    assert r.headers["Location"] == "/"
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"csrf_token": token, "token": secret, "next": "/audit"})
    assert r.headers["Location"] == "/audit"


def test_browse_revoked_token_ends_the_login(client, db):
    secret = secret_for(db, "steward", "soon-revoked")
    login(client, secret)
    assert 'class="who"' in client.get("/").get_data(as_text=True)
    with db.writer() as s:
        revoke_token(s, "soon-revoked", actor="test")
    assert 'class="who"' not in client.get("/").get_data(as_text=True)


def test_browse_login_acts_like_a_token_on_the_api(client, db):
    login(client, secret_for(db, "steward", "api-by-cookie"))
    r = client.post("/api/v1/organizations", json={"code": "ORG-X", "name": "测试单位"})
    assert r.status_code == 201
    entries = client.get("/api/v1/audit?entity_type=organization&entity_key=ORG-X").get_json()["items"]
    assert entries[-1]["actor"] == "api-by-cookie"


def test_browse_names_are_escaped_everywhere(client, steward):
    evil = "<script>alert(1)</script>"
    assert (
        client.post("/api/v1/organizations", json={"code": "EVIL", "name": evil}, headers=steward).status_code
        == 201
    )
    for path in ("/audit", "/audit?entity_key=EVIL", "/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)" in html or path == "/"


def test_browse_english_labels(client):
    html = client.get("/audit?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Audit log" in html and "审计日志" not in html
    html = client.get("/?lang=zh").get_data(as_text=True)
    assert "审计日志" in html


def test_browse_reads_need_login_when_the_server_is_closed(config, db):
    from web import create_app

    app = create_app(replace(config, read_requires_token=True))
    client = app.test_client()
    r = client.get("/audit")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert client.get("/login").status_code == 200
    assert client.get("/static/css/yima.css").status_code == 200
    assert client.get("/api/v1/audit").status_code == 401
    secret = secret_for(db, "viewer", "closed-viewer")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"csrf_token": token, "token": secret})
    assert client.get("/audit").status_code == 200
    assert client.get("/api/v1/audit").status_code == 200
    app.extensions["yima"].db.dispose()


def test_browse_error_pages_are_html_in_chinese(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "返回概览" in r.get_data(as_text=True)
