"""Traceability's refusals: a machine ``code``, its ``params`` and a message in Chinese and English, per field.

Each is raised as the matching ``registry.errors`` class (Invalid 422, Conflict 409, Forbidden 403,
NotFound 404) with ``errors`` = ``{field: [issue, …]}``, the same shape as ``gs1.GS1Invalid``'s problems.
"""

from __future__ import annotations

from registry.errors import Conflict, Forbidden, Invalid, NotFound, YimaError

#: code → (Chinese, English) templates over the issue's params
MESSAGES = {
    "trace.required": ("{field_zh}为必填项", "{field} is required"),
    "trace.too_long": ("{field_zh}最多 {max} 个字符", "{field} has at most {max} characters"),
    "trace.not_text": ("{field_zh}必须是文本", "{field} must be text"),
    "trace.link_or_parts": (
        "请提供数字链接（link）或 GTIN + 批号/序列号，二者取其一",
        "send either a Digital Link (link) or gtin with lot and/or serial, not both",
    ),
    "trace.code_unknown": (
        "编码 {code} 不在 {scheme} 当前发布版 {release} 中",
        "{code} is not in {scheme} release {release}",
    ),
    "trace.code_malformed": (
        "“{code}”不是 {scheme} 编码：{detail}",
        "{code!r} is not a {scheme} code: {detail}",
    ),
    "trace.code_deprecated": (
        "编码 {code} 已废止{successor_zh}",
        "{code} is deprecated{successor_en}",
    ),
    "trace.code_not_assignable": (
        "编码 {code}（{name}）是分类大类，产品须使用可赋值层级的编码",
        "{code} ({name}) is a category; a product carries a code of an assignable level",
    ),
    "trace.no_release": (
        "{scheme} 尚无已发布的编码版本，无法登记产品",
        "{scheme} has no published release yet, so no product can be registered",
    ),
    "trace.gtin_registered": (
        "GTIN {gtin} 已登记为产品“{name}”（编码 {code}）",
        "GTIN {gtin} is already registered as {name!r} ({code})",
    ),
    "trace.gtin_duplicate_row": ("GTIN {gtin} 与第 {other} 行重复", "GTIN {gtin} is also on row {other}"),
    "trace.product_unknown": (
        "GTIN {gtin} 尚未登记为产品，请先登记产品及其编码",
        "GTIN {gtin} is not a registered product: register the product and its code first",
    ),
    "trace.item_registered": ("物品 {key} 已登记", "item {key} is already registered"),
    "trace.item_duplicate_row": ("物品 {key} 与第 {other} 行重复", "item {key} is also on row {other}"),
    "trace.item_unknown": ("没有物品 {key}", "there is no item {key}"),
    "trace.delivery_unknown": ("没有送货单 {reference}", "there is no delivery {reference}"),
    "trace.repeated": ("该物品已记录过{type_zh}", "the item already has a {type} event"),
    "trace.delivery_registered": ("送货单 {reference} 已登记", "delivery {reference} is already registered"),
    "trace.entry_shape": (
        "第 {row} 项应为只含 {fields} 的对象",
        "entry {row} must be an object with only {fields}",
    ),
    "trace.empty_file": ("文件中没有数据行", "the file has no data rows"),
    "trace.no_header": (
        "前 20 行中没有包含 {columns} 列的表头",
        "no header row naming a {columns} column in the first 20 rows",
    ),
    "trace.unreadable": ("无法读取文件：{detail}", "the file cannot be read: {detail}"),
    "trace.organization_required": (
        "记录生命周期事件须代表一个单位",
        "a lifecycle event must be recorded on behalf of an organization",
    ),
    "trace.organization_unknown": (
        "单位 {organization} 未登记",
        "organization {organization} is not registered",
    ),
    "trace.kind_forbidden": (
        "{type_zh}只能由{kinds_zh}记录，而{organization}是{kind_zh}",
        "{type} may only be recorded by {kinds}; {organization} is a {kind}",
    ),
    "trace.event_type": (
        "事件类型“{type}”无效（delivered、inspected、installed、handed_over）",
        "{type!r} is not an event type (delivered, inspected, installed, handed_over)",
    ),
    "trace.result_required": (
        "进场检验须给出结果 pass 或 fail",
        "an inspection needs a result: pass or fail",
    ),
    "trace.result_unexpected": (
        "只有进场检验（inspected）有结果",
        "only an inspection (inspected) has a result",
    ),
    "trace.at_invalid": ("时间“{value}”不是 ISO 8601 时间", "{value!r} is not an ISO 8601 time"),
    "trace.at_future": ("事件时间 {at} 晚于当前时间", "the event time {at} is in the future"),
    "trace.at_before_previous": (
        "事件时间 {at} 早于上一事件（{previous}，{previous_at}）",
        "the event time {at} is before the previous event ({previous} at {previous_at})",
    ),
    "trace.order": (
        "{type_zh}须在{needs_zh}之后；该物品当前状态为{status_zh}",
        "{type} must follow {needs}; the item's last event is {status}",
    ),
    "trace.inspection_failed": (
        "该物品进场检验不合格，须重新检验合格后方可安装",
        "the item failed its inspection: it must pass a new inspection before it is installed",
    ),
    "trace.inspection_passed": (
        "该物品已检验合格，无需再次检验",
        "the item has already passed its inspection",
    ),
    "trace.handed_over": (
        "该物品已移交，生命周期已结束",
        "the item has been handed over: its lifecycle is complete",
    ),
}

