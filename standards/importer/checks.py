"""Checking the rows of imported code tables: each row against the scheme, then against each other and the release.

``check_rows`` normalises every code and reports every bad row (malformed, duplicate, missing_parent,
unknown_successor, wrong_parent, required) as a ``RowError``; the good rows go on to
``standards.importer.writer``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin

from standards.formats import Malformed, Parsed, Scheme
from standards.importer.reader import SourceRow, Table

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
class CheckedRow:
    """A good row: its canonical code, derived parent and level, and the values to store."""

    code: str
    parent: str | None
    level: int
    values: dict
    source: SourceRow


def pinyin_initials(name: str | None) -> str | None:
    """Pinyin initials of the Chinese characters of a name (钢筋 → gj), or None for a name without any."""
    if not name or not _CJK.search(name):
        return None
    letters = lazy_pinyin(name, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(x for x in letters if len(x) == 1 and x.isascii() and x.isalpha()).lower()[:200] or None


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
            row = _check_row(scheme, src, seen, errors)
            if row is not None:
                good.append(row)
    _check_references(scheme, good, set(seen) | set(existing), errors)
    errors.sort(key=lambda e: (e.file, e.row))
    return good, errors


def _check_row(scheme: Scheme, src: SourceRow, seen: dict[str, SourceRow], errors: list[RowError]):
    """One row on its own (its code once in the files): a ``CheckedRow``, or None with its errors appended."""
    parsed = _parse_code(scheme, src, seen, errors)
    if parsed is None:
        return None
    v = src.values
    before = len(errors)
    if not v.get("name"):
        errors.append(RowError(src.file, src.row, "name", "required", f"{parsed.code} has no name"))
    _check_parent(scheme, src, parsed, errors)
    status, successor = _status_and_successor(scheme, src, errors)
    attributes = _attributes(src, errors)
    if len(errors) > before:
        return None
    values = {
        "name": v["name"],
        "name_en": v.get("name_en"),
        "unit": v.get("unit"),
        "status": status,
        "successor": successor,
        "attributes": attributes,
        "description": v.get("description"),
    }
    return CheckedRow(parsed.code, parsed.parent, parsed.level, values, src)


def _parse_code(scheme: Scheme, src: SourceRow, seen: dict[str, SourceRow], errors: list[RowError]):
    """The row's code parsed (and claimed in ``seen``), or None when it is empty, malformed or a duplicate."""
    raw = src.values.get("code")
    if not raw:
        errors.append(RowError(src.file, src.row, "code", "malformed", "the code is empty"))
        return None
    try:
        parsed: Parsed = scheme.parse(scheme.normalise(raw))
    except Malformed as exc:
        errors.append(RowError(src.file, src.row, "code", "malformed", f"{raw!r}: {exc}"))
        return None
    first = seen.get(parsed.code)
    if first is not None:
        message = f"{parsed.code} is also on {first.file} row {first.row}"
        errors.append(RowError(src.file, src.row, "code", "duplicate", message))
        return None
    seen[parsed.code] = src
    return parsed


def _check_parent(scheme: Scheme, src: SourceRow, parsed: Parsed, errors: list[RowError]) -> None:
    """A ``parent`` column, when given, must be the parent the scheme's rule derives from the code."""
    raw = src.values.get("parent")
    if not raw:
        return
    try:
        given = scheme.parse(scheme.normalise(raw)).code
    except Malformed as exc:
        errors.append(RowError(src.file, src.row, "parent", "malformed", f"{raw!r}: {exc}"))
        return
    if given != parsed.parent:
        message = f"the parent of {parsed.code} is {parsed.parent or '(none: a top-level code)'}, not {given}"
        errors.append(RowError(src.file, src.row, "parent", "wrong_parent", message))


def _status_and_successor(
    scheme: Scheme, src: SourceRow, errors: list[RowError]
) -> tuple[str | None, str | None]:
    """The row's status (a successor without a status means deprecated) and canonical successor."""
    v = src.values
    status = "active"
    if v.get("status"):
        status = STATUS_WORDS.get(v["status"].strip().lower())
        if status is None:
            message = f"{v['status']!r} is not active or deprecated"
            errors.append(RowError(src.file, src.row, "status", "malformed", message))
    successor = None
    if v.get("successor"):
        try:
            successor = scheme.parse(scheme.normalise(v["successor"])).code
        except Malformed as exc:
            errors.append(RowError(src.file, src.row, "successor", "malformed", f"{v['successor']!r}: {exc}"))
        if not v.get("status"):
            status = "deprecated"
    return status, successor


def _attributes(src: SourceRow, errors: list[RowError]) -> list | None:
    """The row's attribute template (JSON), or None when it has none or it is not a template."""
    text = src.values.get("attributes")
    if not text:
        return None
    try:
        attributes = json.loads(text)
        check_template(attributes)
    except (ValueError, TypeError) as exc:
        errors.append(
            RowError(src.file, src.row, "attributes", "malformed", f"not an attribute template: {exc}")
        )
        return None
    return attributes


def _check_references(
    scheme: Scheme, good: list[CheckedRow], known: set[str], errors: list[RowError]
) -> None:
    """Parents and successors must be codes of the files or of the release (a table code is a root)."""
    roots = set(scheme.tables) if scheme.kind == "segmented" and scheme.table_is_root else set()
    for row in good:
        if row.parent is not None and row.parent not in known and row.parent not in roots:
            column = "parent" if row.source.values.get("parent") else "code"
            message = f"the parent {row.parent} of {row.code} is neither in the file nor in the release"
            errors.append(RowError(row.source.file, row.source.row, column, "missing_parent", message))
        successor = row.values["successor"]
        if successor is not None and (successor not in known or successor == row.code):
            where = "the code itself" if successor == row.code else "neither in the file nor in the release"
            message = f"the successor {successor} of {row.code} is {where}"
            errors.append(
                RowError(row.source.file, row.source.row, "successor", "unknown_successor", message)
            )


def check_template(template) -> None:
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
