"""Reading a supplier's product list or a delivery file (CSV or XLSX) into rows keyed by recognised columns.

The standards importer's ``read_table`` only knows code-table columns, so this is a small reader of its own
that shares its CSV decoding (UTF-8 with or without BOM, else GB18030/GBK) and reads XLSX with calamine;
title rows above the header are skipped (the header is the first of 20 rows naming a required column).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

from python_calamine import CalamineError, CalamineWorkbook

from registry.errors import Invalid
from standards.importer.reader import decode_csv
from traceability.errors import invalid

#: header names per column, compared after NFKC, trimmed and lower-cased
PRODUCT_COLUMNS = {
    "gtin": ("gtin", "gtin-14", "gtin14", "商品条码", "条码", "条形码", "全球贸易项目代码", "商品编码"),
    "code": ("code", "编码", "分类编码", "材料编码", "工务署编码", "szgws-me"),
    "name": ("name", "名称", "产品名称", "品名", "材料名称", "设备名称"),
    "manufacturer": ("manufacturer", "生产厂家", "制造商", "厂家", "生产企业", "品牌"),
}
DELIVERY_COLUMNS = {
    "link": ("link", "digital link", "uri", "url", "数字链接", "链接", "二维码", "二维码内容"),
    "gtin": PRODUCT_COLUMNS["gtin"],
    "cpv": ("cpv", "变体", "消费品变体"),
    "lot": ("lot", "batch", "批号", "批次", "批次号", "生产批号", "炉批号"),
    "serial": ("serial", "serial number", "序列号", "序号", "出厂编号", "编号"),
    "expiry": ("expiry", "17", "有效期", "有效期至"),
}


@dataclass
class Row:
    """One data row: its number as a spreadsheet shows it, and its cells by column name (None when blank)."""

    row: int
    values: dict


def _key(cell, aliases: dict[str, str]) -> str | None:
    if cell is None:
        return None
    return aliases.get(unicodedata.normalize("NFKC", str(cell)).strip().lower().lstrip("\ufeff"))


def _cell(value):
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(
            value
        )  # a GTIN Excel stored as a number (its leading zero is lost; GTIN-13 is the same item)
    text = str(value).strip()
    return text or None


def _records(name: str, data: bytes) -> list[list]:
    if name.lower().endswith((".xlsx", ".xlsm", ".xls")) or data[:4] == b"PK\x03\x04":
        try:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except (CalamineError, ValueError, OSError) as exc:
            raise invalid("file", "trace.unreadable", detail=str(exc)) from exc
    try:
        text = decode_csv(data)
    except Invalid:
        raise invalid("file", "trace.unreadable", detail="neither UTF-8 nor GB18030/GBK text") from None
    return list(csv.reader(io.StringIO(text, newline="")))


def read_rows(name: str, data: bytes, columns: dict[str, tuple], needs: tuple[str, ...]) -> list[Row]:
    """The rows of a CSV/XLSX file under a header naming one of ``needs``. Raises Invalid (no header, no rows)."""
    aliases = {alias.lower(): column for column, names in columns.items() for alias in names}
    records = _records(name, data)
    header_at, keys = None, []
    for i, record in enumerate(records[:20]):
        keys = [_key(c, aliases) for c in record]
        if any(k in needs for k in keys):
            header_at = i
            break
    if header_at is None:
        raise invalid("file", "trace.no_header", columns=" / ".join(columns[needs[0]][:3]))
    rows = []
    for number, record in enumerate(records[header_at + 1 :], start=header_at + 2):
        values: dict = {}
        for key, cell in zip(keys, record, strict=False):
            if key and key not in values:
                values[key] = _cell(cell)
        if any(v is not None for v in values.values()):
            rows.append(Row(number, values))
    if not rows:
        raise invalid("file", "trace.empty_file")
    return rows
