"""The catalog import: organizations, systems, resources and their fields from the exchange layout, all or nothing.

Steps: read the file (``workbook.read_file``), parse every cell (``layout.from_cell``), check every row
with the API's schemas, then save through the same services as the API in one transaction (related
resources first) and roll it all back if any row was refused. Every bad row is reported as sheet,
row, column and message (marshmallow's messages reworded as the importer's own, ``plain_message``).

What is absent is left alone, never emptied: a sheet (file) the input does not have leaves that part
of the catalog as it is (no 信息项 sheet: every resource keeps its fields), and a column a sheet does
not have keeps that property of the existing objects. What is present is the whole truth for the rows
on it: an empty cell clears its value, and a 信息项 sheet that is there (even with its header row
only) lists *all* the fields of each resource on the 信息资源 sheet, so a resource with no rows on it
ends with no fields. Field rows of a resource that is not on the 信息资源 sheet but in the catalog
replace that resource's fields and change nothing else. Every field an import removes is reported by
resource and name (``deleted_fields``), in a dry run too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import organizations, resources, systems
from catalog.exchange.layout import (
    COLUMNS_OF,
    FIELD_COLUMNS,
    RESOURCE_COLUMNS,
    SHEETS,
    from_cell,
    header_of,
    put_path,
)
from catalog.exchange.workbook import Tables, read_file
from catalog.models import DataResource, Organization, System
from catalog.schemas import FieldSchema, OrganizationSchema, ResourceSchema, SystemSchema
from registry.errors import Conflict, YimaError
from registry.jsonutil import canonical, jsonable

#: the sheets that hold objects (信息项 rows belong to their resource), in the order they are saved
OBJECT_SHEETS = ("单位", "信息系统", "信息资源")
_SCHEMAS = {"单位": OrganizationSchema, "信息系统": SystemSchema, "信息资源": ResourceSchema}
_KIND = {"单位": "organizations", "信息系统": "systems", "信息资源": "resources"}
#: a row to save: (sheet title, spreadsheet row number, checked values)
Planned = tuple[str, int, dict]


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do) per kind of object, and every bad row."""

    created: dict = field(default_factory=dict)
    updated: dict = field(default_factory=dict)
    unchanged: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    dry_run: bool = False
    #: resource code → names of the fields the import removes from it
    deleted_fields: dict = field(default_factory=dict)
    #: the tables the input does not have (left as they are), and the sheets or files it ignored
    absent: list = field(default_factory=list)
    ignored: list = field(default_factory=list)

    def count(self, bucket: str, kind: str) -> None:
        target = getattr(self, bucket)
        target[kind] = target.get(kind, 0) + 1

    def error(self, sheet: str, row: int, column: str, message: str) -> None:
        self.errors.append({"sheet": sheet, "row": row, "column": column, "message": message})

    @property
    def deleted(self) -> dict:
        """How many objects the import deletes, per kind (only fields: an import never deletes a resource)."""
        n = sum(len(names) for names in self.deleted_fields.values())
        return {"fields": n} if n else {}

    def to_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "deleted_fields": self.deleted_fields,
            "absent": self.absent,
            "ignored": self.ignored,
            "errors": self.errors,
        }


def import_catalog(
    session: Session,
    path: Path,
    *,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    tables: Tables | None = None,
) -> ImportReport:
    """Import organizations, systems and resources (with fields) from a file, all or nothing.

    Objects whose code is new are created, existing ones replaced when they differ (each an audited
    change with a revision), identical ones left alone. Every bad row is reported in ``errors``
    (sheet, row, column, message) and then nothing is written; ``dry_run`` reports what would change
    and writes nothing either way. ``tables`` (as ``read_file`` returns them) spares reading ``path``
    again. ``session`` must be a writer session. Raises Invalid for a file that cannot be read.
    """
    report = ImportReport(dry_run=dry_run)
    tables = tables if tables is not None else read_file(path)
    report.absent = [title for title, _, _ in SHEETS if title not in tables]
    report.ignored = list(getattr(tables, "ignored", []))
    parsed = {title: _parse(title, cols, tables.get(title, []), report) for title, _, cols in SHEETS}
    present = {title: _columns_present(title, tables) for title in OBJECT_SHEETS}
    fields_by_resource = _group_fields(session, parsed, report)
    plan = _plan(session, parsed, present, fields_by_resource if "信息项" in tables else None, report)
    field_rows = {
        code: [n for _, n, _ in sorted(items, key=lambda t: t[:2])]
        for code, items in fields_by_resource.items()
    }
    # the rows that parsed are saved even when others did not, so that their own problems (unknown
    # references, …) are reported too; any error rolls the whole transaction back below
    _write(session, plan, field_rows, actor, report, progress)
    if report.errors or dry_run:
        session.rollback()
        if report.errors:
            report.created, report.updated, report.unchanged, report.deleted_fields = {}, {}, {}, {}
        return report
    session.commit()
    return report


