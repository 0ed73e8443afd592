"""The problems a GS1 identifier can have: a machine code, the part it is in, params, and zh + en messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from biip import ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

from registry.errors import Invalid

PART_NAMES = {
    "01": ("GTIN（01）", "the GTIN (01)"),
    "22": ("消费品变体（22）", "the consumer product variant (22)"),
    "10": ("批号（10）", "the lot (10)"),
    "21": ("序列号（21）", "the serial number (21)"),
    "uri": ("链接", "the link"),
    "path": ("链接路径", "the link's path"),
    "query": ("链接的查询参数", "the link's query string"),
    "key": ("物品键", "the item key"),
    "11": ("生产日期（11）", "the production date (11)"),
    "13": ("包装日期（13）", "the packaging date (13)"),
    "15": ("保质期（15）", "the best-before date (15)"),
    "16": ("销售截止日期（16）", "the sell-by date (16)"),
    "17": ("有效期（17）", "the expiry date (17)"),
}

#: code → (Chinese, English) message templates; ``{name_zh}``/``{name_en}`` name the part, the rest are params
MESSAGES = {
    "gs1.empty": ("{name_zh}为空", "{name_en} is empty"),
    "gs1.not_text": ("{name_zh}必须是文本", "{name_en} must be text"),
    "gs1.uri_malformed": ("{name_zh}不是有效的网址", "{name_en} is not a valid URI"),
    "gs1.uri_scheme": (
        "数字链接以 https:// 或 http:// 开头，而不是“{scheme}”",
        "a Digital Link starts with https:// or http://, not {scheme!r}",
    ),
    "gs1.uri_host": ("链接缺少主机名", "the link has no host name"),
    "gs1.percent_encoding": (
        "{name_zh}中的百分号编码“{text}”无效（% 后应为两位十六进制数字，且为 UTF-8）",
        "{name_en} has an invalid percent-encoding {text!r} (% takes two hex digits, UTF-8)",
    ),
    "gs1.compressed": (
        "不支持压缩格式的 GS1 数字链接，请使用未压缩的链接：…/01/{{GTIN}}/10/{{批号}}/21/{{序列号}}",
        "compressed GS1 Digital Link URIs are not supported; use the uncompressed form …/01/{{GTIN}}/10/{{lot}}/21/{{serial}}",
    ),
    "gs1.no_gtin": (
        "链接路径中没有 /01/{{GTIN}}：物品的数字链接以 GTIN 为主键",
        "the path has no /01/{{GTIN}}: an item's Digital Link has a GTIN as its primary key",
    ),
    "gs1.other_primary_key": (
        "链接的主键是 AI {found}，而物品需要 GTIN（01）",
        "the link's primary key is AI {found}; an item needs a GTIN (01)",
    ),
    "gs1.path_pairs": (
        "链接路径 {path} 应由“AI/值”成对组成",
        "the path {path} must be made of AI/value pairs",
    ),
    "gs1.convenience_alpha": (
        "“{alpha}”是已废止的简写，请使用数字 AI {ai}",
        "{alpha!r} is a deprecated convenience alpha; use the numeric AI {ai}",
    ),
    "gs1.qualifier_unknown": (
        "AI {ai} 不能跟在 GTIN 之后（路径中只允许 22、10、21）",
        "AI {ai} cannot qualify a GTIN (only 22, 10 and 21 may follow /01/ in the path)",
    ),
    "gs1.qualifier_order": (
        "{name_zh}应在 AI {after} 之前：限定符顺序为 22 → 10 → 21",
        "{name_en} must come before AI {after}: qualifiers go in the order 22 → 10 → 21",
    ),
    "gs1.repeated": ("{name_zh}出现了不止一次", "{name_en} appears more than once"),
    "gs1.qualifier_in_query": (
        "{name_zh}是路径限定符，应写在路径中（/{ai}/…），不能放在查询参数中",
        "{name_en} is a key qualifier: put it in the path (/{ai}/…), not in the query string",
    ),
    "gs1.gtin_digits": ("{name_zh}只能由数字 0–9 组成", "{name_en} must be digits 0–9 only"),
    "gs1.gtin_length": (
        "{name_zh}应为 8、12、13 或 14 位数字，而不是 {length} 位",
        "{name_en} must have 8, 12, 13 or 14 digits, not {length}",
    ),
    "gs1.gtin_zero": ("{name_zh}不能全为 0", "{name_en} cannot be all zeros"),
    "gs1.check_digit": (
        "{name_zh} {value} 的校验位应为 {expected}，而不是 {got}",
        "the check digit of {name_en} {value} is {expected}, not {got}",
    ),
    "gs1.too_long": (
        "{name_zh}最多 {max} 个字符，而不是 {length} 个",
        "{name_en} has at most {max} characters, not {length}",
    ),
    "gs1.charset": (
        "{name_zh}含有 GS1 字符集 82 以外的字符：{chars}",
        "{name_en} has characters outside GS1 character set 82: {chars}",
    ),
    "gs1.date": (
        "{name_zh}的日期“{value}”无效（格式 YYMMDD，日为 00 表示当月最后一天）",
        "{name_en} {value!r} is not a valid date (YYMMDD; day 00 means the last day of the month)",
    ),
    "gs1.attribute": (
        "{name_zh}的值“{value}”不符合其格式 {format}",
        "{name_en} {value!r} does not match its format {format}",
    ),
    "gs1.rejected": (
        "GS1 解析器（biip）拒绝了{name_zh}：{detail}",
        "the GS1 parser (biip) refused {name_en}: {detail}",
    ),
    "gs1.key_unencoded": (
        "物品键中的 ? 和 # 须百分号编码（%3F、%23）",
        "an item key must percent-encode ? and # (%3F, %23)",
    ),
    "gs1.ai_unknown": ("“{ai}”不是 GS1 应用标识符", "{ai!r} is not a GS1 Application Identifier"),
    "gs1.no_item_qualifier": (
        "物品需要批号（10）或序列号（21）；只有 GTIN 的链接指向的是产品",
        "an item needs a lot (10) or a serial number (21); a link with only a GTIN names a product",
    ),
}


def part_names(part: str) -> tuple[str, str]:
    """The Chinese and English name of a part ("01", "10", an attribute AI, "uri", …)."""
    if part in PART_NAMES:
        return PART_NAMES[part]
    try:
        title = GS1ApplicationIdentifier.extract(part).description
    except ParseError:
        title = None
    return (f"应用标识符 {part} ", f"AI {part}" + (f" ({title})" if title else ""))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an identifier: where (``part``), what (``code`` + ``params``), in zh and en."""

    code: str
    part: str
    params: dict = field(default_factory=dict)

    @property
    def message_zh(self) -> str:
        return MESSAGES[self.code][0].format(name_zh=part_names(self.part)[0], **self.params)

    @property
    def message_en(self) -> str:
        return MESSAGES[self.code][1].format(name_en=part_names(self.part)[1], **self.params)

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "part": self.part,
            "params": dict(self.params),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


class GS1Invalid(Invalid):
    """``registry.errors.Invalid`` (422) whose ``errors`` map each input field to its problems' dicts."""

    def __init__(self, problems: list[tuple[str, Problem]]):
        self.problems = problems
        errors: dict[str, list[dict]] = {}
        for name, problem in problems:
            errors.setdefault(name, []).append(problem.to_dict())
        message = "; ".join(p.message_en for _, p in problems)
        super().__init__(message[:1].upper() + message[1:], errors)


def fail(field_name: str, code: str, part: str, **params) -> GS1Invalid:
    return GS1Invalid([(field_name, Problem(code, part, params))])
