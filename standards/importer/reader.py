"""Reading code tables from CSV (UTF-8 with or without BOM, GB18030/GBK) and XLSX, finding the header row and columns."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from registry.errors import Invalid

#: header names recognised for each column (compared after NFKC, trimmed, case-insensitively)
COLUMNS = {
    "code": ("code", "编码", "代码", "分类编码", "编号"),
    "name": ("name", "名称", "中文名称", "title", "分类名称"),
    "name_en": ("name_en", "英文名称", "english name", "name (en)"),
    "parent": ("parent", "上级编码", "父级编码", "上级", "父级"),
    "status": ("status", "状态"),
    "successor": ("successor", "替代编码", "后继编码", "successor code"),
    "unit": ("unit", "单位", "计量单位"),
    "attributes": ("attributes", "属性", "属性模板"),
    "description": ("description", "说明", "描述", "备注"),
}
_HEADER = {alias: column for column, aliases in COLUMNS.items() for alias in aliases}


@dataclass
class SourceRow:
    """One data row of a file: where it is (spreadsheet row number, header = its own row) and its cells."""

    file: str
    row: int
    values: dict


@dataclass
class Table:
    """The rows of one file, keyed by the recognised column names."""

    file: str
    columns: list[str]
    rows: list[SourceRow] = field(default_factory=list)


def _header_key(cell) -> str | None:
    if cell is None:
        return None
    text = unicodedata.normalize("NFKC", str(cell)).strip().lower().lstrip("\ufeff")
    return _HEADER.get(text)


def decode_csv(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK, what Chinese Excel writes)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise Invalid("the file is neither UTF-8 nor GB18030/GBK text") from exc


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def read_table(name: str, data: bytes) -> Table:
    """Parse one CSV or XLSX file (by name and content). Raises Invalid when no header row names a code column."""
    if name.lower().endswith((".xlsx", ".xlsm", ".xls")) or data[:4] == b"PK\x03\x04":
        records = _xlsx_records(name, data)
    else:
        records = list(csv.reader(io.StringIO(decode_csv(data), newline="")))
    header_at, keys = None, []
    for i, record in enumerate(records[:20]):
        keys = [_header_key(c) for c in record]
        if "code" in keys:
            header_at = i
            break
    if header_at is None:
        raise Invalid(
            f"{name}: no header row with a code column (one of: {', '.join(COLUMNS['code'])}) in the first 20 rows",
            {"file": [name]},
        )
    table = Table(name, [k for k in keys if k])
    for offset, record in enumerate(records[header_at + 1 :], start=header_at + 2):
        values = {}
        for key, cell in zip(keys, record, strict=False):
            if key and key not in values:
                values[key] = _cell(cell)
        if any(v is not None for v in values.values()):
            table.rows.append(SourceRow(name, offset, values))
    return table


def _xlsx_records(name: str, data: bytes) -> list[list]:
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError) as exc:
        raise Invalid(f"{name}: not a readable XLSX workbook ({exc})", {"file": [name]}) from exc


def read_files(paths: list[str | Path]) -> list[Table]:
    """``read_table`` for each file on disk. Raises Invalid as read_table does."""
    return [read_table(Path(p).name, Path(p).read_bytes()) for p in paths]
