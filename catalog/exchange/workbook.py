"""The catalog as files in the exchange layout: an XLSX workbook, or four CSV files in a zip or a folder (both ways).

``export_xlsx`` / ``export_csv`` write what ``read_file`` reads back; ``catalog.exchange.importer``
turns what was read into saved objects. The columns and cell conversion are in ``layout``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.exchange.layout import SHEETS, get_path, to_cell
from catalog.models import DataResource, Organization, System
from registry.errors import Invalid


class Tables(dict):
    """What was read: sheet title → [(spreadsheet row number, {header: cell})]. A title that is absent
    is a table the file does not have (the import leaves that part of the catalog alone); ``ignored``
    names the sheets or files that are not catalog tables, ``sources`` where each table came from."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ignored: list[str] = []
        self.sources: dict[str, str] = {}


# --- writing -----------------------------------------------------------------------------


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
        yield [to_cell(c, get_path(obj, c.key), text_only=text_only) for c in columns]


def export_xlsx(session: Session, path: Path) -> dict:
    """Write the catalog as an XLSX workbook (one sheet per table, Chinese headers); returns row counts."""
    # heavy imports: only when a workbook is written
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


# --- reading -----------------------------------------------------------------------------

#: per table, the headers that identify it when a sheet or file is not named after it (with a
#: majority of its other headers being that table's columns)
_SIGNATURES = {
    "单位": {"单位代码"},
    "信息系统": {"系统代码"},
    "信息资源": {"信息资源代码"},
    "信息项": {"信息资源代码", "信息项名称"},
}
#: the names a sheet or CSV file may have, per table (the CSV name, the sheet title, and both as stems)
_NAMES = {
    title: {filename.lower(), f"{title}.csv", filename[:-4].lower(), title} for title, filename, _ in SHEETS
}

ACCEPTED = (
    "an XLSX workbook with the sheets 信息资源, 信息项, 信息系统 and 单位 (any of them; as "
    "`yima catalog export --format xlsx` writes it), a .zip or a folder of the CSV files resources.csv, "
    "fields.csv, systems.csv and organizations.csv (UTF-8 or GB18030), or one of those CSV files alone; "
    "a sheet or file with another name is recognised by its header row (信息资源代码 for resources, "
    "信息资源代码 and 信息项名称 for fields, 系统代码 for systems, 单位代码 for organizations, the other "
    "headers mostly that table's). A table that is left out leaves that part of the catalog as it is"
)


def table_of(name: str, header) -> str | None:
    """The table a sheet or file is: by its name, else by its header row; None if it is neither."""
    key = Path(name).name.strip().lower()
    for title, names in _NAMES.items():
        if key in names:
            return title
    headers = {str(h).strip() for h in header or () if h is not None and str(h).strip()}
    columns = {t: {c.header for c in cols} for t, _, cols in SHEETS}
    score = {t: len(columns[t] & headers) for t, sig in _SIGNATURES.items() if sig <= headers}
    score = {t: n for t, n in score.items() if 2 * n >= len(headers)}
    best = sorted(score.items(), key=lambda kv: -kv[1])
    if not best or (len(best) > 1 and best[0][1] == best[1][1]):
        return None  # none, or a header two tables share (信息资源代码 alone): ambiguous
    return best[0][0]


def _add(tables: Tables, title: str | None, name: str, rows) -> None:
    if title is None:
        tables.ignored.append(name)
        return
    if title in tables:
        raise Invalid(f"both {tables.sources[title]} and {name} are the {title} table; keep one of them")
    tables[title] = _records(rows)
    tables.sources[title] = name


def _read_xlsx(path: Path) -> Tables:
    from openpyxl import load_workbook  # a heavy import: only when a workbook is read

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise Invalid(f"{path.name} is not a readable XLSX workbook: {exc}") from exc
    out = Tables()
    try:
        for sheet in wb.worksheets:
            header = next(sheet.iter_rows(values_only=True, max_row=1), None)
            _add(
                out, table_of(sheet.title, header), f"sheet {sheet.title}", sheet.iter_rows(values_only=True)
            )
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


def _decode(name: str, data: bytes) -> str:
    """CSV text as Excel and LibreOffice save it: UTF-8 with or without BOM, else GB18030 (Chinese Windows)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise Invalid(f"{name} is neither UTF-8 nor GB18030 text") from exc


def _read_csv_files(files: dict[str, bytes]) -> Tables:
    out = Tables()
    for name in sorted(files):
        text = _decode(name, files[name])
        if "\x00" in text:
            raise Invalid(f"{name} is not a CSV text file (it contains NUL bytes)")
        rows = [[v if v != "" else None for v in row] for row in csv.reader(io.StringIO(text, newline=""))]
        _add(out, table_of(name, rows[0] if rows else None), name, rows)
    return out


def _files_of(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.suffix.lower() == ".csv"}
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return {Path(n).name: zf.read(n) for n in zf.namelist() if n.lower().endswith(".csv")}
        except zipfile.BadZipFile as exc:
            raise Invalid(f"{path.name} is not a zip file") from exc
    return {path.name: path.read_bytes()}


def read_file(path: Path) -> Tables:
    """The tables of an XLSX workbook, a zip or folder of CSV files, or one CSV file (see ``ACCEPTED``).

    Raises Invalid for a file that cannot be read or that holds no catalog table."""
    path = Path(path)
    if not path.exists():
        raise Invalid(f"{path} does not exist")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in (".zip", ".csv"):
        tables = _read_csv_files(_files_of(path))
    elif suffix in (".xlsx", ".xlsm"):
        tables = _read_xlsx(path)
    else:
        raise Invalid(f"{path.name} is not a file the catalog import takes. It takes {ACCEPTED}.")
    if not tables:
        found = f" (found {', '.join(tables.ignored)})" if tables.ignored else ""
        raise Invalid(f"{path.name} holds no catalog table{found}. The import takes {ACCEPTED}.")
    return tables
