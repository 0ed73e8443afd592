"""Display labels for the catalog's coded values and Chinese wording for common field errors."""

from __future__ import annotations

import re

from flask import g, has_request_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L

SHARE_TYPES = {"unconditional": L("无条件共享"), "conditional": L("有条件共享"), "none": L("不予共享")}
SECURITY_GRADES = {"general": L("一般数据"), "important": L("重要数据"), "core": L("核心数据")}
STATUSES = {"draft": L("草稿"), "published": L("已发布"), "retired": L("已停用")}
UPDATE_CYCLES = {
    "realtime": L("实时"),
    "daily": L("每日"),
    "weekly": L("每周"),
    "monthly": L("每月"),
    "quarterly": L("每季度"),
    "yearly": L("每年"),
}
FIELD_TYPES = {
    "string": L("文本"),
    "integer": L("整数"),
    "number": L("数值"),
    "boolean": L("布尔"),
    "date": L("日期"),
    "datetime": L("日期时间"),
}
FACET_TITLES = {
    "category": L("资源分类"),
    "share_type": L("共享类型"),
    "security_grade": L("数据分级"),
    "system": L("业务系统"),
    "provider": L("提供方"),
    "status": L("状态"),
}

#: marshmallow's and the services' English messages, as a steward reads them next to a field
_PATTERNS = [
    (re.compile(r"^Missing data for required field\.?$|^required$"), lambda m: _("必填项")),
    (re.compile(r"^Field may not be null\.?$"), lambda m: _("必填项")),
    (
        re.compile(r"^Length must be between (\d+) and (\d+)\.?$"),
        lambda m: _("长度应为 %(a)s–%(b)s 个字符", a=m[1], b=m[2]),
    ),
    (re.compile(r"^Longer than maximum length (\d+)\.?$"), lambda m: _("最多 %(n)s 个字符", n=m[1])),
    (re.compile(r"^Must be one of: (.*)\.?$"), lambda m: _("取值应为：%(v)s", v=m[1].rstrip("."))),
    (re.compile(r"^Not a valid (integer|number)\.?$"), lambda m: _("应为数字")),
    (re.compile(r"^Not a valid boolean\.?$"), lambda m: _("应为是或否")),
    (re.compile(r"^Not a valid date|ISO date|YYYY-MM-DD", re.I), lambda m: _("日期格式应为 YYYY-MM-DD")),
    (re.compile(r"^String does not match expected pattern\.?$"), lambda m: _("格式不正确")),
    (re.compile(r"^no organization with code '?([^']*)'?"), lambda m: _("没有编码为 %(c)s 的单位", c=m[1])),
    (re.compile(r"^no system with code '?([^']*)'?"), lambda m: _("没有编码为 %(c)s 的业务系统", c=m[1])),
    (re.compile(r"^no category '?([^']*)'?"), lambda m: _("资源分类 %(c)s 不存在", c=m[1])),
    (re.compile(r"^no data resource with code (.*)$"), lambda m: _("没有编码为 %(c)s 的数据资源", c=m[1])),
    (re.compile(r"already exists$"), lambda m: _("该编码已存在")),
    (re.compile(r"^read-only$"), lambda m: _("不可修改")),
    (re.compile(r"^missing_parent$"), lambda m: _("上级编码不存在")),
    (re.compile(r"^unknown field$"), lambda m: _("不允许的字段")),
    (re.compile(r"draft → published → retired"), lambda m: _("状态只能按 草稿 → 已发布 → 已停用 变化")),
]


def _english() -> bool:
    return has_request_context() and getattr(g, "lang", "zh") == "en"


def field_message(message: str) -> str:
    """A field error in the page's language (English messages we do not know are shown as they are)."""
    text = str(message).strip()
    for pattern, render in _PATTERNS:
        found = pattern.search(text)
        if found:
            return render(found)
    return text