# --- parsing and checking ------------------------------------------------------------------


def _parse(title: str, columns, records, report: ImportReport) -> list[tuple[int, dict]]:
    """Each row's cells as values (keyed as the API's objects); a cell that does not parse is reported."""
    by_header = {c.header: c for c in columns}
    out = []
    for number, raw in records:
        values: dict = {}
        for header, cell in raw.items():
            column = by_header.get(header)
            if column is None:
                continue
            try:
                value = from_cell(column, cell)
            except ValueError as exc:
                report.error(title, number, header, str(exc))
                continue
            if value is not None or column.kind == "list":
                put_path(values, column.key, value)
        out.append((number, values))
    unknown = sorted({h for _, raw in records for h in raw} - set(by_header))
    if unknown:
        report.error(title, 1, ", ".join(unknown), "unknown column(s)")
    return out


#: marshmallow's own messages (English sentences) as the importer words its reasons: what the cell
#: should hold, lower case, like the cell parsers' "是 or 否" and "a date as YYYY-MM-DD"
_PLAIN = (
    (r"Missing data for required field\.|Field may not be null\.", "required (the cell is empty)"),
    (r"Not a valid string\.", "text"),
    (r"Not a valid integer\.", "a whole number"),
    (r"Not a valid number\.|Not a valid float\.", "a number"),
    (r"Number too large\.", "a smaller number"),
    (r"Special numeric values \(nan or infinity\) are not permitted\.", "a finite number"),
    (r"Not a valid boolean\.", "是 or 否"),
    (r"Not a valid list\.", "a list separated by ;"),
    (r"Not a valid mapping type\.|Invalid type\.|Invalid input type\.", "a value of another kind"),
    (r"Unknown field\.", "not a column of this sheet"),
    (r"Length must be between (\d+) and (\d+)\.", r"\1 to \2 characters"),
    (r"Length must be (\d+)\.", r"exactly \1 characters"),
    (r"Longer than maximum length (\d+)\.", r"at most \1 characters"),
    (r"Shorter than minimum length (\d+)\.", r"at least \1 characters"),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", r"from \1 to \2"),
    (r"Must be greater than or equal to (\S+)\.", r"at least \1"),
    (r"Must be less than or equal to (\S+)\.", r"at most \1"),
    (r"Must be one of: (.*)\.", r"one of \1"),
    (r"String does not match expected pattern\.", "not in the expected form"),
    (r"Invalid value\.", "not a valid value"),
)


def plain_message(message: str) -> str:
    """One of marshmallow's messages worded as the importer's own (others pass through, unchanged)."""
    for pattern, replacement in _PLAIN:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, replacement, message)
    return message


def _schema_errors(title: str, columns, number: int, messages, report: ImportReport) -> None:
    """A schema's nested error messages as row errors, each under the column its key points at."""

    def walk(prefix, msgs):
        if isinstance(msgs, dict):
            for k, v in msgs.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            items = msgs if isinstance(msgs, list) else [msgs]
            text = "; ".join(plain_message(str(m)) for m in items)
            report.error(title, number, header_of(columns, prefix), text)

    walk("", messages)


