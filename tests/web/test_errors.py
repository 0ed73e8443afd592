"""Every API error has the contract's shape; browse pages get HTML; nothing leaks a stack trace."""

import pytest


def shaped(body, code):
    return body["code"] == code and isinstance(body["status"], str) and isinstance(body["message"], str)


def test_errors_api_404_405_415_422(client, steward):
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and shaped(r.get_json(), 404)
    r = client.delete("/api/v1/organizations")
    assert r.status_code == 405 and shaped(r.get_json(), 405) and "GET" in r.headers["Allow"]
    r = client.post(
        "/api/v1/organizations",
        data="code=X",
        content_type="application/x-www-form-urlencoded",
        headers=steward,
    )
    assert r.status_code == 415 and shaped(r.get_json(), 415)
    r = client.post(
        "/api/v1/organizations", data="{not json", content_type="application/json", headers=steward
    )
    assert r.status_code in (400, 422) and shaped(r.get_json(), r.status_code)
    r = client.post("/api/v1/organizations", json={"name": ""}, headers=steward)
    assert r.status_code == 422 and shaped(r.get_json(), 422) and "code" in r.get_json()["errors"]["json"]
    r = client.get("/api/v1/organizations?per_page=5000")
    assert r.status_code == 422 and "per_page" in r.get_json()["errors"]["query"]


def test_errors_413_for_a_body_over_the_limit(config, steward):
    from dataclasses import replace

    from web import create_app

    app = create_app(replace(config, max_content_length=1000))
    r = app.test_client().post(
        "/api/v1/organizations", data="x" * 5000, content_type="application/json", headers=steward
    )
    assert r.status_code == 413 and shaped(r.get_json(), 413)
    app.extensions["yima"].db.dispose()


def test_errors_unexpected_exception_is_500_without_a_trace(app, caplog):
    def boom():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/v1/boom", "boom", boom)
    r = app.test_client().get("/api/v1/boom")
    body = r.get_json()
    assert r.status_code == 500 and shaped(body, 500)
    assert "secret internals" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)
    assert "reference" in body["message"]
    assert "secret internals" in caplog.text  # logged for the operator


def test_errors_browse_pages_get_html(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert "<html" in r.get_data(as_text=True)


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer    "])
def test_errors_malformed_authorization_is_401(client, header):
    r = client.get("/api/v1/organizations", headers={"Authorization": header})
    assert r.status_code == 401 and shaped(r.get_json(), 401)


def test_openapi_and_docs_are_served_locally(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3")
    assert "/api/v1/organizations/{code}" in spec["paths"]
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    assert "swagger-ui-bundle.js" in docs and "cdn" not in docs.lower() and "https://" not in docs
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_health_reports_database_revision_and_head(client, db):
    import migrations

    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok" and body["database"] == db.dialect
    assert body["revision"] == migrations.head_revision() and body["audit_head"] is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lineage/events/99999999999999999999",
        "/api/v1/lineage/flows/99999999999999999999",
        "/api/v1/resources/X/revisions/99999999999999999999",
    ],
)
def test_errors_ids_beyond_64_bits_are_404_not_500(client, path):
    r = client.get(path)
    assert r.status_code == 404 and shaped(r.get_json(), 404)


def test_errors_a_faulty_statement_is_a_500_not_the_database_is_busy(app):
    """The 503 'busy' mapping caught every OperationalError, an SQL syntax error included."""
    from sqlalchemy import text

    def bad_sql():
        with app.extensions["yima"].db.session() as s:
            s.execute(text("SELEC 1"))

    app.add_url_rule("/api/v1/bad-sql", "bad_sql", bad_sql)
    r = app.test_client().get("/api/v1/bad-sql")
    assert r.status_code == 500 and shaped(r.get_json(), 500) and "reference" in r.get_json()["message"]
    assert "busy" not in r.get_json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/lineage/events",
        "/api/v1/lineage/flows",
        "/api/v1/lineage/cycles",
        "/api/v1/lineage/orphans",
        "/api/v1/organizations",
        "/api/v1/schemes/szgws-me/releases",
        "/api/v1/crosswalks?from_scheme=szgws-me&code=40-10.10.00",
    ],
)
def test_errors_a_page_beyond_64_bits_is_a_422_not_an_overflow(client, path):
    """?page= past what an OFFSET holds overflowed the driver (a 500) on the lineage lists."""
    r = client.get(path + ("&" if "?" in path else "?") + f"page={2**64}")
    assert r.status_code == 422 and shaped(r.get_json(), 422) and "page" in r.get_json()["errors"]["query"]
