"""Shared steps of the change request tests: submit, review, decide through the API."""

from __future__ import annotations

#: a code of the demo's szgws-me release and its parent's free child slot
FREE_CODE = "30-10.10.90"
DOOR = "30-10.10.10"  # 钢质防火门
RESOURCE = "A0101-001"  # 招标公告


def submit(client, who, **body):
    body.setdefault("reason", "现场发现编码表缺少此类材料")
    return client.post("/api/v1/requests", json=body, headers=who)


def review(client, who, rid, decision="endorse", comment="已核实"):
    return client.post(
        f"/api/v1/requests/{rid}/review", json={"decision": decision, "comment": comment}, headers=who
    )


def decide(client, who, rid, decision="approve", comment=None):
    body = {"decision": decision}
    if comment is not None:
        body["comment"] = comment
    return client.post(f"/api/v1/requests/{rid}/decide", json=body, headers=who)


def audit_of(client, **query) -> list[dict]:
    args = "&".join(f"{k}={v}" for k, v in query.items())
    return client.get(f"/api/v1/audit?per_page=1000&{args}").get_json()["items"]


def new_resource(client, code: str = "REV-R1") -> dict:
    """A resource body like an existing one (its references exist), with a new code."""
    base = client.get(f"/api/v1/resources/{RESOURCE}").get_json()
    keep = ("category", "provider", "system", "format", "share_type", "update_cycle", "security_grade")
    return {
        **{k: base[k] for k in keep},
        "code": code,
        "name": "施工现场材料进场记录",
        "summary": "施工单位录入的材料进场验收记录",
        "status": "draft",
        "fields": [
            {"name": "material_code", "title": "材料编码", "code_scheme": "szgws-me", "required": True}
        ],
    }