def field_errors(errors) -> dict[str, list[str]]:
    """``{"field": [messages]}`` from a marshmallow or service error dict (nested keys joined with ".")."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
            out.setdefault(prefix, []).extend(message(v) for v in value)
        elif isinstance(value, list | tuple):
            for sub in value:
                walk(prefix, sub)
        else:
            out.setdefault(prefix, []).append(message(value if isinstance(value, str) else str(value)))

    walk("", errors or {})
    return out


# --- service messages with a code (registry.messages.Msg) -----------------------------------------

#: ``Msg.key`` → the message in the page's language (``%(param)s`` as the service named them)
MESSAGES = {
    "code.empty": L("编码为空"),
    "code.table_unknown": L("“%(token)s”不是本体系的表代码（%(tables)s）"),
    "code.not_table": L("“%(token)s”不是表代码"),
    "code.levels_range": L("表代码后应有 %(a)s–%(b)s 级，实际为 %(n)s 级"),
    "code.levels": L("表代码后应有 %(a)s 级，实际为 %(n)s 级"),
    "code.level_digits": L("层级“%(seg)s”不是两位数字"),
    "code.level_empty": L("有一级为空（连续两个分隔符）"),
    "code.first_zero": L("第一级不能是 00"),
    "code.after_zero": L("00 级之后不能再有非 00 的层级"),
    "code.optional_zero": L("第 %(n)s 级之后的层级只在不为 00 时出现"),
    "code.digits_only": L("只能包含数字"),
    "code.digit_count": L("应为 %(lengths)s 位数字，实际为 %(n)s 位"),
    "code.check_digit": L("校验位是 %(got)s，按前面的数字应为 %(want)s"),
    "code.malformed": L("“%(text)s”不是 %(scheme)s 编码：%(reason)s"),
    "code.reason": L("%(code)s：%(reason)s"),
    "code.not_string": L("编码必须是文本"),
    "code.unknown": L("%(code)s 不在 %(scheme)s 的 %(release)s 版中"),
    "code.not_assignable": L("%(code)s 是第 %(level)s 级类目；条目只能使用第 %(levels)s 级编码"),
    "code.not_assignable_named": L(
        "%(code)s（%(name)s）是第 %(level)s 级类目；条目只能使用第 %(levels)s 级编码"
    ),
    "code.deprecated_use": L("%(code)s 已废止，请改用 %(successor)s"),
    "code.deprecated": L("%(code)s 已废止"),
    "attr.required_unit": L("缺少属性“%(name)s”（%(unit)s）"),
    "attr.required": L("缺少属性“%(name)s”"),
    "attr.enum": L("属性“%(name)s”的值“%(value)s”不在可选值 %(allowed)s 中"),
    "attr.number_not": L("属性“%(name)s”应为数字，而不是“%(value)s”"),
    "attr.number": L("属性“%(name)s”应为数字"),
    "attr.integer": L("属性“%(name)s”应为整数"),
    "attr.below": L("属性“%(name)s”为 %(value)s%(unit)s，低于下限 %(limit)s%(unit)s"),
    "attr.above": L("属性“%(name)s”为 %(value)s%(unit)s，高于上限 %(limit)s%(unit)s"),
    "attr.text": L("属性“%(name)s”应为文本"),
    "attr.unknown": L("“%(name)s”不是此编码属性模板中的属性"),
    "field.duplicate": L("字段名“%(name)s”重复"),
    "field.code_string": L("引用编码体系的字段类型必须是文本"),
    "field.length_string": L("最短/最长长度只适用于文本字段"),
    "field.min_max": L("最小值大于最大值"),
    "field.enum_empty": L("可选值不能为空"),
    "field.length_range": L("%(key)s 应为 0 到 %(max)s 之间的整数"),
    "field.no_scheme": L("没有编码体系“%(scheme)s”"),
    "related.self": L("资源不能关联自身"),
    "related.once": L("每个关联资源只能列一次"),
    "lineage.identity_taken": L("资源 %(code)s 已使用此血缘标识"),
    "lineage.not_node_id": L(
        "“%(node)s”不是节点标识：请从候选中选择资源或系统，或输入 dataset:命名空间:名称、job:命名空间:名称、system:系统编码"
    ),
    "lineage.not_date": L("“%(raw)s”不是日期：请输入 YYYY-MM-DD 格式的日期"),
    "lineage.unseen": L("血缘中尚未出现节点“%(node)s”"),
}

#: parameters whose English joining words need replacing in the translation
_JOINERS = {
    "lengths": (" or ", " 或 "),
    "tables": (", ", "、"),
    "allowed": (", ", "、"),
    "levels": (", ", "、"),
}


def message(text) -> str:
    """A service message in the page's language: a ``Msg`` by its key and parameters, else by the
    English patterns of ``field_message``, else as it is."""
    key = getattr(text, "key", None)
    template = MESSAGES.get(key) if key else None
    if template is None:
        return field_message(text) if isinstance(text, str) else str(text)
    if _english():
        return str(text)  # the services' own wording is English
    params = {}
    for name, value in text.params.items():
        if getattr(value, "key", None):
            value = message(value)
        elif isinstance(value, float):
            value = f"{value:g}"
        value = "" if value is None else str(value)
        if name in _JOINERS:
            value = value.replace(*_JOINERS[name])
        params[name] = value
    return str(template) % params


# --- enums, audit actions and keys, constraints ------------------------------------------------

ACTIONS = {
    "create": L("新建"),
    "update": L("修改"),
    "delete": L("删除"),
    "replace": L("替换"),
    "add_code": L("新增编码"),
    "add_codes": L("批量新增编码"),
    "update_code": L("修改编码"),
    "deprecate": L("废止编码"),
    "import": L("导入版本"),
    "publish": L("发布版本"),
    "map": L("编码映射"),
    "ingest": L("接收血缘事件"),
    "declare": L("声明数据流"),
    "end": L("结束"),
    "revoke": L("吊销"),
    "disable": L("停用"),
    "enable": L("启用"),
    "submit": L("提交申请"),
    "approve": L("批准"),
    "reject": L("驳回"),
    "return": L("退回修改"),
    "amend": L("修改申请"),
    "withdraw": L("撤回"),
    "review": L("审核"),
    "decide": L("决定"),
    "export": L("导出"),
    "checkpoint": L("签发检查点"),
    "deliver": L("交付"),
    "event": L("事件"),
}
ENTITY_TYPES = {
    "token": L("访问令牌"),
    "organization": L("单位"),
    "system": L("业务系统"),
    "resource": L("数据资源"),
    "release": L("编码版本"),
    "code": L("编码"),
    "crosswalk": L("编码映射"),
    "lineage_event": L("血缘事件"),
    "lineage_flow": L("数据流"),
    "lineage_export": L("血缘导出"),
    "trace_product": L("追溯产品"),
    "trace_delivery": L("追溯交付"),
    "trace_item": L("追溯单品"),
    "trace_event": L("追溯事件"),
    "webhook": L("变更订阅"),
    "change_request": L("变更申请"),
}
#: field names in audit diffs and revisions → what a steward calls them
KEYS = {
    "code": L("编码"),
    "name": L("名称"),
    "name_en": L("英文名称"),
    "unit": L("计量单位"),
    "description": L("说明"),
    "status": L("状态"),
    "successor": L("替代编码"),
    "attributes": L("属性模板"),
    "parent": L("上级"),
    "level": L("层级"),
    "summary": L("信息资源摘要"),
    "category": L("资源分类"),
    "provider": L("提供方"),
    "system": L("业务系统"),
    "format": L("资源格式"),
    "share_type": L("共享类型"),
    "share_condition": L("共享条件"),
    "share_method": L("共享方式"),
    "open_to_public": L("向社会开放"),
    "open_condition": L("开放条件"),
    "update_cycle": L("更新周期"),
    "published_on": L("发布日期"),
    "security_grade": L("数据分级"),
    "steward": L("数据管理员"),
    "tags": L("标签"),
    "related": L("关联资源"),
    "lineage": L("血缘标识"),
    "fields": L("信息项"),
    "revision": L("版本"),
    "release": L("版本"),
    "scheme": L("编码体系"),
    "role": L("角色"),
    "organization": L("单位"),
    "url": L("地址"),
    "events": L("事件类型"),
    "enabled": L("启用"),
    "actor": L("操作人"),
    "title": L("中文名称"),
    "type": L("类型"),
    "required": L("必填"),
    "unique": L("唯一"),
    "code_scheme": L("编码体系"),
    "constraints": L("约束"),
    "valid_from": L("生效时间"),
    "valid_to": L("结束时间"),
    "source": L("来源"),
    "target": L("目标"),
    "codes": L("编码数"),
    "changed": L("变更"),
    "reason": L("理由"),
    "kind": L("类别"),
}
CODE_STATUSES = {"active": L("有效"), "deprecated": L("已废止")}
#: which label table a key's values come from
_VALUE_LABELS = {
    "share_type": SHARE_TYPES,
    "security_grade": SECURITY_GRADES,
    "update_cycle": UPDATE_CYCLES,
    "type": FIELD_TYPES,
}


def action_label(action: str | None) -> str:
    return str(ACTIONS.get(action, action or "—"))


def entity_label(entity_type: str | None) -> str:
    return str(ENTITY_TYPES.get(entity_type, entity_type or "—"))


def key_label(key) -> str:
    """``fields[2].constraints.max_length`` → 信息项 3 · 约束 · 最长长度 (unknown parts kept)."""
    parts = []
    for part in re.split(r"\.", str(key)):
        found = re.fullmatch(r"([A-Za-z_]+)\[(\d+)\]", part)
        if found:
            parts.append(f"{KEYS.get(found[1], found[1])} {int(found[2]) + 1}")
        elif part.isdigit():
            parts.append(str(int(part) + 1))
        else:
            parts.append(str(CONSTRAINTS.get(part) or KEYS.get(part, part)))
    return " · ".join(parts)


def value_label(key, value):
    """A stored value as a steward reads it: an enum's label (by the key it sits under), else as it is."""
    last = re.sub(r"\[\d+\]$", "", str(key).rsplit(".", 1)[-1])
    if last == "status" and isinstance(value, str):
        table = {**STATUSES, **CODE_STATUSES}
        return str(table.get(value, value))
    if last == "constraints" and isinstance(value, dict):
        return constraints_text(value)
    table = _VALUE_LABELS.get(last)
    if table and isinstance(value, str):
        return str(table.get(value, value))
    return value


