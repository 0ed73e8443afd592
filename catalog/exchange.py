"""Catalog exchange: XLSX / CSV a steward edits in Excel (in and out), DCAT 3 JSON-LD and Frictionless Data Package.

Spreadsheet layout (Chinese headers, one row per object): sheets 信息资源 (resources), 信息项 (fields:
one row per field, by 信息资源代码 and 序号), 信息系统 (systems) and 单位 (organizations, so that an
export imports into an empty database). CSV is the same four tables as ``resources.csv``,
``fields.csv``, ``systems.csv`` and ``organizations.csv`` (UTF-8 with BOM) in a zip file or a folder.
Text cells starting with ``= + - @``, a tab, a carriage return or ``'`` are written with a leading
``'`` so a spreadsheet never runs them as formulas; import removes that one ``'`` again, so a round
trip is exact. Import is all or nothing: every bad row is reported (sheet, row, column, reason) and
nothing is written unless every row is good.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import categories, organizations, service
from catalog.models import (
    ORGANIZATION_KINDS,
    RESOURCE_STATUSES,
    SECURITY_GRADES,
    SHARE_TYPES,
    UPDATE_CYCLES,
    DataResource,
    Organization,
    System,
)
from catalog.schemas import FieldSchema, OrganizationSchema, ResourceSchema, SystemSchema
from registry.errors import Conflict, Invalid, YimaError
from registry.jsonutil import canonical, jsonable

# --- cell escaping ---------------------------------------------------------------------------

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "'")


def escape_cell(value):
    """A text cell as written: a leading ``'`` before anything a spreadsheet could run as a formula."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def unescape_cell(value):
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


# --- columns ---------------------------------------------------------------------------------

_YES = {"是", "true", "yes", "y", "1", "t"}
_NO = {"否", "false", "no", "n", "0", "f"}


@dataclass(frozen=True)
class Column:
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


def _get(values: dict, key: str):
    for part in key.split("."):
        if not isinstance(values, dict):
            return None
        values = values.get(part)
    return values


def _put(values: dict, key: str, value) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        values = values.setdefault(part, {})
    values[parts[-1]] = value


def _to_cell(column: Column, value, *, text_only: bool):
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


_INT = re.compile(r"^[+-]?\d+$")
_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _from_cell(column: Column, raw):
    """A cell as a value; raises ValueError with a reason a steward understands."""
    if isinstance(raw, str):
        raw = unescape_cell(raw)
        if column.kind not in ("text",):
            raw = raw.strip()
        if raw == "":
            raw = None
    if raw is None:
        return [] if column.kind == "list" else None
    if column.kind == "bool":
        text = str(raw).strip().lower()
        if isinstance(raw, bool):
            return raw
        if text in _YES:
            return True
        if text in _NO:
            return False
        raise ValueError("是 or 否")
    if column.kind == "enum":
        if raw in column.labels:
            return raw
        by_label = {label: value for value, label in column.labels.items()}
        if raw in by_label:
            return by_label[raw]
        raise ValueError(
            "one of " + ", ".join(f"{label} ({value})" for value, label in column.labels.items())
        )
    if column.kind == "list":
        return [part.strip() for part in str(raw).split(LIST_SEPARATOR) if part.strip()]
    if column.kind == "json":
        try:
            return json.loads(raw) if isinstance(raw, str) else raw
        except ValueError as exc:
            raise ValueError('a JSON list, e.g. ["甲", "乙"]') from exc
    if column.kind == "date":
        if isinstance(raw, dt.datetime):
            return raw.date().isoformat()
        if isinstance(raw, dt.date):
            return raw.isoformat()
        try:
            return dt.date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError as exc:
            raise ValueError("a date as YYYY-MM-DD") from exc
    if column.kind == "int":
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INT.match(raw):
            return int(raw)
        raise ValueError("a whole number")
    if column.kind == "num":
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return int(raw) if isinstance(raw, float) and raw.is_integer() else raw
        text = str(raw)
        if _INT.match(text):
            return int(text)
        if _NUM.match(text):
            value = float(text)
            return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
        return text  # a date bound for a date field
    return raw if isinstance(raw, str) else str(raw)


# --- export ----------------------------------------------------------------------------------


