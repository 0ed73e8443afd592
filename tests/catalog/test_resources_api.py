"""Systems and resources over the API: CRUD, roles, references, ETag/412, one audit entry per change, verify."""

import pytest
from sqlalchemy import text

from tests.catalog.catalog_helpers import audit_count, resource, seed


@pytest.fixture
def seeded(client, steward):
    seed(client, steward)
    return client


def test_system_crud_and_namespace_ownership(seeded, steward):
    client = seeded
    r = client.get("/api/v1/systems/GCJS")
    assert r.status_code == 200 and r.get_json()["namespaces"] == ["szgws.gcjs"] and r.headers["ETag"]
    r = client.post(
        "/api/v1/systems", json={"code": "X", "name": "另一个", "namespaces": ["szgws.gcjs"]}, headers=steward
    )
    assert r.status_code == 422 and "namespaces" in r.get_json()["errors"]
    r = client.post("/api/v1/systems", json={"code": "X", "name": "另一个", "owner": "NOPE"}, headers=steward)
    assert r.status_code == 422 and "owner" in r.get_json()["errors"]
    r = client.patch(
        "/api/v1/systems/GCJS", json={"namespaces": ["szgws.gcjs", "szgws.gcjs2"]}, headers=steward
    )
    assert r.status_code == 200 and r.get_json()["namespaces"] == ["szgws.gcjs", "szgws.gcjs2"]
    r = client.post("/api/v1/systems", json={"code": "GCJS", "name": "重复"}, headers=steward)
    assert r.status_code == 409
    assert client.get("/api/v1/systems?q=工程建设").get_json()["total"] == 1


def test_resource_crud_round_trips_every_field(seeded, steward):
    client = seeded
    body = resource()
    r = client.post("/api/v1/resources", json=body, headers=steward)
    assert r.status_code == 201, r.get_json()
    assert r.headers["ETag"]
    got = client.get("/api/v1/resources/A0201-001").get_json()
    for key, value in body.items():
        if key == "fields":
            assert [f["name"] for f in got["fields"]] == ["contract_no", "gtin", "amount"]
            assert got["fields"][2]["constraints"] == {"minimum": 0}
            assert got["fields"][1]["code_scheme"] == "gtin"
        else:
            assert got[key] == value, key
    assert got["revision"] == 1
    r = client.put(
        "/api/v1/resources/A0201-001", json={**body, "name": "合同台账（新）", "fields": []}, headers=steward
    )
    assert r.status_code == 200 and r.get_json()["fields"] == [] and r.get_json()["revision"] == 2
    assert client.delete("/api/v1/resources/A0201-001", headers=steward).status_code == 204
    assert client.get("/api/v1/resources/A0201-001").status_code == 404


def test_codes_with_slashes_are_addressable(seeded, steward):
    client = seeded
    r = client.post("/api/v1/resources", json=resource("A0201/0001"), headers=steward)
    assert r.status_code == 201, r.get_json()
    assert client.get("/api/v1/resources/A0201/0001").get_json()["code"] == "A0201/0001"
    assert client.get("/api/v1/resources/A0201/0001/revisions").get_json()["total"] == 1
    assert client.get("/api/v1/resources/A0201/0001/revisions/1").status_code == 200


@pytest.mark.parametrize(
    "override,field",
    [
        ({"category": "Z99"}, "category"),
        ({"provider": "NOPE"}, "provider"),
        ({"system": "NOPE"}, "system"),
        ({"related": ["NOPE-1"]}, "related"),
        ({"fields": [{"name": "c", "type": "string", "code_scheme": "no-such-scheme"}]}, "fields[0]"),
        ({"fields": [{"name": "c", "type": "integer", "constraints": {"pattern": "(a"}}]}, "fields[0]"),
        ({"fields": [{"name": "c"}, {"name": "c"}]}, "fields[1]"),
    ],
)
def test_references_must_exist_and_nothing_is_written(seeded, steward, override, field):
    client = seeded
    before = audit_count(client)
    r = client.post("/api/v1/resources", json=resource(**override), headers=steward)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"], r.get_json()
    assert audit_count(client) == before
    assert client.get("/api/v1/resources/A0201-001").status_code == 404


