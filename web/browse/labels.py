"""Display labels for the catalog's coded values and Chinese wording for common field errors."""

from __future__ import annotations

import re

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
            out.setdefault(prefix, []).extend(field_message(v) for v in value)
        elif isinstance(value, list | tuple):
            for sub in value:
                walk(prefix, sub)
        else:
            out.setdefault(prefix, []).append(field_message(str(value)))

    walk("", errors or {})
    return out
