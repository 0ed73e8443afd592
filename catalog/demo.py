"""The bureau's demo data: its organizations (and, with the catalog issue, its systems and resources)."""

from __future__ import annotations

from sqlalchemy import select

from catalog import organizations
from catalog.models import Organization
from registry.db import Database

#: the bureau and the kinds of unit that take part in its works (三方监管: 建设, 施工, 监理, plus 第三方评估)
ORGANIZATIONS = (
    {
        "code": "SZGWS",
        "name": "深圳市建筑工务署",
        "name_en": "Shenzhen Public Works Bureau",
        "kind": "bureau",
        "description": "政府投资公共建筑工程的建设单位与主管单位；数据资源目录的责任单位。",
    },
    {
        "code": "SZGWS-GCGL",
        "name": "深圳市建筑工务署工程管理中心",
        "name_en": "Bureau Project Management Centre",
        "kind": "owner",
        "parent": "SZGWS",
        "description": "建设单位：项目管理、合同履约评价、质量安全巡查。",
    },
    {
        "code": "SZGWS-XXH",
        "name": "深圳市建筑工务署信息化管理部门",
        "name_en": "Bureau Information Management Office",
        "kind": "owner",
        "parent": "SZGWS",
        "description": "政府工程管理平台、BIM 模型智能审查系统与构件库系统的运维单位。",
    },
    {
        "code": "CSCEC3B",
        "name": "中国建筑第三工程局有限公司",
        "name_en": "China Construction Third Engineering Bureau",
        "kind": "contractor",
        "description": "施工总承包单位（示例）：线上录入施工过程信息。",
    },
    {
        "code": "MCC20",
        "name": "中国二十冶集团有限公司",
        "name_en": "China MCC20 Group",
        "kind": "contractor",
        "description": "施工总承包单位（示例）。",
    },
    {
        "code": "SUP-DEMO",
        "name": "深圳市示范工程监理有限公司",
        "name_en": "Demo Construction Supervision Co.",
        "kind": "supervisor",
        "description": "监理单位（示例）：监督施工单位录入的信息。",
    },
    {
        "code": "QA-DEMO",
        "name": "第三方工程质量评估机构（示例）",
        "name_en": "Third-party Quality Assessor (demo)",
        "kind": "assessor",
        "description": "按《第三方工程质量评估实施细则》开展质量评估。",
    },
)


def load_organizations(database: Database, actor: str) -> int:
    """Create the demo organizations that are missing; returns how many were created."""
    created = 0
    with database.writer() as s:
        existing = set(s.scalars(select(Organization.code)))
    for values in ORGANIZATIONS:
        if values["code"] in existing:
            continue
        with database.writer() as s:
            organizations.create(s, dict(values), actor=actor)
        created += 1
    return created


def load_catalog(database: Database, actor: str) -> int:
    """The demo catalog of the bureau's systems (built by the catalog issue)."""
    return 0
