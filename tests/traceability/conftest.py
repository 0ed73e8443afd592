"""Fixtures for traceability: the demo organizations and the bureau's published szgws-me codes, and a product."""

from __future__ import annotations

import pytest

from catalog.demo import load_organizations
from registry.db import Database
from standards.demo import BUREAU_RELEASE, DATA
from standards.importer import writer as standards_service
from tests.traceability.trace_helpers import CODE, GTIN
from traceability import products


@pytest.fixture
def db(database_url):
    """A Database on the empty migrated database (SQLite and PostgreSQL). The services need no Flask app,
    so these tests do without one (building the app costs seconds per test on this shared machine)."""
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def trace_db(db):
    """The Database with the demo organizations and szgws-me release 2025-01 published."""
    load_organizations(db, "test")
    with db.writer() as s:
        standards_service.import_files(
            s, "szgws-me", BUREAU_RELEASE, [DATA / "szgws-me.csv"], actor="test", publish=True
        )
    return db


@pytest.fixture
def product(trace_db):
    """Rebar (GTIN 09521234543213) carrying 40-10.10.20, registered by the bureau's steward."""
    with trace_db.writer() as s:
        products.register(
            s,
            GTIN,
            CODE,
            "HRB400E 抗震钢筋 Φ25",
            manufacturer="示例钢铁",
            actor="steward-1",
            organization="SZGWS",
        )
    return GTIN