def test_bad_shapes_are_422_and_lineage_identity_is_unique(seeded, steward):
    client = seeded
    r = client.post("/api/v1/resources", json=resource(share_type="maybe", extra=1), headers=steward)
    assert r.status_code == 422 and {"share_type", "extra"} <= set(r.get_json()["errors"]["json"])
    assert client.post("/api/v1/resources", json=resource(), headers=steward).status_code == 201
    r = client.post("/api/v1/resources", json=resource(), headers=steward)
    assert r.status_code == 409
    clash = resource("A0201-002", lineage={"namespace": "szgws.gcjs", "name": "table_a0201_001"})
    r = client.post("/api/v1/resources", json=clash, headers=steward)
    assert r.status_code == 422 and "lineage" in r.get_json()["errors"]


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("post", "/api/v1/resources", resource("NEW-1")),
        ("patch", "/api/v1/resources/A0201-001", {"name": "x"}),
        ("put", "/api/v1/resources/A0201-001", resource(name="x")),
        ("delete", "/api/v1/resources/A0201-001", None),
        ("post", "/api/v1/systems", {"code": "S2", "name": "x"}),
        ("patch", "/api/v1/systems/GCJS", {"name": "x"}),
        ("delete", "/api/v1/systems/GCJS", None),
    ],
)
def test_writes_need_a_steward_and_write_nothing_otherwise(seeded, steward, make_token, method, path, body):
    client = seeded
    client.post("/api/v1/resources", json=resource(), headers=steward)
    contributor = make_token("contributor")
    before = audit_count(client)
    assert getattr(client, method)(path, json=body).status_code == 401
    assert (
        getattr(client, method)(path, json=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    r = getattr(client, method)(path, json=body, headers=contributor)
    assert r.status_code == 403 and r.get_json()["code"] == 403
    assert audit_count(client) == before
    assert client.get("/api/v1/resources/A0201-001").get_json()["name"] == "合同台账"
    assert client.get("/api/v1/systems/GCJS").get_json()["name"] == "工程建设业务管理系统"
    assert client.get("/api/v1/resources/NEW-1").status_code == 404


def test_stale_if_match_is_412_and_loses_nothing(seeded, steward):
    client = seeded
    client.post("/api/v1/resources", json=resource(), headers=steward)
    etag = client.get("/api/v1/resources/A0201-001").headers["ETag"]
    r = client.patch(
        "/api/v1/resources/A0201-001", json={"summary": "甲的修改"}, headers={**steward, "If-Match": etag}
    )
    assert r.status_code == 200 and r.headers["ETag"] != etag
    r = client.patch(
        "/api/v1/resources/A0201-001", json={"summary": "乙的修改"}, headers={**steward, "If-Match": etag}
    )
    assert r.status_code == 412 and r.get_json()["status"] == "Precondition Failed"
    got = client.get("/api/v1/resources/A0201-001").get_json()
    assert got["summary"] == "甲的修改" and got["revision"] == 2
    assert (
        client.delete("/api/v1/resources/A0201-001", headers={**steward, "If-Match": etag}).status_code == 412
    )
    sys_etag = client.get("/api/v1/systems/GCJS").headers["ETag"]
    client.patch("/api/v1/systems/GCJS", json={"description": "新"}, headers=steward)
    r = client.patch("/api/v1/systems/GCJS", json={"name": "旧"}, headers={**steward, "If-Match": sys_etag})
    assert r.status_code == 412


def test_one_audit_entry_per_change_and_verify_catches_a_field_edit(seeded, steward, db, runner):
    client = seeded
    before = audit_count(client)
    client.post("/api/v1/resources", json=resource(), headers=steward)
    client.patch("/api/v1/resources/A0201-001", json={"name": "合同台账"}, headers=steward)  # no change
    client.patch("/api/v1/resources/A0201-001", json={"tags": ["合同"]}, headers=steward)
    items = client.get("/api/v1/audit?entity_type=resource&entity_key=A0201-001").get_json()["items"]
    assert [e["action"] for e in items] == ["create", "update"]
    assert items[1]["before"]["tags"] == ["合同", "履约"] and items[1]["after"]["tags"] == ["合同"]
    assert items[0]["after"]["fields"][0]["name"] == "contract_no"
    assert audit_count(client) == before + 2
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE resource_field SET required = false WHERE name = 'contract_no'"))
    result = client.get("/api/v1/audit/verify").get_json()
    assert result["ok"] is False and result["first_bad_seq"] == items[1]["seq"]
    out = runner(["audit", "verify"])
    assert out.exit_code == 1 and "A0201-001" in out.output


def test_references_protect_deletes(seeded, steward):
    client = seeded
    client.post("/api/v1/resources", json=resource(), headers=steward)
    client.post(
        "/api/v1/resources", json=resource("A0201-002", lineage=None, related=["A0201-001"]), headers=steward
    )
    assert client.delete("/api/v1/systems/GCJS", headers=steward).status_code == 409
    assert client.delete("/api/v1/organizations/SZGWS", headers=steward).status_code == 409
    r = client.delete("/api/v1/resources/A0201-001", headers=steward)
    assert r.status_code == 409 and "A0201-002" in r.get_json()["message"]
    r = client.patch("/api/v1/resources/A0201-002", json={"status": "draft"}, headers=steward)
    assert r.status_code == 422 and "status" in r.get_json()["errors"]


def test_categories_are_listed(client):
    body = client.get("/api/v1/catalog/categories").get_json()
    items = body["items"]
    assert body["total"] == len(items) > 10 and body["page"] == 1
    assert {"code": "A01", "name": "招标投标", "parent": "A", "level": "项"} in items


def test_concurrent_saves_are_applied_one_after_the_other(seeded, steward, app):
    import threading

    client = seeded
    client.post("/api/v1/resources", json=resource(), headers=steward)
    barrier = threading.Barrier(6)
    statuses = []

    def save(i):
        c = app.test_client()
        barrier.wait()
        statuses.append(
            c.patch("/api/v1/resources/A0201-001", json={"summary": f"第{i}版"}, headers=steward).status_code
        )

    threads = [threading.Thread(target=save, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [200] * 6
    revisions = client.get("/api/v1/resources/A0201-001/revisions").get_json()
    assert revisions["total"] == 7 and [r["number"] for r in revisions["items"]] == list(range(7, 0, -1))
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True
