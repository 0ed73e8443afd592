"""The OpenAPI document: a bearer scheme for Swagger UI's Authorize button, every status listed, plain summaries."""

from __future__ import annotations

import pytest

WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture
def spec(client):
    return client.get("/api/v1/openapi.json").get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in WRITES | {"get"}:
                yield path, method, op


def test_openapi_declares_a_bearer_scheme_and_writes_require_it(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    create_org = spec["paths"]["/api/v1/organizations"]["post"]
    assert create_org["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(create_org["responses"])
    # reads are open by default, and send the token when one is set in Swagger UI
    assert spec["paths"]["/api/v1/organizations"]["get"]["security"] == [{}, {"bearerAuth": []}]


def test_openapi_summaries_are_markdown_not_rst(spec):
    texts = [op.get("summary", "") + op.get("description", "") for _, _, op in _operations(spec)]
    assert texts and not [t for t in texts if "``" in t]
    cycles = spec["paths"]["/api/v1/lineage/cycles"]["get"]["summary"]
    assert "`as_of`" in cycles


def test_openapi_lists_the_error_statuses_instead_of_a_catch_all(spec):
    for path, method, op in _operations(spec):
        responses = op["responses"]
        assert "default" not in responses, (method, path)
        # 414 and 431: gunicorn's request-line limit and Yima's header limit hold for every operation
        assert {"401", "414", "431", "503"} <= set(responses), (method, path)
        assert any(s.startswith("2") for s in responses), (method, path)
        if "{" in path or method in WRITES:
            assert "404" in responses, (method, path)
        if method in WRITES:
            assert {"400", "409", "413", "415"} <= set(responses), (method, path)
    error = spec["components"]["responses"]["PRECONDITION_FAILED"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_release_timestamps_are_rfc3339_with_a_zone(client, admin):
    """OpenAPI's date-time needs an offset: a naive '2026-12-01T14:46:31' broke the schema."""
    created = client.post("/api/v1/schemes/gbt51269/releases", json={"release": "r1"}, headers=admin)
    assert created.status_code == 201
    assert created.get_json()["created_at"].endswith("Z")
    scheme = client.get("/api/v1/schemes/gbt51269").get_json()
    assert all(r["created_at"].endswith("Z") for r in scheme["releases"])


def test_every_success_response_declares_its_schema(spec):
    bare = [
        f"{method.upper()} {path}"
        for path, method, op in _operations(spec)
        for status, response in op["responses"].items()
        if status.startswith("2") and status != "204" and "content" not in response and "$ref" not in response
    ]
    assert bare == []
