"""The bureau's demo catalog for ``yima demo``: its organizations, systems and data resources, loaded from
the CSV files in ``catalog/demo_data/`` (the exchange layout ``yima catalog export --format csv`` writes)
through the catalog import, so the demo goes through the same checks and audit as any import."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from catalog.exchange import importer, workbook
from catalog.exchange.layout import SHEETS
from catalog.models import DataResource, Organization, System
from registry.db import Database
from registry.errors import Invalid

DATA = Path(__file__).resolve().parent / "demo_data"
#: sheet → the header of the code a row is about (a field row: its resource's code)
_CODE_HEADER = {
    title: next(c.header for c in cols if c.key in ("code", "resource")) for title, _, cols in SHEETS
}


def _missing_only(tables: workbook.Tables, sheets: tuple[str, ...], existing: dict[str, set[str]]):
    """The rows of ``sheets`` whose code is not there yet (fields go with their resource): the demo only adds."""
    return {
        title: [
            (n, row)
            for n, row in tables.get(title, [])
            if row.get(_CODE_HEADER[title]) not in existing[title]
        ]
        for title in sheets
    }


def _load(database: Database, actor: str, sheets: tuple[str, ...]) -> int:
    """Import the missing rows of ``sheets`` in one transaction; returns how many objects were created.

    Raises Invalid (nothing written) when the database refuses one of them."""
    tables = workbook.read_file(DATA)
    with database.writer() as s:
        existing = {
            "单位": set(s.scalars(select(Organization.code))),
            "信息系统": set(s.scalars(select(System.code))),
            "信息资源": set(s.scalars(select(DataResource.code))),
        }
        existing["信息项"] = existing["信息资源"]
        report = importer.import_catalog(s, DATA, actor=actor, tables=_missing_only(tables, sheets, existing))
    if report.errors:  # e.g. a namespace or code the database already uses for something else
        first = report.errors[0]
        raise Invalid(
            f"the demo catalog does not import ({len(report.errors)} problem(s)); the first: "
            f"{first['sheet']} row {first['row']}: {first['message']}"
        )
    return sum(report.created.values())


def load_organizations(database: Database, actor: str) -> int:
    """Create the demo organizations that are missing; returns how many were created."""
    return _load(database, actor, ("单位",))


def load_catalog(database: Database, actor: str) -> int:
    """Create the demo systems and resources (with fields) that are missing (idempotent); returns how many."""
    return _load(database, actor, ("信息系统", "信息资源", "信息项"))
