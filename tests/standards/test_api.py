"""The code registry over HTTP: schemes, codes, search, crosswalks, validation shape, deprecation, roles, audit."""

import pytest
from sqlalchemy import text

from standards import demo as standards_demo

RESULT_KEYS = {"index", "input", "code", "valid", "status", "name", "successor", "errors"}


@pytest.fixture
def demo(db):
    created = standards_demo.load(db, "test", with_uniclass=False)
    assert created > 300
    assert standards_demo.load(db, "test", with_uniclass=False) == 0  # idempotent
    return db


def audit_total(client):
    return client.get("/api/v1/audit?per_page=1").get_json()["total"]


def test_api_schemes_list_releases_and_counts(client, demo):
    body = client.get("/api/v1/schemes").get_json()
    schemes = {s["id"]: s for s in body["items"]}
    assert body["total"] == len(schemes) >= 6
    me = schemes["szgws-me"]
    assert me["current_release"] == "2025-01"
    assert me["releases"][0]["status"] == "published" and me["releases"][0]["codes"] >= 300
    assert schemes["gtin"]["releases"] == [] and schemes["gtin"]["has_code_list"] is False
    assert client.get("/api/v1/schemes/nope").status_code == 404


def test_api_code_detail_has_ancestors_children_and_inherited_attributes(client, demo):
    r = client.get("/api/v1/schemes/szgws-me/codes/40-10.10.20")
    assert r.status_code == 200
    d = r.get_json()
    assert {
        "scheme",
        "release",
        "code",
        "name",
        "level",
        "parent",
        "ancestors",
        "children",
        "status",
        "successor",
        "attributes",
    } <= set(d)
    assert d["name"] == "热轧带肋钢筋" and d["level"] == 3 and d["parent"] == "40-10.10.00"
    assert d["ancestors"] == [
        {"code": "40-10.00.00", "name": "钢材"},
        {"code": "40-10.10.00", "name": "钢筋"},
    ]
    attrs = {a["name"]: a for a in d["attributes"]}
    assert attrs["牌号"]["values"] == ["HRB400", "HRB500", "HRB600"]  # its own, overriding the parent's
    assert attrs["直径"]["minimum"] == 6 and attrs["直径"]["maximum"] == 50  # inherited from 钢筋
    parent = client.get(
        "/api/v1/schemes/szgws-me/codes/４０－１０．１０．００"
    ).get_json()  # typed full-width
    assert parent["code"] == "40-10.10.00" and parent["children"] == 7
    assert client.get("/api/v1/schemes/szgws-me/codes/40-99.99.00").status_code == 404


def test_api_code_search_by_prefix_chinese_and_pinyin(client, demo):
    def codes(query):
        body = client.get(f"/api/v1/schemes/szgws-me/codes?{query}").get_json()
        return [i["code"] for i in body["items"]], body

    found, _ = codes("q=gj")
    assert "40-10.10.00" in found  # 钢筋 by pinyin initials
    found, _ = codes("q=水泥")
    assert "40-20.00.00" in found and "40-20.10.20" in found
    found, body = codes("q=40-10.10")
    assert found[0] == "40-10.10.00" and all(c.startswith("40-10.10") for c in found)
    found, _ = codes("parent=40-10.10.00")
    assert len(found) == 7
    found, _ = codes("status=deprecated")
    assert set(found) == {"40-10.10.90", "40-30.10.90"}
    found, _ = codes("roots=true&per_page=1000")
    assert "40-10.00.00" in found and "40-10.10.00" not in found
    leaf = client.get("/api/v1/schemes/szgws-me/codes?q=HRB335").get_json()["items"][0]
    assert leaf["successor"] == "40-10.10.20" and leaf["children"] == 0


def test_api_crosswalks_both_directions(client, demo):
    out = client.get("/api/v1/crosswalks?from_scheme=szgws-me&code=40-10.10.00").get_json()
    assert {
        "scheme": "gbt51269",
        "release": "2017-excerpt",
        "code": "40-10.10.10",
        "name": "钢筋",
        "relation": "exact",
        "direction": "outgoing",
    } in out["items"]
    back = client.get("/api/v1/crosswalks?from_scheme=gbt51269&code=40-20.40.00").get_json()["items"]
    assert {(m["code"], m["relation"], m["direction"]) for m in back} == {
        ("40-40.10.00", "narrower", "incoming"),
        ("40-40.20.00", "narrower", "incoming"),
    }
    detail = client.get("/api/v1/schemes/gbt51269/codes/40-10.10.10").get_json()
    assert detail["crosswalks"][0]["scheme"] == "szgws-me"


