"""Shared test data for the catalog tests: organizations, a system and resource bodies as the API takes them."""

from __future__ import annotations


def audit_count(client) -> int:
    return client.get("/api/v1/audit?per_page=1").get_json()["total"]


def seed(client, steward) -> None:
    """Two organizations and one system, through the API."""
    for code, name in (("SZGWS", "深圳市建筑工务署"), ("CSCEC", "中国建筑第三工程局有限公司")):
        r = client.post(
            "/api/v1/organizations", json={"code": code, "name": name, "kind": "owner"}, headers=steward
        )
        assert r.status_code == 201, r.get_json()
    r = client.post(
        "/api/v1/systems",
        json={"code": "GCJS", "name": "工程建设业务管理系统", "owner": "SZGWS", "namespaces": ["szgws.gcjs"]},
        headers=steward,
    )
    assert r.status_code == 201, r.get_json()


def resource(code: str = "A0201-001", **overrides) -> dict:
    body = {
        "code": code,
        "name": "合同台账",
        "summary": "施工、监理等合同的签订、金额与履约状态台账。",
        "category": "A0201",
        "provider": "SZGWS",
        "system": "GCJS",
        "format": "数据库",
        "share_type": "conditional",
        "share_condition": "仅向参建单位共享",
        "share_method": "接口",
        "open_to_public": False,
        "update_cycle": "daily",
        "published_on": "2021-04-15",
        "security_grade": "important",
        "tags": ["合同", "履约"],
        "steward": "数据管理员甲",
        "status": "published",
        "lineage": {"namespace": "szgws.gcjs", "name": f"table_{code.lower().replace('-', '_')}"},
        "fields": [
            {"name": "contract_no", "title": "合同编号", "type": "string", "required": True, "unique": True},
            {"name": "gtin", "title": "商品条码", "type": "string", "code_scheme": "gtin"},
            {"name": "amount", "title": "合同金额", "type": "number", "constraints": {"minimum": 0}},
        ],
    }
    body.update(overrides)
    return body
