"""The catalog exchange layout: the four tables, their Chinese column headers, and how a value becomes a cell and back.

Sheets (XLSX) or files (CSV), one row per object: 单位 ``organizations.csv``, 信息系统 ``systems.csv``,
信息资源 ``resources.csv`` and 信息项 ``fields.csv`` (one row per field, by 信息资源代码 and 序号).
Enumerations are written as Chinese labels (either is read), booleans as 是/否, lists joined by ``;``.
Text cells starting with ``= + - @``, a tab, a carriage return or ``'`` are written with a leading
``'`` so a spreadsheet never runs them as formulas; reading removes that one ``'`` again, so a round
trip is exact.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from catalog.models import ORGANIZATION_KINDS, RESOURCE_STATUSES, SECURITY_GRADES, SHARE_TYPES, UPDATE_CYCLES

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value):
    """A text cell as written: a leading ``'`` before anything a spreadsheet could run as a formula."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def unescape_cell(value):
    """A text cell as read: the one leading ``'`` that ``escape_cell`` added is removed."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its Chinese header, the key it fills (``lineage.name``: nested), its kind."""

    header: str
    key: str
    kind: str = "text"  # text | bool | enum | list | date | json | int | num
    labels: dict = field(default_factory=dict)  # enum: value → Chinese label


RESOURCE_COLUMNS = (
    Column("信息资源代码", "code"),
    Column("信息资源名称", "name"),
    Column("信息资源摘要", "summary"),
    Column("信息资源分类", "category"),
    Column("信息资源提供方代码", "provider"),
    Column("所属系统代码", "system"),
    Column("信息资源格式", "format"),
    Column("共享类型", "share_type", "enum", SHARE_TYPES),
    Column("共享条件", "share_condition"),
    Column("共享方式", "share_method"),
    Column("是否向社会开放", "open_to_public", "bool"),
    Column("开放条件", "open_condition"),
    Column("更新周期", "update_cycle", "enum", UPDATE_CYCLES),
    Column("发布日期", "published_on", "date"),
    Column("数据分级", "security_grade", "enum", SECURITY_GRADES),
    Column("关联资源代码", "related", "list"),
    Column("标签", "tags", "list"),
    Column("数据管理员", "steward"),
    Column("状态", "status", "enum", RESOURCE_STATUSES),
    Column("血缘命名空间", "lineage.namespace"),
    Column("血缘数据集名称", "lineage.name"),
)
FIELD_COLUMNS = (
    Column("信息资源代码", "resource"),
    Column("序号", "position", "int"),
    Column("信息项名称", "name"),
    Column("中文名称", "title"),
    Column("数据类型", "type"),
    Column("必填", "required", "bool"),
    Column("唯一", "unique", "bool"),
    Column("代码方案", "code_scheme"),
    Column("最小长度", "constraints.min_length", "int"),
    Column("最大长度", "constraints.max_length", "int"),
    Column("最小值", "constraints.minimum", "num"),
    Column("最大值", "constraints.maximum", "num"),
    Column("格式", "constraints.pattern"),
    Column("枚举值", "constraints.enum", "json"),
    Column("说明", "description"),
)
SYSTEM_COLUMNS = (
    Column("系统代码", "code"),
    Column("系统名称", "name"),
    Column("系统描述", "description"),
    Column("责任单位代码", "owner"),
    Column("血缘命名空间", "namespaces", "list"),
)
ORGANIZATION_COLUMNS = (
    Column("单位代码", "code"),
    Column("单位名称", "name"),
    Column("英文名称", "name_en"),
    Column("单位类型", "kind", "enum", ORGANIZATION_KINDS),
    Column("统一社会信用代码", "credit_code"),
    Column("上级单位代码", "parent"),
    Column("联系方式", "contact"),
    Column("说明", "description"),
)
#: (sheet title, CSV file name, columns), in the order they are imported
SHEETS = (
    ("单位", "organizations.csv", ORGANIZATION_COLUMNS),
    ("信息系统", "systems.csv", SYSTEM_COLUMNS),
    ("信息资源", "resources.csv", RESOURCE_COLUMNS),
    ("信息项", "fields.csv", FIELD_COLUMNS),
)
LIST_SEPARATOR = ";"