def test_api_validate_batch_shape_statuses_and_order(client, demo):
    batch = [
        "40-10.10.20",
        "４０－１０．１０．２０",
        " 40 10 10 20 ",
        "40-1",
        "40-99.99.00",
        "40-10.10.90",
        "40-10.00.00",
        42,
    ]
    r = client.post("/api/v1/validate/codes", json={"scheme": "szgws-me", "codes": batch})
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"scheme", "release", "total", "valid", "invalid", "results"}
    assert (body["scheme"], body["release"], body["total"], body["valid"], body["invalid"]) == (
        "szgws-me",
        "2025-01",
        8,
        3,
        5,
    )
    results = body["results"]
    assert all(set(r) == RESULT_KEYS for r in results)
    assert [r["index"] for r in results] == list(range(8)) and [r["input"] for r in results] == batch
    assert [r["code"] for r in results[:3]] == ["40-10.10.20"] * 3 and results[0]["name"] == "热轧带肋钢筋"
    assert [r["status"] for r in results] == [
        "active",
        "active",
        "active",
        "malformed",
        "unknown",
        "deprecated",
        "active",
        "malformed",
    ]
    assert [r["errors"][0]["type"] for r in results[3:]] == [
        "malformed",
        "unknown",
        "deprecated",
        "not_assignable",
        "malformed",
    ]
    assert results[5]["successor"] == "40-10.10.20" and results[5]["valid"] is False
    one = client.get("/api/v1/validate/codes?scheme=szgws-me&code=４０－１０．１０．９０").get_json()
    assert set(one) == RESULT_KEYS - {"index"} and one["successor"] == "40-10.10.20"


def test_api_validate_attribute_templates(client, demo):
    items = [
        {"code": "40-10.10.20", "attributes": {"牌号": "HRB400", "直径": 25}},
        {"code": "40-10.10.20", "attributes": {"牌号": "HRB400", "直径": 60}},
        {"code": "40-10.10.20", "attributes": {"牌号": "HRB335", "直径": "２０"}},
        {"code": "40-10.10.20", "attributes": {"牌号": "HRB500"}},
        {"code": "40-10.10.20"},
        {"code": "30-42.10.00", "attributes": {"额定载重量": 1000, "额定速度": 2.5, "颜色": "白"}},
    ]
    results = client.post("/api/v1/validate/codes", json={"scheme": "szgws-me", "items": items}).get_json()[
        "results"
    ]
    assert [r["valid"] for r in results] == [True, False, False, False, True, False]
    assert "above the maximum 50 mm" in results[1]["errors"][0]["message"]
    assert "HRB335" in results[2]["errors"][0]["message"] and len(results[2]["errors"]) == 1
    assert "直径 is required" in results[3]["errors"][0]["message"]
    assert results[5]["errors"] == [
        {"type": "attribute", "message": "颜色 is not an attribute of this code's template"}
    ]


def test_api_validate_format_only_schemes_and_bad_requests(client, demo):
    one = client.get("/api/v1/validate/codes?scheme=gtin&code=6901234567893").get_json()
    assert one["valid"] is False and one["errors"][0]["type"] == "check_digit"
    body = client.post(
        "/api/v1/validate/codes",
        json={
            "scheme": "gb50500",
            "codes": ["010101001001", "０１０１０１００１０２０", "010101001", "010101009001"],
        },
    ).get_json()
    assert body["release"] == "2013-excerpt"
    results = body["results"]
    assert [r["errors"][0]["type"] if r["errors"] else None for r in results] == [
        None,
        None,
        "not_assignable",
        "unknown",
    ]
    assert results[0]["name"] == "平整场地" and results[1]["code"] == "010101001020"
    for bad, field in [
        ({"codes": ["x"]}, "scheme"),
        ({"scheme": "gtin", "codes": "x"}, "codes"),
        ({"scheme": "gtin", "codes": [], "extra": 1}, "extra"),
        ({"scheme": "gtin", "items": [{"code": "1", "x": 2}]}, "items"),
    ]:
        r = client.post("/api/v1/validate/codes", json=bad)
        assert r.status_code == 422 and field in r.get_json()["errors"], (bad, r.get_json())
    r = client.post("/api/v1/validate/codes", data=b"{not json", content_type="application/json")
    assert r.status_code == 422 and r.get_json()["code"] == 422
    assert client.post("/api/v1/validate/codes", json={"scheme": "nope", "codes": []}).status_code == 404
    r = client.post("/api/v1/validate/codes", json={"scheme": "omniclass", "codes": ["23-13 11 11"]})
    assert r.status_code == 404 and "no published release" in r.get_json()["message"]
    assert client.post("/api/v1/validate/codes", data="x", content_type="text/plain").status_code == 415


