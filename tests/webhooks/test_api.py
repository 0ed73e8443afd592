"""``/api/v1/webhooks``: the contract's shapes, the secret shown once, audited changes, errors in the contract's shape."""

from __future__ import annotations

from dataclasses import replace

import pytest

from web import create_app


def _error_shaped(r, status):
    body = r.get_json()
    return (
        r.status_code == status
        and body["code"] == status
        and isinstance(body["status"], str)
        and isinstance(body["message"], str)
    )


def test_create_answers_201_with_the_secret_once(client, admin, receiver):
    r = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url(), "events": ["resource.*", "release.publish"], "description": "采购系统"},
        headers=admin,
    )
    assert r.status_code == 201
    made = r.get_json()
    assert {"id", "url", "events", "secret"} <= set(made)
    assert made["secret"].startswith("whsec_") and made["events"] == ["resource.*", "release.publish"]
    one = client.get(f"/api/v1/webhooks/{made['id']}")
    assert one.status_code == 200 and "secret" not in one.get_json()
    assert one.get_json()["description"] == "采购系统" and one.get_json()["enabled"] is True
    listed = client.get("/api/v1/webhooks").get_json()
    assert listed["total"] == 1 and set(listed) >= {"items", "total", "page", "per_page"}
    assert "secret" not in listed["items"][0]


def test_writes_need_an_admin_token(client, steward, receiver):
    body = {"url": receiver.url(), "events": ["*"]}
    assert _error_shaped(client.post("/api/v1/webhooks", json=body), 401)
    assert _error_shaped(client.post("/api/v1/webhooks", json=body, headers=steward), 403)


def test_deliveries_are_for_admins_only(client, admin, steward, hook):
    made = hook()
    assert _error_shaped(client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=steward), 403)
    r = client.get(f"/api/v1/webhooks/{made['id']}/deliveries", headers=admin)
    assert r.status_code == 200 and r.get_json() == {"items": [], "total": 0, "page": 1, "per_page": 50}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://192.168.1.10/hook", "events": ["*"]}, "url"),
        ({"url": "http://10.0.0.1/hook", "events": ["*"]}, "url"),
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:9/hook", "events": []}, "events"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["resource create"]}, "events"),
        ({"url": "http://127.0.0.1:9/hook"}, "events"),
        ({"events": ["*"]}, "url"),
        ({"url": "http://127.0.0.1:9/hook", "events": ["*"], "secret": "whsec_mine"}, "secret"),
    ],
)
def test_create_refuses_bad_input_with_a_422_naming_the_field(client, admin, body, field):
    r = client.post("/api/v1/webhooks", json=body, headers=admin)
    assert _error_shaped(r, 422), r.get_json()
    assert field in str(r.get_json().get("errors")), r.get_json()
    assert client.get("/api/v1/webhooks").get_json()["total"] == 0


def test_unknown_webhooks_are_404_and_delete_is_204(client, admin, hook):
    assert _error_shaped(client.get("/api/v1/webhooks/999"), 404)
    assert _error_shaped(client.get("/api/v1/webhooks/999/deliveries", headers=admin), 404)
    assert _error_shaped(client.post("/api/v1/webhooks/999/test", headers=admin), 404)
    made = hook()
    assert client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin).status_code == 204
    assert _error_shaped(client.get(f"/api/v1/webhooks/{made['id']}"), 404)
    assert _error_shaped(client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin), 404)


def test_patch_changes_checks_the_url_again_and_can_disable(client, admin, hook):
    made = hook()
    r = client.patch(f"/api/v1/webhooks/{made['id']}", json={"url": "http://172.16.5.5/x"}, headers=admin)
    assert _error_shaped(r, 422) and "url" in r.get_json()["errors"]
    r = client.patch(
        f"/api/v1/webhooks/{made['id']}", json={"events": ["release.*"], "enabled": False}, headers=admin
    )
    assert r.status_code == 200
    assert r.get_json()["events"] == ["release.*"] and r.get_json()["enabled"] is False
    assert "disabled by admin-1" in r.get_json()["disabled_reason"]
    listed = client.get("/api/v1/webhooks", query_string={"enabled": "false"}).get_json()
    assert [h["id"] for h in listed["items"]] == [made["id"]]


def test_webhook_changes_are_audited_without_the_secret_and_the_chain_verifies(client, admin, hook):
    made = hook()
    client.patch(
        f"/api/v1/webhooks/{made['id']}", json={"rotate_secret": True, "description": "改"}, headers=admin
    )
    client.delete(f"/api/v1/webhooks/{made['id']}", headers=admin)
    entries = client.get("/api/v1/audit", query_string={"entity_type": "webhook"}).get_json()["items"]
    assert [e["action"] for e in entries] == ["create", "update", "delete"]
    assert entries[0]["after"]["url"] == made["url"] and entries[1]["after"]["secret_version"] == 2
    assert "whsec_" not in str(entries) and made["secret"] not in str(entries)
    verified = client.get("/api/v1/audit/verify").get_json()
    assert verified["ok"], verified["problems"]


def test_openapi_documents_the_webhook_and_change_feed_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/api/v1/webhooks",
        "/api/v1/webhooks/{webhook_id}",
        "/api/v1/webhooks/{webhook_id}/deliveries",
        "/api/v1/webhooks/{webhook_id}/test",
        "/api/v1/changes",
    ):
        assert path in paths


def test_reads_need_a_token_when_the_server_says_so(config, admin, db):
    app = create_app(replace(config, read_requires_token=True))
    try:
        client = app.test_client()
        assert _error_shaped(client.get("/api/v1/webhooks"), 401)
        assert _error_shaped(client.get("/api/v1/changes"), 401)
        assert client.get("/api/v1/changes", headers=admin).status_code == 200
    finally:
        app.extensions["yima"].db.dispose()
