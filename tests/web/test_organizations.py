"""Organizations over the API: CRUD, roles, ETag/If-Match, one audit entry per change."""

import pytest


def audit_count(client):
    return client.get("/api/v1/audit?per_page=1").get_json()["total"]


def test_organizations_crud_roundtrip(client, steward):
    body = {
        "code": "JL-01",
        "name": "深圳市某监理有限公司",
        "kind": "supervisor",
        "credit_code": "91440300MA5FXXXX1A",
    }
    r = client.post("/api/v1/organizations", json=body, headers=steward)
    assert r.status_code == 201, r.get_json()
    assert r.headers["ETag"] and r.get_json()["name"] == "深圳市某监理有限公司"
    r = client.get("/api/v1/organizations/JL-01")
    assert r.status_code == 200 and r.get_json()["kind"] == "supervisor"
    r = client.put("/api/v1/organizations/JL-01", json={"code": "JL-01", "name": "新名称"}, headers=steward)
    assert r.status_code == 200 and r.get_json()["kind"] == "other" and r.get_json()["credit_code"] is None
    lst = client.get("/api/v1/organizations?q=新名").get_json()
    assert lst["total"] == 1 and lst["items"][0]["code"] == "JL-01" and lst["page"] == 1
    assert client.delete("/api/v1/organizations/JL-01", headers=steward).status_code == 204
    assert client.get("/api/v1/organizations/JL-01").status_code == 404


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("post", "/api/v1/organizations", {"code": "X1", "name": "x"}),
        ("patch", "/api/v1/organizations/BASE", {"name": "x"}),
        ("put", "/api/v1/organizations/BASE", {"code": "BASE", "name": "x"}),
        ("delete", "/api/v1/organizations/BASE", None),
    ],
)
def test_organizations_writes_need_a_steward_token(client, steward, make_token, method, path, body):
    client.post("/api/v1/organizations", json={"code": "BASE", "name": "基础"}, headers=steward)
    before = audit_count(client)
    r = getattr(client, method)(path, json=body)
    assert r.status_code == 401 and r.get_json()["code"] == 401
    r = getattr(client, method)(path, json=body, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = getattr(client, method)(path, json=body, headers=make_token("contributor"))
    assert r.status_code == 403 and "steward" in r.get_json()["message"]
    assert audit_count(client) == before + 1  # only the contributor token's own creation
    assert client.get("/api/v1/organizations/BASE").get_json()["name"] == "基础"
    assert client.get("/api/v1/organizations/X1").status_code == 404


def test_organizations_stale_if_match_is_412_and_changes_nothing(client, steward):
    client.post("/api/v1/organizations", json={"code": "E1", "name": "原"}, headers=steward)
    etag = client.get("/api/v1/organizations/E1").headers["ETag"]
    r = client.patch("/api/v1/organizations/E1", json={"name": "甲改"}, headers={**steward, "If-Match": etag})
    assert r.status_code == 200 and r.headers["ETag"] != etag
    r = client.patch("/api/v1/organizations/E1", json={"name": "乙改"}, headers={**steward, "If-Match": etag})
    assert r.status_code == 412 and r.get_json()["status"] == "Precondition Failed"
    assert client.get("/api/v1/organizations/E1").get_json()["name"] == "甲改"
    r = client.delete("/api/v1/organizations/E1", headers={**steward, "If-Match": etag})
    assert r.status_code == 412


def test_organizations_duplicate_is_409_and_bad_values_422(client, steward):
    client.post("/api/v1/organizations", json={"code": "D1", "name": "一"}, headers=steward)
    r = client.post("/api/v1/organizations", json={"code": "D1", "name": "二"}, headers=steward)
    assert r.status_code == 409 and "D1" in r.get_json()["message"]
    r = client.post(
        "/api/v1/organizations",
        json={"code": "D2", "name": "二", "kind": "pirate", "extra": 1},
        headers=steward,
    )
    assert r.status_code == 422
    assert set(r.get_json()["errors"]["json"]) == {"kind", "extra"}
    r = client.post(
        "/api/v1/organizations", json={"code": "D3", "name": "三", "parent": "NOPE"}, headers=steward
    )
    assert r.status_code == 422 and "parent" in r.get_json()["errors"]


def test_organizations_referenced_parent_cannot_be_deleted(client, steward):
    client.post("/api/v1/organizations", json={"code": "P", "name": "上级"}, headers=steward)
    client.post("/api/v1/organizations", json={"code": "C", "name": "下级", "parent": "P"}, headers=steward)
    r = client.delete("/api/v1/organizations/P", headers=steward)
    assert r.status_code == 409


def test_organizations_each_change_is_one_audit_entry(client, steward):
    before = audit_count(client)
    client.post("/api/v1/organizations", json={"code": "A1", "name": "一"}, headers=steward)
    client.patch("/api/v1/organizations/A1", json={"name": "一"}, headers=steward)  # no change: no entry
    client.patch("/api/v1/organizations/A1", json={"contact": "0755-88134373"}, headers=steward)
    items = client.get("/api/v1/audit?entity_type=organization&entity_key=A1").get_json()["items"]
    assert [e["action"] for e in items] == ["create", "update"]
    assert items[1]["before"]["contact"] is None and items[1]["after"]["contact"] == "0755-88134373"
    assert audit_count(client) == before + 2


def test_reads_can_require_a_token(config, make_token):
    from dataclasses import replace

    from web import create_app

    app = create_app(replace(config, read_requires_token=True))
    client = app.test_client()
    assert client.get("/api/v1/organizations").status_code == 401
    assert client.get("/api/v1/health").status_code == 200
    assert client.get("/api/v1/organizations", headers=make_token("viewer")).status_code == 200
    app.extensions["yima"].db.dispose()