FIELD_ZH = {
    "gtin": "GTIN",
    "code": "编码",
    "name": "名称",
    "manufacturer": "生产厂家",
    "link": "数字链接",
    "project": "项目",
    "note": "备注",
    "reference": "送货单号",
    "at": "事件时间",
    "type": "事件类型",
    "result": "检验结果",
    "organization": "单位",
}
EVENT_ZH = {
    "registered": "已登记",
    "delivered": "进场",
    "inspected": "进场检验",
    "installed": "安装",
    "handed_over": "移交",
}


def issue(code: str, /, **params) -> dict:
    """One refusal as a dict: ``{"code", "params", "message_zh", "message_en"}``."""
    if "field" in params:
        params.setdefault("field_zh", FIELD_ZH.get(params["field"], params["field"]))
    zh, en = MESSAGES[code]
    return {
        "code": code,
        "params": params,
        "message_zh": zh.format(**params),
        "message_en": en.format(**params),
    }


def refuse(kind: type[YimaError], field_name: str, code: str, /, **params) -> YimaError:
    """The error to raise: ``kind`` (Invalid, Conflict, Forbidden, NotFound) with one issue under ``field_name``."""
    found = issue(code, **params)
    return kind(found["message_en"], {field_name: [found]})


def invalid(field_name: str, code: str, /, **params) -> Invalid:
    return refuse(Invalid, field_name, code, **params)


def conflict(field_name: str, code: str, /, **params) -> Conflict:
    return refuse(Conflict, field_name, code, **params)


def forbidden(field_name: str, code: str, /, **params) -> Forbidden:
    return refuse(Forbidden, field_name, code, **params)


def not_found(field_name: str, code: str, /, **params) -> NotFound:
    return refuse(NotFound, field_name, code, **params)


def check_text(values: dict, name: str, max_length: int, *, required: bool = False) -> str | None:
    """``values[name]`` stripped, None when blank; raises Invalid when required and blank, not text, or too long."""
    value = values.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise invalid(name, "trace.required", field=name)
        return None
    if not isinstance(value, str):
        raise invalid(name, "trace.not_text", field=name)
    value = value.strip()
    if len(value) > max_length:
        raise invalid(name, "trace.too_long", field=name, max=max_length)
    return value
