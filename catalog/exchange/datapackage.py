"""The Data Package export: the catalog as a Frictionless Data Package whose Table Schemas mirror the fields
(``yima catalog export --format datapackage``), plus a header-only CSV per resource."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.models import DataResource


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