def _group_fields(
    session: Session, parsed: dict, report: ImportReport
) -> dict[str, list[tuple[int, int, dict]]]:
    """The 信息项 rows checked one by one and grouped under their resource code: ``(position, row, field)``;
    a resource must be on the 信息资源 sheet or in the catalog."""
    fields_by_resource: dict[str, list[tuple[int, int, dict]]] = {}
    for number, values in parsed["信息项"]:
        code = values.pop("resource", None)
        position = values.pop("position", None)
        if not code:
            report.error("信息项", number, "信息资源代码", "required (the cell is empty)")
            continue
        try:
            loaded = FieldSchema().load(values)
        except ValidationError as exc:
            _schema_errors("信息项", FIELD_COLUMNS, number, exc.messages, report)
            continue
        fields_by_resource.setdefault(code, []).append((position or 10**6, number, loaded))
    listed = {v.get("code") for _, v in parsed["信息资源"]}
    elsewhere = set(fields_by_resource) - listed
    known = set(session.scalars(select(DataResource.code).where(DataResource.code.in_(elsewhere))))
    for code in sorted(elsewhere - known):
        for _, number, _ in fields_by_resource.pop(code):
            message = f"no resource {code!r} on the 信息资源 sheet or in the catalog"
            report.error("信息项", number, "信息资源代码", message)
    return fields_by_resource


def _columns_present(title: str, tables: Tables) -> set[str]:
    """The keys (``lineage``, not ``lineage.name``) of the columns a sheet has: the ones it may change."""
    headers = {h for _, raw in tables.get(title, []) for h in raw}
    return {c.key.split(".")[0] for c in COLUMNS_OF[title] if c.header in headers}


def _current(session: Session, title: str, code) -> dict | None:
    """An existing object as the API's schema loads it (no dump-only keys), or None."""
    model = {"单位": Organization, "信息系统": System, "信息资源": DataResource}[title]
    current = session.scalar(select(model).where(model.code == code)) if isinstance(code, str) else None
    if current is None:
        return None
    values = current.to_dict()
    values.pop("revision", None)
    return values


def _merged(current: dict | None, values: dict, present: set[str]) -> dict:
    """The row over the existing object: a column the sheet has sets (or, empty, clears) its value;
    a column it does not have keeps the object's value. A new object is the row alone."""
    if current is None:
        return values
    merged = dict(current)
    for key in present:
        if key in values:
            merged[key] = values[key]
        else:
            merged.pop(key, None)
    return merged


def _plan(
    session: Session,
    parsed: dict,
    present: dict[str, set[str]],
    fields_by_resource: dict | None,
    report: ImportReport,
) -> list[Planned]:
    """Every object row merged over the object it replaces and checked with the API's schema (a resource
    with its fields: those on the 信息项 sheet, or with no such sheet its own), codes once per sheet;
    then the resources only the 信息项 sheet names, with their new fields."""
    plan: list[Planned] = []
    seen: dict[tuple[str, str], int] = {}
    for title in OBJECT_SHEETS:
        for number, values in parsed[title]:
            current = _current(session, title, values.get("code"))
            values = _merged(current, values, present[title])
            if title == "信息资源":
                if fields_by_resource is not None or current is None:
                    items = sorted(
                        (fields_by_resource or {}).get(values.get("code"), []), key=lambda t: t[:2]
                    )
                    values["fields"] = [f for _, _, f in items]
                values.setdefault("lineage", None)
            loaded = _load(title, number, values, report)
            if loaded is None:
                continue
            key = (title, loaded["code"])
            if key in seen:
                message = f"{loaded['code']!r} is already on row {seen[key]}"
                report.error(title, number, COLUMNS_OF[title][0].header, message)
                continue
            seen[key] = number
            plan.append((title, number, loaded))
    listed = {code for title, code in seen if title == "信息资源"}
    for code, items in sorted((fields_by_resource or {}).items()):
        if code in listed:
            continue
        values = _current(session, "信息资源", code)
        values["fields"] = [f for _, _, f in sorted(items, key=lambda t: t[:2])]
        loaded = _load("信息资源", min(n for _, n, _ in items), values, report, sheet="信息项")
        if loaded is not None:
            plan.append(("信息资源", min(n for _, n, _ in items), loaded))
    return plan


def _load(title: str, number: int, values: dict, report: ImportReport, sheet: str | None = None):
    try:
        return _SCHEMAS[title]().load(values)
    except ValidationError as exc:
        _schema_errors(sheet or title, COLUMNS_OF[sheet or title], number, exc.messages, report)
        return None


# --- saving --------------------------------------------------------------------------------


