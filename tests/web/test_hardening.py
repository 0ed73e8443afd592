"""Inputs the fuzzer (``make fuzz``) found answered with a 5xx or outside the contract's error shape: now 4xx."""

from __future__ import annotations

import migrations
from tests.catalog import catalog_helpers as helpers

HUGE = str(2**70)


def _resource(client, steward) -> str:
    helpers.seed(client, steward)
    created = client.post("/api/v1/resources", json=helpers.resource("R-1"), headers=steward)
    assert created.status_code == 201, created.get_json()
    return "R-1"


def test_audit_after_seq_beyond_64_bits_is_a_422(client):
    for value in (HUGE, "-" + HUGE, "-1"):
        response = client.get(f"/api/v1/audit?after_seq={value}")
        assert response.status_code == 422, value
        assert "after_seq" in response.get_json()["message"]


def test_revision_against_beyond_64_bits_is_a_422(client, steward):
    _resource(client, steward)
    response = client.get(f"/api/v1/resources/R-1/revisions/1?against={HUGE}")
    assert response.status_code == 422
    assert "against" in response.get_json()["message"]


def test_nul_in_a_query_parameter_is_a_422_not_database_busy(client):
    """``q=%'";--\\0`` reached SQLite's FTS5 MATCH and came back as 503 "the database is busy"."""
    response = client.get("/api/v1/resources?q=%25%27%22%3B--%00")
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == 422 and "NUL" in body["message"] and "q" in body["errors"]["query"]
    # the same characters without the NUL are an ordinary search
    assert client.get("/api/v1/resources?q=%25%27%22%3B--").status_code == 200
    page = client.get("/catalog?q=%25%27%22%3B--%00")
    assert page.status_code == 422 and page.mimetype == "text/html"


def test_nul_in_a_json_body_is_a_422_on_every_database(client, steward, make_token):
    """An OpenLineage event naming a job ``j\\u0000x`` was stored on SQLite and a 500 on PostgreSQL
    (its text columns refuse NUL); so was a resource named with one. Both databases now answer 422,
    naming where the NUL is, and store nothing."""
    contributor = make_token("contributor")
    event = {
        "eventType": "START",
        "eventTime": "2026-01-01T00:00:00Z",
        "run": {"runId": "3f5e8b2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"},
        "job": {"namespace": "ns", "name": "j\x00x"},
        "producer": "https://example.org/p",
        "inputs": [{"namespace": "ns", "name": "a"}],
    }
    response = client.post("/api/v1/lineage", json=event, headers=contributor)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert "NUL" in body["message"] and body["errors"]["json"] == {"job.name": ["contains a NUL character"]}
    assert client.get("/api/v1/lineage/events").get_json()["total"] == 0
    # the same event without the NUL is stored; a literal backslash-u0000 (no NUL) is an ordinary name
    event["job"]["name"] = "jx"
    assert client.post("/api/v1/lineage", json=event, headers=contributor).status_code == 201
    event["job"]["name"], event["run"]["runId"] = "j\\u0000x", "4f5e8b2a-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    assert client.post("/api/v1/lineage", json=event, headers=contributor).status_code == 201
    helpers.seed(client, steward)
    named = helpers.resource("R-1") | {"description": "a\x00b"}
    response = client.post("/api/v1/resources", json=named, headers=steward)
    assert response.status_code == 422 and "description" in response.get_json()["errors"]["json"]


def test_field_bounds_must_be_numbers_or_dates(client, steward):
    """``"constraints": {"minimum": {}}`` compared two dicts in the service: a 500."""
    _resource(client, steward)
    bad = {"fields": [{"name": "n", "type": "string", "constraints": {"minimum": {}, "maximum": {}}}]}
    response = client.patch("/api/v1/resources/R-1", json=bad, headers=steward)
    assert response.status_code == 422
    assert "minimum" in response.get_json()["message"]
    good = {"fields": [{"name": "n", "type": "integer", "constraints": {"minimum": 1, "maximum": 9}}]}
    assert client.patch("/api/v1/resources/R-1", json=good, headers=steward).status_code == 200


def test_an_oversized_header_is_a_431_in_the_error_shape(client):
    """A 10 KB Authorization header: Yima answers 431 itself (JSON for the API, HTML for pages)."""
    big = {"Authorization": "Bearer " + "x" * 10_000}
    api = client.get("/api/v1/schemes", headers=big)
    assert api.status_code == 431
    assert api.get_json() == {
        "code": 431,
        "status": "Request Header Fields Too Large",
        "message": api.get_json()["message"],
    }
    assert "Authorization" in api.get_json()["message"] and "x" * 20 not in api.get_json()["message"]
    page = client.get("/catalog", headers=big)
    assert page.status_code == 431 and page.mimetype == "text/html"


def test_health_reads_revision_and_audit_head_fresh(client, steward):
    """The cheap health check (one Core statement) still shows a new audit entry at once."""
    before = client.get("/api/v1/health").get_json()
    assert before["status"] == "ok" and before["revision"] == migrations.head_revision()
    client.post("/api/v1/organizations", json={"code": "H1", "name": "某单位"}, headers=steward)
    after = client.get("/api/v1/health").get_json()
    assert after["audit_head"] and after["audit_head"] != before["audit_head"]
    assert after["audit_head"] == client.get("/api/v1/audit/verify").get_json()["head"]


def test_catalog_lists_refuse_a_page_beyond_64_bits(client):
    """They clamped it to page 9223372036854775 (an empty page that claimed to exist); 422 like every list."""
    for path in ("/api/v1/organizations", "/api/v1/systems", "/api/v1/resources", "/api/v1/lineage/flows"):
        response = client.get(f"{path}?page={HUGE}")
        assert response.status_code == 422 and "page" in response.get_json()["message"], path
        assert client.get(f"{path}?page=2&per_page=1000").status_code == 200, path


def test_a_scheme_with_a_code_list_not_imported_yet_says_so(client):
    """/codes/uniclass2015 before any import said "this scheme has no code list" (that is gtin's case)."""
    page = client.get("/codes/uniclass2015").get_data(as_text=True)
    assert "尚未导入编码表" in page and "yima standards import uniclass2015" in page
    assert "此体系没有编码表" not in page
    english = client.get("/codes/uniclass2015?lang=en").get_data(as_text=True)
    assert "No code list has been imported for this scheme yet" in english
    assert "此体系没有编码表" in client.get("/codes/gtin?lang=zh").get_data(as_text=True)


def test_validate_records_with_an_empty_resource_query_and_a_json_body(client, steward):
    """The issue's ``POST /validate/records?resource=`` 500 was the record ``{}`` in its body (see
    test_hardening_known.py); an empty ``?resource=`` beside a JSON body naming the resource is fine."""
    _resource(client, steward)
    body = {"resource": "R-1", "records": [{"contract_no": "HT-1", "amount": 3}]}
    response = client.post("/api/v1/validate/records?resource=", json=body)
    assert response.status_code == 200 and response.get_json()["valid"] == 1