def test_api_validate_over_max_batch_is_413(config, demo):
    from dataclasses import replace

    from web import create_app

    app = create_app(replace(config, max_batch=3))
    try:
        client = app.test_client()
        r = client.post("/api/v1/validate/codes", json={"scheme": "gtin", "codes": ["6901234567892"] * 4})
        assert r.status_code == 413 and r.get_json()["code"] == 413 and "3" in r.get_json()["message"]
        r = client.post("/api/v1/validate/codes", json={"scheme": "gtin", "codes": ["6901234567892"] * 3})
        assert r.status_code == 200
    finally:
        app.extensions["yima"].db.dispose()


def test_api_deprecation_invalidates_the_validation_cache(client, demo, steward):
    def status():
        return client.get("/api/v1/validate/codes?scheme=szgws-me&code=40-10.10.40").get_json()

    assert status()["valid"] is True
    r = client.post(
        "/api/v1/schemes/szgws-me/codes/40-10.10.40/deprecate",
        json={"successor": "40-10.10.20"},
        headers=steward,
    )
    assert r.status_code == 200 and r.get_json()["status"] == "deprecated"
    now = status()
    assert now["status"] == "deprecated" and now["successor"] == "40-10.10.20"
    r = client.post(
        "/api/v1/schemes/szgws-me/codes/40-10.10.50/deprecate",
        json={"successor": "40-99.99.00"},
        headers=steward,
    )
    assert r.status_code == 422
    entry = client.get("/api/v1/audit?entity_type=release&per_page=1000").get_json()["items"][-1]
    assert entry["action"] == "deprecate" and entry["actor"] == "steward-1"
    assert entry["after"]["change"] == {
        "action": "deprecate",
        "code": "40-10.10.40",
        "successor": "40-10.10.20",
    }


