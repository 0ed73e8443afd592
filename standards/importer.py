"""Reading code tables from CSV (UTF-8 with or without BOM, GB18030/GBK) and XLSX, with header detection and row checks."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pypinyin import Style, lazy_pinyin

from registry.errors import Invalid
from standards.formats import Malformed, Scheme

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
STATUS_WORDS = {
    "active": "active",
    "有效": "active",
    "启用": "active",
    "现行": "active",
    "deprecated": "deprecated",
    "废止": "deprecated",
    "停用": "deprecated",
    "作废": "deprecated",
    "弃用": "deprecated",
}
_CJK = re.compile("[\u3400-\u9fff]")


@dataclass
class RowError:
    """One bad row: where it is and why (reason: malformed, duplicate, missing_parent, unknown_successor, …)."""

    file: str
    row: int
    column: str
    reason: str
    message: str

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.file} row {self.row}, column {self.column}: {self.reason}: {self.message}"


@dataclass
class SourceRow:
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
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        return book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError) as exc:
        raise Invalid(f"{name}: not a readable XLSX workbook ({exc})", {"file": [name]}) from exc


def read_files(paths: list[str | Path]) -> list[Table]:
    return [read_table(Path(p).name, Path(p).read_bytes()) for p in paths]


def pinyin_initials(name: str | None) -> str | None:
    """Pinyin initials of the Chinese characters of a name (钢筋 → gj), or None for a name without any."""
    if not name or not _CJK.search(name):
        return None
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(x for x in letters if len(x) == 1 and x.isascii() and x.isalpha()).lower()[:200] or None


@dataclass
class CheckedRow:
    code: str
    parent: str | None
    level: int
    values: dict
    source: SourceRow


def check_rows(
    scheme: Scheme, tables: list[Table], existing: dict[str, tuple]
) -> tuple[list[CheckedRow], list[RowError]]:
    """Normalise and check every row against the scheme and each other; return good rows and every error.

    ``existing`` holds the release's current codes (code → anything) so parents and successors may refer to them.
    """
    errors: list[RowError] = []
    good: list[CheckedRow] = []
    seen: dict[str, SourceRow] = {}
    for table in tables:
        if "name" not in table.columns:
            errors.append(
                RowError(table.file, 1, "name", "malformed", "no name column (名称, name or Title)")
            )
            continue
        for src in table.rows:
            v = src.values
            raw = v.get("code")
            if not raw:
                errors.append(RowError(src.file, src.row, "code", "malformed", "the code is empty"))
                continue
            try:
                parsed = scheme.parse(scheme.normalise(raw))
            except Malformed as exc:
                errors.append(RowError(src.file, src.row, "code", "malformed", f"{raw!r}: {exc}"))
                continue
            code = parsed.code
            if code in seen:
                first = seen[code]
                errors.append(
                    RowError(
                        src.file,
                        src.row,
                        "code",
                        "duplicate",
                        f"{code} is also on {first.file} row {first.row}",
                    )
                )
                continue
            seen[code] = src
            row_ok = True
            if not v.get("name"):
                errors.append(RowError(src.file, src.row, "name", "required", f"{code} has no name"))
                row_ok = False
            if v.get("parent"):
                try:
                    given = scheme.parse(scheme.normalise(v["parent"])).code
                except Malformed as exc:
                    given = None
                    errors.append(
                        RowError(src.file, src.row, "parent", "malformed", f"{v['parent']!r}: {exc}")
                    )
                    row_ok = False
                if given is not None and given != parsed.parent:
                    errors.append(
                        RowError(
                            src.file,
                            src.row,
                            "parent",
                            "wrong_parent",
                            f"the parent of {code} is {parsed.parent or '(none: a top-level code)'}, not {given}",
                        )
                    )
                    row_ok = False
            status = "active"
            if v.get("status"):
                status = STATUS_WORDS.get(v["status"].strip().lower())
                if status is None:
                    errors.append(
                        RowError(
                            src.file,
                            src.row,
                            "status",
                            "malformed",
                            f"{v['status']!r} is not active or deprecated",
                        )
                    )
                    row_ok = False
            successor = None
            if v.get("successor"):
                try:
                    successor = scheme.parse(scheme.normalise(v["successor"])).code
                except Malformed as exc:
                    errors.append(
                        RowError(src.file, src.row, "successor", "malformed", f"{v['successor']!r}: {exc}")
                    )
                    row_ok = False
                if not v.get("status"):
                    status = "deprecated"
            attributes = None
            if v.get("attributes"):
                try:
                    attributes = json.loads(v["attributes"])
                    _check_template(attributes)
                except (ValueError, TypeError) as exc:
                    errors.append(
                        RowError(
                            src.file, src.row, "attributes", "malformed", f"not an attribute template: {exc}"
                        )
                    )
                    row_ok = False
            if row_ok:
                good.append(
                    CheckedRow(
                        code,
                        parsed.parent,
                        parsed.level,
                        {
                            "name": v["name"],
                            "name_en": v.get("name_en"),
                            "unit": v.get("unit"),
                            "status": status,
                            "successor": successor,
                            "attributes": attributes,
                            "description": v.get("description"),
                        },
                        src,
                    )
                )
    known = set(seen) | set(existing)
    roots = set(scheme.tables) if scheme.kind == "segmented" and scheme.table_is_root else set()
    for row in good:
        if row.parent is not None and row.parent not in known and row.parent not in roots:
            column = "parent" if row.source.values.get("parent") else "code"
            errors.append(
                RowError(
                    row.source.file,
                    row.source.row,
                    column,
                    "missing_parent",
                    f"the parent {row.parent} of {row.code} is neither in the file nor in the release",
                )
            )
        successor = row.values["successor"]
        if successor is not None and (successor not in known or successor == row.code):
            errors.append(
                RowError(
                    row.source.file,
                    row.source.row,
                    "successor",
                    "unknown_successor",
                    f"the successor {successor} of {row.code} is "
                    + (
                        "the code itself"
                        if successor == row.code
                        else "neither in the file nor in the release"
                    ),
                )
            )
    errors.sort(key=lambda e: (e.file, e.row))
    return good, errors


def _check_template(template) -> None:
    """Raise ValueError unless ``template`` is a list of {"name", "type", ...} attribute definitions."""
    if not isinstance(template, list):
        raise ValueError("a JSON list of attributes is expected")
    for attr in template:
        if not isinstance(attr, dict) or not isinstance(attr.get("name"), str):
            raise ValueError("each attribute needs a name")
        if attr.get("type", "string") not in ("string", "number", "integer", "enum"):
            raise ValueError(f"attribute {attr['name']}: type must be string, number, integer or enum")
        if attr.get("type") == "enum" and not isinstance(attr.get("values"), list):
            raise ValueError(f"attribute {attr['name']}: an enum needs a list of values")