def catalog_tables(session: Session) -> dict[str, list[dict]]:
    """The whole catalog as plain dicts per table (organizations, systems, resources, fields), in code order."""
    orgs = [o.to_dict() for o in session.scalars(select(Organization).order_by(Organization.code))]
    systems = [s.to_dict() for s in session.scalars(select(System).order_by(System.code))]
    resources = [r.to_dict() for r in session.scalars(select(DataResource).order_by(DataResource.code))]
    fields = [
        {"resource": r["code"], "position": i + 1, **f} for r in resources for i, f in enumerate(r["fields"])
    ]
    return {"单位": orgs, "信息系统": systems, "信息资源": resources, "信息项": fields}


def _rows(columns, objects, *, text_only: bool):
    yield [c.header for c in columns]
    for obj in objects:
        yield [_to_cell(c, _get(obj, c.key), text_only=text_only) for c in columns]


def export_xlsx(session: Session, path: Path) -> dict:
    """Write the catalog as an XLSX workbook (one sheet per table, Chinese headers); returns row counts."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    tables = catalog_tables(session)
    wb = Workbook()
    wb.remove(wb.active)
    order = ("信息资源", "信息项", "信息系统", "单位")
    columns = {title: cols for title, _, cols in SHEETS}
    for title in order:
        ws = wb.create_sheet(title)
        for r, row in enumerate(_rows(columns[title], tables[title], text_only=False), start=1):
            for c, value in enumerate(row, start=1):
                cell = ws.cell(row=r, column=c, value=value)
                if r == 1:
                    cell.font = Font(bold=True)
                elif isinstance(value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
                elif isinstance(value, str):
                    cell.data_type = "s"
        ws.freeze_panes = "A2"
        for c, col in enumerate(columns[title], start=1):
            ws.column_dimensions[get_column_letter(c)].width = max(10, min(40, len(col.header) * 2 + 4))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return {title: len(tables[title]) for title in order}


def export_csv(session: Session, path: Path) -> dict:
    """Write the catalog as four CSV files (UTF-8 with BOM) in a zip (PATH ends in .zip) or a folder."""
    tables = catalog_tables(session)
    files = {}
    for title, filename, columns in SHEETS:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        for row in _rows(columns, tables[title], text_only=True):
            writer.writerow(["" if v is None else v for v in row])
        files[filename] = ("\ufeff" + buf.getvalue()).encode("utf-8")
    path = Path(path)
    if path.suffix.lower() == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
    return {title: len(tables[title]) for title, _, _ in SHEETS}


# --- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    created: dict = field(default_factory=dict)
    updated: dict = field(default_factory=dict)
    unchanged: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    dry_run: bool = False

    def count(self, bucket: str, kind: str) -> None:
        target = getattr(self, bucket)
        target[kind] = target.get(kind, 0) + 1

    def to_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


def _read_xlsx(path: Path) -> dict[str, list[tuple[int, dict]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise Invalid(f"{path.name} is not a readable XLSX workbook: {exc}") from exc
    out = {}
    try:
        for title, _, _ in SHEETS:
            if title not in wb.sheetnames:
                continue
            rows = wb[title].iter_rows(values_only=True)
            out[title] = _records(rows)
    finally:
        wb.close()
    return out


def _records(rows) -> list[tuple[int, dict]]:
    rows = iter(rows)
    header = next(rows, None)
    if header is None:
        return []
    header = [str(h).strip() if h is not None else "" for h in header]
    records = []
    for number, row in enumerate(rows, start=2):
        if row is None or all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        records.append((number, {h: v for h, v in zip(header, row, strict=False) if h}))
    return records


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def _read_csv_files(files: dict[str, bytes]) -> dict[str, list[tuple[int, dict]]]:
    out = {}
    for title, filename, _ in SHEETS:
        data = files.get(filename) or files.get(f"{title}.csv")
        if data is None:
            continue
        reader = csv.reader(io.StringIO(_decode(data), newline=""))
        out[title] = _records([[v if v != "" else None for v in row] for row in reader])
    return out


def read_file(path: Path) -> dict[str, list[tuple[int, dict]]]:
    """The tables of an XLSX workbook, a zip of CSV files or a folder of them. Raises Invalid."""
    path = Path(path)
    if not path.exists():
        raise Invalid(f"{path} does not exist")
    if path.is_dir():
        files = {p.name: p.read_bytes() for p in path.glob("*.csv")}
        tables = _read_csv_files(files)
    elif path.suffix.lower() in (".xlsx", ".xlsm"):
        tables = _read_xlsx(path)
    elif path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                files = {Path(n).name: zf.read(n) for n in zf.namelist() if n.lower().endswith(".csv")}
        except zipfile.BadZipFile as exc:
            raise Invalid(f"{path.name} is not a zip file") from exc
        tables = _read_csv_files(files)
    elif path.suffix.lower() == ".csv":
        tables = _read_csv_files(
            {"resources.csv" if "field" not in path.name else "fields.csv": path.read_bytes()}
        )
    else:
        raise Invalid(f"{path.name}: import takes .xlsx, a .zip of CSV files, or a folder of CSV files")
    if "信息资源" not in tables and "信息系统" not in tables and "单位" not in tables:
        raise Invalid(
            f"{path.name} has none of the sheets/files " + ", ".join(f"{t} ({f})" for t, f, _ in SHEETS)
        )
    return tables


def _parse(title: str, columns, records, report: ImportReport) -> list[tuple[int, dict]]:
    by_header = {c.header: c for c in columns}
    out = []
    for number, raw in records:
        values: dict = {}
        for header, cell in raw.items():
            column = by_header.get(header)
            if column is None:
                continue
            try:
                value = _from_cell(column, cell)
            except ValueError as exc:
                report.errors.append({"sheet": title, "row": number, "column": header, "message": str(exc)})
                continue
            if value is not None or column.kind == "list":
                _put(values, column.key, value)
        out.append((number, values))
    unknown = sorted({h for _, raw in records for h in raw} - set(by_header))
    if unknown:
        report.errors.append(
            {"sheet": title, "row": 1, "column": ", ".join(unknown), "message": "unknown column(s)"}
        )
    return out


def _header_of(columns, key: str) -> str:
    key = key.split("[")[0]
    for c in columns:
        if c.key == key or c.key.split(".")[0] == key:
            return c.header
    return key


def _schema_errors(title, columns, number, exc_messages, report) -> None:
    def walk(prefix, msgs):
        if isinstance(msgs, dict):
            for k, v in msgs.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            text = "; ".join(map(str, msgs)) if isinstance(msgs, list) else str(msgs)
            report.errors.append(
                {"sheet": title, "row": number, "column": _header_of(columns, prefix), "message": text}
            )

    walk("", exc_messages)


def import_catalog(
    session: Session,
    path: Path,
    *,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    tables: dict | None = None,
) -> ImportReport:
    """Import organizations, systems and resources (with fields) from a file, all or nothing.

    Objects whose code is new are created, existing ones replaced when they differ (each an audited
    change with a revision), identical ones left alone. Every bad row is reported in ``errors``
    (sheet, row, column, message) and then nothing is written; ``dry_run`` reports what would change
    and writes nothing either way. ``session`` must be a writer session.
    """
    report = ImportReport(dry_run=dry_run)
    tables = tables if tables is not None else read_file(path)
    parsed = {title: _parse(title, cols, tables.get(title, []), report) for title, _, cols in SHEETS}

    # fields: validated row by row, then grouped under their resource
    fields_by_resource: dict[str, list[tuple[int, int, dict]]] = {}
    for number, values in parsed["信息项"]:
        code = values.pop("resource", None)
        position = values.pop("position", None)
        if not code:
            report.errors.append(
                {"sheet": "信息项", "row": number, "column": "信息资源代码", "message": "required"}
            )
            continue
        try:
            loaded = FieldSchema().load(values)
        except ValidationError as exc:
            _schema_errors("信息项", FIELD_COLUMNS, number, exc.messages, report)
            continue
        fields_by_resource.setdefault(code, []).append((position or 10**6, number, loaded))
    resource_codes = {v.get("code") for _, v in parsed["信息资源"]}
    for code, items in fields_by_resource.items():
        if code not in resource_codes:
            for _, number, _ in items:
                report.errors.append(
                    {
                        "sheet": "信息项",
                        "row": number,
                        "column": "信息资源代码",
                        "message": f"no resource {code!r} on the 信息资源 sheet",
                    }
                )

    field_rows = {
        code: [n for _, n, _ in sorted(items, key=lambda t: t[:2])]
        for code, items in fields_by_resource.items()
    }
    plan: list[tuple[str, int, dict]] = []
    schemas = {"单位": OrganizationSchema, "信息系统": SystemSchema, "信息资源": ResourceSchema}
    columns_of = {title: cols for title, _, cols in SHEETS}
    seen: dict[tuple[str, str], int] = {}
    for title in ("单位", "信息系统", "信息资源"):
        for number, values in parsed[title]:
            if title == "信息资源":
                values["fields"] = [
                    f
                    for _, _, f in sorted(fields_by_resource.get(values.get("code"), []), key=lambda t: t[:2])
                ]
                values.setdefault("lineage", None)
            try:
                loaded = schemas[title]().load(values)
            except ValidationError as exc:
                _schema_errors(title, columns_of[title], number, exc.messages, report)
                continue
            key = (title, loaded["code"])
            if key in seen:
                report.errors.append(
                    {
                        "sheet": title,
                        "row": number,
                        "column": columns_of[title][0].header,
                        "message": f"{loaded['code']!r} is already on row {seen[key]}",
                    }
                )
                continue
            seen[key] = number
            plan.append((title, number, loaded))
    # the rows that parsed are written even when others did not, so that their own problems (unknown
    # references, …) are reported too; any error rolls the whole transaction back below

    # write, in one transaction; related resources are created in an order that satisfies them
    resources = [p for p in plan if p[0] == "信息资源"]
    others = [p for p in plan if p[0] != "信息资源"]
    existing = set(session.scalars(select(DataResource.code)))
    ordered, placed, pending = [], set(existing), list(resources)
    while pending:
        ready = [p for p in pending if set(p[2].get("related") or ()) <= placed | {p[2]["code"]}]
        if not ready:  # a cycle of related resources: create the first without its links, fix it afterwards
            ready = [pending[0]]
        for p in ready:
            ordered.append(p)
            placed.add(p[2]["code"])
        pending = [p for p in pending if p[2]["code"] not in placed]
    deferred = []
    done = 0
    saved = set(existing)
    for title, number, values in others + ordered:
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
            _service_error(report, title, columns_of[title], number, exc, field_rows.get(values["code"]))
        done += 1
        if progress:
            progress(done)
    for number, values in deferred:
        try:
            _save(session, "信息资源", values, actor, report, recount=False)
        except YimaError as exc:
            _service_error(report, "信息资源", RESOURCE_COLUMNS, number, exc, field_rows.get(values["code"]))
    if report.errors or dry_run:
        session.rollback()
        if report.errors:
            report.created, report.updated, report.unchanged = {}, {}, {}
        return report
    session.commit()
    return report


_KIND = {"单位": "organizations", "信息系统": "systems", "信息资源": "resources"}


def _save(
    session: Session, title: str, values: dict, actor: str, report: ImportReport, recount: bool = True
) -> None:
    kind = _KIND[title]
    code = values["code"]
    if title == "单位":
        current = session.scalar(select(Organization).where(Organization.code == code))
        if current is None:
            organizations.create(session, values, actor=actor, commit=False)
            report.count("created", kind)
        else:
            before = current.to_dict()
            after = organizations.update(
                session, code, values, actor=actor, replace=True, commit=False
            ).to_dict()
            report.count("unchanged" if after == before else "updated", kind)
        return
    if title == "信息系统":
        current = session.scalar(select(System).where(System.code == code))
        if current is None:
            service.create_system(session, values, actor=actor, commit=False)
            report.count("created", kind)
        else:
            before = current.to_dict()
            after = service.update_system(
                session, code, values, actor=actor, replace=True, commit=False
            ).to_dict()
            report.count("unchanged" if after == before else "updated", kind)
        return
    current = session.scalar(select(DataResource).where(DataResource.code == code))
    if current is None:
        service.create_resource(session, values, actor=actor, commit=False)
        report.count("created", kind)
        return
    before = canonical(jsonable(current.to_dict()))
    after = canonical(
        jsonable(
            service.update_resource(session, code, values, actor=actor, replace=True, commit=False).to_dict()
        )
    )
    if recount:
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
                    report.errors.append(
                        {"sheet": "信息项", "row": row, "column": column, "message": str(item)}
                    )
                continue
            report.errors.append(
                {
                    "sheet": title,
                    "row": number,
                    "column": _header_of(columns, key),
                    "message": "; ".join(map(str, items)),
                }
            )
    else:
        column = columns[0].header if isinstance(exc, Conflict) else ""
        report.errors.append({"sheet": title, "row": number, "column": column, "message": exc.message})


# --- DCAT 3 JSON-LD ----------------------------------------------------------------------------

DCAT_CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FREQUENCIES = {
    "realtime": "UPDATE_CONT",
    "daily": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "quarterly": "QUARTERLY",
    "yearly": "ANNUAL",
}
_ACCESS = "http://publications.europa.eu/resource/authority/access-right/"
ACCESS_RIGHTS = {"unconditional": "PUBLIC", "conditional": "RESTRICTED", "none": "NON_PUBLIC"}


def _zh(text: str | None) -> dict:
    return {"@value": text or "", "@language": "zh"}


def _agent(base: str, org: Organization | None, code: str) -> dict:
    return {
        "@id": f"{base}/api/v1/organizations/{code}",
        "@type": "foaf:Agent",
        "foaf:name": _zh(org.name if org else code),
        "dct:identifier": code,
    }


def dcat_jsonld(session: Session, base_url: str = "http://localhost") -> dict:
    """The published resources as a DCAT 3 catalog in JSON-LD (context inline, so no network is needed).

    DCAT-AP mandatory properties: the catalog's title, description and publisher (the bureau); each
    dataset's title and description; each distribution's accessURL. Also identifier, keywords, theme
    (category), issued, accrualPeriodicity and accessRights (EU vocabularies), contact point, relations.
    """
    base = base_url.rstrip("/")
    orgs = {o.code: o for o in session.scalars(select(Organization))}
    publisher = next((o for o in sorted(orgs.values(), key=lambda o: o.code) if o.kind == "bureau"), None)
    datasets = []
    query = select(DataResource).where(DataResource.status == "published").order_by(DataResource.code)
    for r in session.scalars(query):
        url = f"{base}/api/v1/resources/{r.code}"
        ds = {
            "@id": url,
            "@type": "dcat:Dataset",
            "dct:identifier": r.code,
            "dct:title": _zh(r.name),
            "dct:description": _zh(r.summary),
            "dct:publisher": _agent(base, orgs.get(r.provider), r.provider),
            "dcat:theme": {
                "@id": f"{base}/api/v1/catalog/categories#{r.category}",
                "@type": "skos:Concept",
                "skos:prefLabel": _zh(categories.name(r.category)),
                "skos:notation": r.category,
            },
            "dct:accessRights": {"@id": _ACCESS + ACCESS_RIGHTS.get(r.share_type, "RESTRICTED")},
            "dcat:distribution": [
                {
                    "@id": f"{url}#distribution",
                    "@type": "dcat:Distribution",
                    "dcat:accessURL": {"@id": url},
                    "dct:title": _zh(f"{r.name}（{r.share_method or r.format or '接口'}）"),
                    "dcat:mediaType": {
                        "@id": "https://www.iana.org/assignments/media-types/application/json"
                    },
                    "dct:format": r.format or "",
                }
            ],
        }
        if r.tags:
            ds["dcat:keyword"] = [_zh(t) for t in r.tags]
        if r.published_on:
            ds["dct:issued"] = {"@value": r.published_on.isoformat(), "@type": "xsd:date"}
        if r.update_cycle in FREQUENCIES:
            ds["dct:accrualPeriodicity"] = {"@id": _FREQUENCY + FREQUENCIES[r.update_cycle]}
        if r.steward:
            ds["dcat:contactPoint"] = {"@type": "vcard:Kind", "vcard:fn": r.steward}
        if r.related:
            ds["dct:relation"] = [{"@id": f"{base}/api/v1/resources/{c}"} for c in r.related]
        if r.lineage:
            ds["dct:source"] = {"@id": f"urn:openlineage:{r.lineage_namespace}:{r.lineage_name}"}
        datasets.append(ds)
    pub_code = publisher.code if publisher else "yima"
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/api/v1/catalog/dcat",
        "@type": "dcat:Catalog",
        "dct:title": [
            _zh(f"{publisher.name if publisher else 'Yima'}数据资源目录"),
            {"@value": "Data resource catalog", "@language": "en"},
        ],
        "dct:description": _zh("政府工程数据资源目录：信息系统、数据资源及其信息项、共享与开放属性。"),
        "dct:publisher": _agent(base, publisher, pub_code),
        "dcat:dataset": datasets,
    }


def dumps_jsonld(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


# --- Frictionless Data Package -----------------------------------------------------------------


def package_name(code: str) -> str:
    """A Data Package resource name (lower case letters, digits, ``-._``) for a resource code."""
    return re.sub(r"[^a-z0-9._-]+", "-", code.lower()).strip("-") or "resource"


def table_schema(fields: list[dict]) -> dict:
    """Frictionless Table Schema of a resource's fields (code schemes kept as ``yima:codeScheme``)."""
    out = []
    for f in fields:
        c = f.get("constraints") or {}
        constraints = {}
        if f.get("required"):
            constraints["required"] = True
        if f.get("unique"):
            constraints["unique"] = True
        for ours, theirs in (
            ("min_length", "minLength"),
            ("max_length", "maxLength"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("pattern", "pattern"),
            ("enum", "enum"),
        ):
            if c.get(ours) is not None:
                constraints[theirs] = c[ours]
        entry = {"name": f["name"], "type": f.get("type") or "string"}
        if f.get("title"):
            entry["title"] = f["title"]
        if f.get("description"):
            entry["description"] = f["description"]
        if constraints:
            entry["constraints"] = constraints
        if f.get("code_scheme"):
            entry["yima:codeScheme"] = f["code_scheme"]
        out.append(entry)
    return {"fields": out}


def datapackage(session: Session) -> tuple[dict, dict[str, bytes]]:
    """The catalog as a Data Package descriptor plus one header-only CSV per resource (path → bytes)."""
    resources, files = [], {}
    used = set()
    for r in session.scalars(select(DataResource).order_by(DataResource.code)):
        name = package_name(r.code)
        while name in used:
            name += "-x"
        used.add(name)
        fields = [f.to_dict() for f in r.fields]
        path = f"data/{name}.csv"
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([f["name"] for f in fields])
        files[path] = buf.getvalue().encode("utf-8") if fields else b""
        entry = {
            "name": name,
            "title": r.name,
            "description": r.summary,
            "path": path,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": table_schema(fields),
            "yima:code": r.code,
            "yima:system": r.system,
            "yima:securityGrade": r.security_grade,
            "yima:shareType": r.share_type,
        }
        if not fields:
            entry.pop("path")
            entry["data"] = []
            entry.pop("format")
            entry.pop("mediatype")
            entry.pop("encoding")
        resources.append(entry)
    descriptor = {
        "name": "yima-catalog",
        "title": "数据资源目录",
        "description": "The catalog's data resources and their table schemas (exported by Yima).",
        "resources": resources,
    }
    return descriptor, files


def export_datapackage(session: Session, path: Path) -> dict:
    """Write ``datapackage.json`` and the header CSVs into a folder, or a zip when PATH ends in .zip."""
    descriptor, files = datapackage(session)
    text = json.dumps(descriptor, ensure_ascii=False, indent=2).encode("utf-8")
    path = Path(path)
    if path.suffix.lower() == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("datapackage.json", text)
            for name, data in files.items():
                zf.writestr(name, data)
    else:
        (path / "data").mkdir(parents=True, exist_ok=True)
        (path / "datapackage.json").write_bytes(text)
        for name, data in files.items():
            (path / name).write_bytes(data)
    return {"resources": len(descriptor["resources"])}


def export_dcat(session: Session, path: Path, base_url: str = "http://localhost") -> dict:
    document = dcat_jsonld(session, base_url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(dumps_jsonld(document), encoding="utf-8")
    return {"datasets": len(document["dcat:dataset"])}