#: sheet title → its columns
COLUMNS_OF = {title: columns for title, _, columns in SHEETS}


def get_path(values: dict, key: str):
    """``values["a"]["b"]`` for the key ``a.b`` (None when a step is missing)."""
    for part in key.split("."):
        if not isinstance(values, dict):
            return None
        values = values.get(part)
    return values


def put_path(values: dict, key: str, value) -> None:
    """Set ``values["a"]["b"]`` for the key ``a.b``, creating the inner dicts."""
    parts = key.split(".")
    for part in parts[:-1]:
        values = values.setdefault(part, {})
    values[parts[-1]] = value


def header_of(columns, key: str) -> str:
    """The header of the column a service or schema error key (``lineage.name``, ``fields[2]``) points at."""
    key = key.split("[")[0]
    for c in columns:
        if c.key == key or c.key.split(".")[0] == key:
            return c.header
    return key


# --- value → cell --------------------------------------------------------------------------


def to_cell(column: Column, value, *, text_only: bool):
    """One value as a cell: Chinese labels for enumerations, 是/否, ``;``-joined lists, numbers as numbers."""
    if value is None or value == [] or value == "":
        return None
    if column.kind == "bool":
        out = "是" if value else "否"
    elif column.kind == "enum":
        out = column.labels.get(value, value)
    elif column.kind == "list":
        out = LIST_SEPARATOR.join(value)
    elif column.kind == "json":
        out = json.dumps(value, ensure_ascii=False)
    elif column.kind == "date":
        out = value if text_only or not isinstance(value, str) else dt.date.fromisoformat(value)
    elif column.kind in ("int", "num") and not isinstance(value, str):
        out = str(value) if text_only else value
    else:
        out = value
    return escape_cell(out) if isinstance(out, str) else out


# --- cell → value --------------------------------------------------------------------------

_YES = {"是", "true", "yes", "y", "1", "t"}
_NO = {"否", "false", "no", "n", "0", "f"}
_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _bool(column: Column, raw):
    text = str(raw).strip().lower()
    if isinstance(raw, bool):
        return raw
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise ValueError("是 or 否")


def _enum(column: Column, raw):
    if raw in column.labels:
        return raw
    by_label = {label: value for value, label in column.labels.items()}
    if raw in by_label:
        return by_label[raw]
    raise ValueError("one of " + ", ".join(f"{label} ({value})" for value, label in column.labels.items()))


def _list(column: Column, raw):
    return [part.strip() for part in str(raw).split(LIST_SEPARATOR) if part.strip()]


def _json(column: Column, raw):
    try:
        return json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise ValueError('a JSON list, e.g. ["甲", "乙"]') from exc


#: a date as spreadsheets re-save it in a Chinese locale: 2021/4/15, 2021-4-15, 2021.4.15, 2021年4月15日
_LOOSE_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _date(column: Column, raw):
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    text = str(raw).strip()
    match = _LOOSE_DATE.match(text)
    try:
        if match:
            return dt.date(*map(int, match.groups())).isoformat()
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise ValueError("a date as YYYY-MM-DD") from exc


def _int(column: Column, raw):
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and _INT.match(raw):
        return int(raw)
    raise ValueError("a whole number")


def _num(column: Column, raw):
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return int(raw) if isinstance(raw, float) and raw.is_integer() else raw
    text = str(raw)
    if _INT.match(text):
        return int(text)
    if _NUM.match(text):
        value = float(text)
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    return text  # a date bound for a date field


def _text(column: Column, raw):
    return raw if isinstance(raw, str) else str(raw)


_PARSERS = {
    "bool": _bool,
    "enum": _enum,
    "list": _list,
    "json": _json,
    "date": _date,
    "int": _int,
    "num": _num,
    "text": _text,
}


def from_cell(column: Column, raw):
    """A cell as a value; raises ValueError with a reason a steward understands."""
    if isinstance(raw, str):
        raw = unescape_cell(raw)
        if column.kind != "text":
            raw = raw.strip()
        if raw == "":
            raw = None
    if raw is None:
        return [] if column.kind == "list" else None
    return _PARSERS[column.kind](column, raw)