def _write(
    session: Session,
    plan: list[Planned],
    field_rows: dict[str, list[int]],
    actor: str,
    report: ImportReport,
    progress: Callable[[int], None] | None,
) -> None:
    """Save the plan through the services: organizations and systems, then resources with the ones they
    list as related first; links within a cycle of related resources are added in a second pass."""
    existing = set(session.scalars(select(DataResource.code)))
    others = [p for p in plan if p[0] != "信息资源"]
    ordered = resources.related_first((p for p in plan if p[0] == "信息资源"), existing, lambda p: p[2])
    deferred = []
    saved = set(existing)
    for done, (title, number, values) in enumerate(others + ordered, start=1):
        try:
            if title == "信息资源":
                missing = [r for r in values.get("related") or () if r not in saved]
                if missing:
                    deferred.append((number, values))
                    values = {**values, "related": [r for r in values["related"] if r not in missing]}
            _save(session, title, values, actor, report)
            if title == "信息资源":
                saved.add(values["code"])
        except YimaError as exc:
            _service_error(report, title, COLUMNS_OF[title], number, exc, field_rows.get(values["code"]))
        if progress:
            progress(done)
    for number, values in deferred:
        try:
            _save(session, "信息资源", values, actor, report, recount=False)
        except YimaError as exc:
            _service_error(report, "信息资源", RESOURCE_COLUMNS, number, exc, field_rows.get(values["code"]))


#: sheet → (model, create, update) of the objects on it other than resources
_SERVICES = {
    "单位": (Organization, organizations.create, organizations.update),
    "信息系统": (System, systems.create_system, systems.update_system),
}


def _save(
    session: Session, title: str, values: dict, actor: str, report: ImportReport, recount: bool = True
) -> None:
    """Create the object or replace it (PUT semantics), counting it as created, updated or unchanged."""
    kind, code = _KIND[title], values["code"]
    if title == "信息资源":
        current = session.scalar(select(DataResource).where(DataResource.code == code))
        if current is None:
            resources.create_resource(session, values, actor=actor, commit=False)
            report.count("created", kind)
            return
        before_fields = [f.name for f in current.fields]
        before = canonical(jsonable(current.to_dict()))
        saved = resources.update_resource(session, code, values, actor=actor, replace=True, commit=False)
        after_fields = {f["name"] for f in values.get("fields") or []}
        removed = [name for name in before_fields if name not in after_fields]
        if removed:
            report.deleted_fields[code] = removed
        if recount:
            report.count("unchanged" if canonical(jsonable(saved.to_dict())) == before else "updated", kind)
        return
    model, create, update = _SERVICES[title]
    current = session.scalar(select(model).where(model.code == code))
    if current is None:
        create(session, values, actor=actor, commit=False)
        report.count("created", kind)
        return
    before = current.to_dict()
    after = update(session, code, values, actor=actor, replace=True, commit=False).to_dict()
    report.count("unchanged" if after == before else "updated", kind)


_FIELD_PROBLEM_COLUMNS = (
    ("code_scheme", "代码方案"),
    ("pattern", "格式"),
    ("type", "数据类型"),
    ("min_length", "最小长度"),
    ("max_length", "最大长度"),
    ("minimum", "最小值"),
    ("maximum", "最大值"),
    ("enum", "枚举值"),
)


def _service_error(
    report: ImportReport,
    title: str,
    columns,
    number: int,
    exc: YimaError,
    field_rows: list[int] | None = None,
) -> None:
    """A service's refusal as row errors; problems of ``fields[i]`` point at that row of the 信息项 sheet."""
    if isinstance(exc.errors, dict) and exc.errors:
        for key, msgs in exc.errors.items():
            items = msgs if isinstance(msgs, list) else [msgs]
            match = re.fullmatch(r"fields\[(\d+)\]", key)
            if match and field_rows and int(match.group(1)) < len(field_rows):
                row = field_rows[int(match.group(1))]
                for item in items:
                    column = next(
                        (h for k, h in _FIELD_PROBLEM_COLUMNS if str(item).startswith(k)), "信息项名称"
                    )
                    report.error("信息项", row, column, str(item))
                continue
            report.error(title, number, header_of(columns, key), "; ".join(map(str, items)))
    else:
        column = columns[0].header if isinstance(exc, Conflict) else ""
        report.error(title, number, column, exc.message)
