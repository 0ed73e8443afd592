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

#: what was read: sheet title → [(spreadsheet row number, {header: cell})]
Tables = dict[str, list[tuple[int, dict]]]


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


def _read_xlsx(path: Path) -> Tables:
    from openpyxl import load_workbook  # a heavy import: only when a workbook is read

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


def _read_csv_files(files: dict[str, bytes]) -> Tables:
    out = {}
    for title, filename, _ in SHEETS:
        data = files.get(filename) or files.get(f"{title}.csv")
        if data is None:
            continue
        reader = csv.reader(io.StringIO(_decode(data), newline=""))
        out[title] = _records([[v if v != "" else None for v in row] for row in reader])
    return out


def read_file(path: Path) -> Tables:
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