CONSTRAINTS = {
    "min_length": L("最短长度"),
    "max_length": L("最长长度"),
    "minimum": L("最小值"),
    "maximum": L("最大值"),
    "pattern": L("格式"),
    "enum": L("可选值"),
}


def constraints_text(constraints: dict | None) -> str:
    """``{"max_length": 40}`` → 最多 40 个字符; each constraint in words, joined with ；."""
    if not constraints:
        return "—"
    c = dict(constraints)
    out = []
    lo, hi = c.pop("min_length", None), c.pop("max_length", None)
    if lo is not None and hi is not None:
        out.append(_("%(a)s–%(b)s 个字符", a=lo, b=hi))
    elif hi is not None:
        out.append(_("最多 %(n)s 个字符", n=hi))
    elif lo is not None:
        out.append(_("至少 %(n)s 个字符", n=lo))
    lo, hi = c.pop("minimum", None), c.pop("maximum", None)
    if lo is not None and hi is not None:
        out.append(_("取值 %(a)s–%(b)s", a=lo, b=hi))
    elif hi is not None:
        out.append(_("不大于 %(n)s", n=hi))
    elif lo is not None:
        out.append(_("不小于 %(n)s", n=lo))
    if "enum" in c:
        out.append(_("可选值：%(v)s", v="、".join(map(str, c.pop("enum") or []))))
    if "pattern" in c:
        out.append(_("格式须符合 %(p)s", p=c.pop("pattern")))
    for key, value in c.items():
        out.append(f"{key}: {value}")
    return "；".join(out)