def test_api_releases_import_publish_and_new_release_becomes_current(client, demo, admin):
    r = client.post(
        "/api/v1/schemes/szgws-me/releases",
        json={"release": "2026-01", "copy_from": "2025-01"},
        headers=admin,
    )
    assert r.status_code == 201 and r.get_json()["status"] == "draft" and r.get_json()["codes"] >= 300
    csv_body = "编码,名称,单位\n40-10.10.70,钢筋桁架楼承板,m²\n".encode("gb18030")
    r = client.post(
        "/api/v1/schemes/szgws-me/releases/2026-01/import?dry_run=true",
        data=csv_body,
        content_type="text/csv",
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["added"] == 1 and r.get_json()["dry_run"] is True
    bad = "编码,名称\n40-77.10.70,没有上级\n".encode()
    r = client.post(
        "/api/v1/schemes/szgws-me/releases/2026-01/import?dry_run=true",
        data=bad,
        content_type="text/csv",
        headers=admin,
    )
    assert r.get_json()["errors"][0]["reason"] == "missing_parent" and r.get_json()["errors"][0]["row"] == 2
    r = client.post(
        "/api/v1/schemes/szgws-me/releases/2026-01/import", data=bad, content_type="text/csv", headers=admin
    )
    assert r.status_code == 422
    assert (
        client.get("/api/v1/validate/codes?scheme=szgws-me&code=40-10.10.70").get_json()["status"]
        == "unknown"
    )
    r = client.post(
        "/api/v1/schemes/szgws-me/releases/2026-01/import",
        data=csv_body,
        content_type="text/csv",
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["added"] == 1
    assert (
        client.get("/api/v1/validate/codes?scheme=szgws-me&code=40-10.10.70").get_json()["status"]
        == "unknown"
    )
    named = client.get("/api/v1/validate/codes?scheme=szgws-me&code=40-10.10.70&release=2026-01").get_json()
    assert named["valid"] is True
    assert client.post("/api/v1/schemes/szgws-me/releases/2026-01/publish", headers=admin).status_code == 200
    assert client.post("/api/v1/schemes/szgws-me/releases/2026-01/publish", headers=admin).status_code == 409
    assert client.get("/api/v1/validate/codes?scheme=szgws-me&code=40-10.10.70").get_json()["valid"] is True
    schemes = {s["id"]: s for s in client.get("/api/v1/schemes").get_json()["items"]}
    assert schemes["szgws-me"]["current_release"] == "2026-01"


def test_api_steward_adds_and_edits_codes_and_maps_them(client, demo, steward):
    r = client.post(
        "/api/v1/schemes/szgws-me/codes",
        json={"code": "40-10.10.70", "name": "钢筋桁架楼承板", "unit": "m²"},
        headers=steward,
    )
    assert r.status_code == 201 and r.get_json()["parent"] == "40-10.10.00"
    assert (
        client.get("/api/v1/schemes/szgws-me/codes?q=gjhjlcb").get_json()["items"][0]["code"] == "40-10.10.70"
    )
    r = client.patch(
        "/api/v1/schemes/szgws-me/codes/40-10.10.70",
        json={"name_en": "Steel bar truss deck"},
        headers=steward,
    )
    assert r.status_code == 200 and r.get_json()["name_en"] == "Steel bar truss deck"
    r = client.post(
        "/api/v1/schemes/szgws-me/codes", json={"code": "40-10.10.70", "name": "重复"}, headers=steward
    )
    assert r.status_code == 409
    r = client.post(
        "/api/v1/crosswalks",
        json={
            "from_scheme": "szgws-me",
            "to_scheme": "gbt51269",
            "mappings": [{"from": "40-10.10.70", "to": "40-10.10.10", "relation": "related"}],
        },
        headers=steward,
    )
    assert r.status_code == 201 and r.get_json()["mappings"] == 22
    r = client.post(
        "/api/v1/crosswalks",
        json={
            "from_scheme": "szgws-me",
            "to_scheme": "gbt51269",
            "mappings": [{"from": "40-10.10.70", "to": "40-99.99.00"}],
        },
        headers=steward,
    )
    assert r.status_code == 422
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True


@pytest.mark.parametrize(
    "method,path,body,role",
    [
        ("post", "/api/v1/schemes/szgws-me/releases", {"release": "x"}, "admin"),
        ("post", "/api/v1/schemes/szgws-me/releases/2025-01/publish", None, "admin"),
        ("post", "/api/v1/schemes/szgws-me/codes", {"code": "40-10.10.70", "name": "x"}, "steward"),
        ("patch", "/api/v1/schemes/szgws-me/codes/40-10.10.20", {"name": "x"}, "steward"),
        ("post", "/api/v1/schemes/szgws-me/codes/40-10.10.20/deprecate", {}, "steward"),
        (
            "post",
            "/api/v1/crosswalks",
            {"from_scheme": "szgws-me", "to_scheme": "gbt51269", "mappings": []},
            "steward",
        ),
    ],
)
def test_api_writes_need_their_role_and_write_nothing_otherwise(
    client, demo, make_token, method, path, body, role
):
    too_low = make_token("contributor" if role == "steward" else "steward")
    before = audit_total(client)
    assert getattr(client, method)(path, json=body).status_code == 401
    r = getattr(client, method)(path, json=body, headers=too_low)
    assert r.status_code == 403 and role in r.get_json()["message"]
    assert audit_total(client) == before
    assert client.get("/api/v1/schemes/szgws-me/codes/40-10.10.20").get_json()["name"] == "热轧带肋钢筋"
    assert [r["release"] for r in client.get("/api/v1/schemes/szgws-me/releases").get_json()["items"]] == [
        "2025-01"
    ]


def test_api_audit_verify_catches_a_code_row_edited_in_the_database(client, demo, db):
    assert client.get("/api/v1/audit/verify").get_json()["ok"] is True
    with db.writer() as s:
        s.execute(text("UPDATE code SET successor = NULL, status = 'active' WHERE code = '40-10.10.90'"))
        s.commit()
    result = client.get("/api/v1/audit/verify").get_json()
    assert result["ok"] is False and result["first_bad_seq"] is not None
    assert any("szgws-me/2025-01" in p for p in result["problems"])


def test_api_batch_endpoint_and_validator_agree(client, demo, db):
    from standards.validation import get_validator

    batch = [
        "40-10.10.20",
        "40-10.10.20",
        "４０－１０．１０．９０",
        "40 10 10 90",
        "bad",
        "bad",
        None,
        7,
        "40-99.99.00",
        "40-10.00.00",
        "",
        "30-42.10.00",
    ] * 3
    body = client.post("/api/v1/validate/codes", json={"scheme": "szgws-me", "codes": batch}).get_json()
    with db.session() as s:
        direct = get_validator(s, "szgws-me").validate(batch)
    assert body["results"] == direct
    assert body["valid"] == sum(r["valid"] for r in direct) == 9


def test_api_new_release_carries_a_crosswalk_to_successors(client, demo, admin, steward):
    client.post(
        "/api/v1/schemes/szgws-me/releases",
        json={"release": "2026-01", "copy_from": "2025-01"},
        headers=admin,
    )
    r = client.post(
        "/api/v1/crosswalks",
        headers=steward,
        json={
            "from_scheme": "szgws-me",
            "from_release": "2025-01",
            "to_scheme": "szgws-me",
            "to_release": "2026-01",
            "mappings": [{"from": "40-10.10.90", "to": "40-10.10.20", "relation": "successor"}],
        },
    )
    assert r.status_code == 201
    out = client.get("/api/v1/crosswalks?from_scheme=szgws-me&code=40-10.10.90&release=2025-01").get_json()
    assert out["items"] == [
        {
            "scheme": "szgws-me",
            "release": "2026-01",
            "code": "40-10.10.20",
            "name": "热轧带肋钢筋",
            "relation": "successor",
            "direction": "outgoing",
        }
    ]
    back = client.get("/api/v1/crosswalks?from_scheme=szgws-me&code=40-10.10.20&release=2026-01").get_json()
    assert back["items"][0]["code"] == "40-10.10.90" and back["items"][0]["direction"] == "incoming"


def test_api_import_multipart_upload_and_unreadable_xlsx(client, demo, admin):
    import io

    files = {
        "file": (
            io.BytesIO(
                "编码,名称\n40-10.00.00,钢材\n40-10.10.00,钢筋\n40-10.10.70,钢筋桁架楼承板\n".encode("gbk")
            ),
            "新增.csv",
        )
    }
    r = client.post(
        "/api/v1/schemes/szgws-me/releases/2026-01/import",
        data=files,
        content_type="multipart/form-data",
        headers=admin,
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["files"] == ["新增.csv"] and r.get_json()["created_release"] is True
    r = client.post(
        "/api/v1/schemes/szgws-me/releases/2026-02/import",
        data=b"PK\x03\x04 not a workbook",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=admin,
    )
    assert r.status_code == 422 and "XLSX" in r.get_json()["message"]
    r = client.post(
        "/api/v1/schemes/gtin/releases/2026-01/import",
        data=b"code,name\n1,x\n",
        content_type="text/csv",
        headers=admin,
    )
    assert r.status_code == 422 and "no code list" in r.get_json()["message"]


def test_api_patch_code_with_nothing_to_change_is_a_no_op(client, demo, steward):
    """PATCH {} ran an UPDATE with nothing to set (a 500): it is the code as it is, and no audit entry."""
    path = "/api/v1/schemes/gbt51269/codes/30-10.00.00"
    before, entries = client.get(path).get_json(), audit_total(client)
    for body in ({}, {"release": before["release"]}, {"name": before["name"], "name_en": before["name_en"]}):
        r = client.patch(path, json=body, headers=steward)
        assert r.status_code == 200, r.get_json()
        assert {k: v for k, v in r.get_json().items() if k != "crosswalks"} == {
            k: v for k, v in before.items() if k != "crosswalks"
        }
    assert audit_total(client) == entries
    r = client.patch(path, json={"name": " 门窗（新） "}, headers=steward)
    assert (
        r.status_code == 200 and r.get_json()["name"] == "门窗（新）" and audit_total(client) == entries + 1
    )


def test_api_lists_of_releases_crosswalks_and_children_are_in_the_envelope(client, demo, admin):
    r = client.post("/api/v1/schemes/szgws-me/releases", json={"release": "2026-01"}, headers=admin)
    assert r.status_code == 201
    body = client.get("/api/v1/schemes/szgws-me/releases").get_json()
    assert [r["release"] for r in body["items"]] == ["2025-01", "2026-01"]
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 50)
    second = client.get("/api/v1/schemes/szgws-me/releases?per_page=1&page=2").get_json()
    assert [r["release"] for r in second["items"]] == ["2026-01"] and second["total"] == 2

    out = client.get("/api/v1/crosswalks?from_scheme=szgws-me&code=40-10.10.00&per_page=1").get_json()
    assert set(out) == {"items", "total", "page", "per_page"}
    assert len(out["items"]) == 1 and out["total"] >= 1 and out["per_page"] == 1

    kids = client.get("/api/v1/schemes/szgws-me/codes/40-10.10.00/children").get_json()
    assert kids["total"] == 7 == len(kids["items"]) and kids["page"] == 1
    assert all(k["parent"] == "40-10.10.00" for k in kids["items"])
