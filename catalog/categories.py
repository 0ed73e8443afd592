"""The catalog's own category tree (信息资源分类: 类/项/目), declared as data; ``category`` codes refer to it."""

from __future__ import annotations

#: code → (name, parent code or None). 类 is one letter, 项 adds two digits, 目 two more.
CATEGORIES: dict[str, tuple[str, str | None]] = {
    "A": ("工程建设管理", None),
    "A01": ("招标投标", "A"),
    "A0101": ("招标公告与结果", "A01"),
    "A02": ("合同管理", "A"),
    "A0201": ("合同台账", "A02"),
    "A0202": ("工程变更", "A02"),
    "A03": ("项目与进度", "A"),
    "A0301": ("项目基本信息", "A03"),
    "A0302": ("进度与投资", "A03"),
    "A04": ("竣工与移交", "A"),
    "A0401": ("竣工移交", "A04"),
    "B": ("质量安全", None),
    "B01": ("质量安全巡查", "B"),
    "B0101": ("巡查记录", "B01"),
    "B03": ("第三方评估", "B"),
    "B0301": ("质量评估报告", "B03"),
    "C": ("信用评价", None),
    "C01": ("履约评价", "C"),
    "C0101": ("履约评价得分", "C01"),
    "C02": ("不良行为", "C"),
    "C0201": ("不良行为记录与负面清单", "C02"),
    "C03": ("承包商分类分级", "C"),
    "C0301": ("分级存证", "C03"),
    "D": ("建筑信息模型", None),
    "D01": ("模型审查", "D"),
    "D0101": ("模型与审查意见", "D01"),
    "D02": ("构件库", "D"),
    "D0201": ("构件", "D02"),
    "E": ("材料设备", None),
    "E01": ("分类编码", "E"),
    "E0101": ("编码表", "E01"),
    "E02": ("采购供应", "E"),
    "E0201": ("采购订单", "E02"),
    "E03": ("进场验收", "E"),
    "E0301": ("验收记录", "E03"),
    "E04": ("二维码溯源", "E"),
    "E0401": ("溯源记录", "E04"),
}

LEVELS = {1: "类", 3: "项", 5: "目", 7: "细目"}


def exists(code: str | None) -> bool:
    return code in CATEGORIES


def name(code: str | None) -> str | None:
    entry = CATEGORIES.get(code or "")
    return entry[0] if entry else None


def as_list() -> list[dict]:
    """The tree as a flat list in code order: ``{"code", "name", "parent", "level"}``."""
    return [
        {"code": code, "name": n, "parent": parent, "level": LEVELS.get(len(code), "细目")}
        for code, (n, parent) in sorted(CATEGORIES.items())
    ]
